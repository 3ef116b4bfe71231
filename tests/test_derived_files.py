"""Renditions and variants shared between hosts through buckets of their own (store/derivedfiles.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.jetstream import connect
from core.ports import RENDITION_NAMES, VARIANT_NAMES, rendition_dir, rendition_name
from store.derivedfiles import ObjectDerivedFiles
from store.objectblobs import CHUNK_BYTES, BucketSettings, ObjectBlobStore

BLOB = "ab" * 32
DIGEST = "cd" * 32


class Hosts:
    """Two hosts' views of one bucket, each with its own renditions directory."""

    def __init__(self, here: ObjectDerivedFiles, there: ObjectDerivedFiles, roots: tuple[Path, Path]) -> None:
        self.here = here
        self.there = there
        self.roots = roots


async def hosts_of(nats_url: str, tmp_path: Path, names: str, cache_bytes: int = 1 << 30) -> AsyncIterator[Hosts]:
    client = await connect([nats_url], name="derived-tests")
    settings = BucketSettings(bucket=f"derived-{uuid.uuid4().hex[:12]}", names=names, cache_bytes=cache_bytes,
                              keep_held=True)
    stores, roots = [], []
    for host in ("here", "there"):
        root = tmp_path / host / "renditions"
        stores.append(ObjectDerivedFiles(ObjectBlobStore(client.jetstream(), tmp_path / host / "local", settings,
                                                         cache=root)))
        roots.append(root)
    await stores[0].open()
    try:
        yield Hosts(stores[0], stores[1], (roots[0], roots[1]))
    finally:
        await client.close()


@pytest.fixture
async def hosts(nats_url: str, tmp_path: Path) -> AsyncIterator[Hosts]:
    async for found in hosts_of(nats_url, tmp_path, RENDITION_NAMES):
        yield found


async def test_a_rendition_kept_on_one_host_is_fetched_into_its_place_on_another(hosts: Hosts) -> None:
    made = rendition_dir(hosts.roots[0], BLOB, 1) / "small.jpg"
    made.parent.mkdir(parents=True)
    data = os.urandom(2 * CHUNK_BYTES + 3)
    made.write_bytes(data)
    name = rendition_name(BLOB, 1, "small.jpg")
    assert await hosts.here.keep(name, made)
    # Kept where it was made, byte for byte.
    assert made.read_bytes() == data
    fetched = await hosts.there.fetch(name)
    assert fetched == rendition_dir(hosts.roots[1], BLOB, 1) / "small.jpg"
    assert fetched.read_bytes() == data
    assert [n for n, _ in await hosts.there.stored()] == [name]


async def test_what_is_kept_first_stays(hosts: Hosts, tmp_path: Path) -> None:
    name = rendition_name(BLOB, 1, "thumb.png")
    assert await hosts.here.keep_bytes(name, b"first")
    assert not await hosts.there.keep_bytes(name, b"second")
    fetched = await ObjectDerivedFiles(ObjectBlobStore(
        hosts.here.store.jetstream, tmp_path / "third", hosts.here.store.settings)).fetch(name)
    assert fetched is not None and fetched.read_bytes() == b"first"


async def test_nothing_kept_is_none_and_a_removed_file_is_gone(hosts: Hosts) -> None:
    name = rendition_name(BLOB, 2, "original.mp4")
    assert await hosts.there.fetch(name) is None
    assert await hosts.here.keep_bytes(name, b"video")
    assert await hosts.there.fetch(name) is not None
    await hosts.here.remove(name)
    assert await hosts.here.stored() == []
    assert not (rendition_dir(hosts.roots[0], BLOB, 2) / "original.mp4").exists()
    # The other host's copy is its own until it asks again; a removal is of a blob no media names.
    assert await hosts.there.keep_bytes(name, b"again")


@pytest.mark.parametrize("name", [
    "../../etc/passwd", BLOB, f"{BLOB}/v1/../../x.jpg", f"{BLOB}/v1/small.exe", f"{BLOB.upper()}/v1/small.jpg",
    f"{BLOB}/{DIGEST}.webp",
])
async def test_a_name_the_bucket_does_not_keep_is_refused(hosts: Hosts, name: str) -> None:
    with pytest.raises(ValueError):
        await hosts.here.keep_bytes(name, b"x")
    with pytest.raises(ValueError):
        await hosts.here.fetch(name)
    with pytest.raises(ValueError):
        await hosts.here.remove(name)


async def test_variants_are_laid_out_as_the_variant_cache_lays_them_out(nats_url: str, tmp_path: Path) -> None:
    async for hosts in hosts_of(nats_url, tmp_path, VARIANT_NAMES):
        name = f"{BLOB}/{DIGEST}.avif"
        assert await hosts.here.keep_bytes(name, b"avif bytes")
        fetched = await hosts.there.fetch(name)
        assert fetched == hosts.roots[1] / BLOB[:2] / BLOB / f"{DIGEST}.avif"
        with pytest.raises(ValueError):
            await hosts.here.fetch(rendition_name(BLOB, 1, "small.jpg"))


async def test_the_local_copies_stay_within_their_bound_and_come_back(nats_url: str, tmp_path: Path) -> None:
    async for hosts in hosts_of(nats_url, tmp_path, RENDITION_NAMES, cache_bytes=3000):
        names = [rendition_name(BLOB, version, "small.jpg") for version in range(1, 6)]
        for name in names:
            assert await hosts.here.keep_bytes(name, os.urandom(1000))
        on_disk = [p for p in hosts.roots[0].rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in on_disk) <= 3000
        # The oldest went first, and comes back from the bucket when asked for.
        assert not (rendition_dir(hosts.roots[0], BLOB, 1) / "small.jpg").exists()
        again = await hosts.here.fetch(names[0])
        assert again is not None and again.stat().st_size == 1000


async def test_bytes_that_do_not_match_their_meta_are_never_served(hosts: Hosts) -> None:
    name = rendition_name(BLOB, 1, "small.jpg")
    assert await hosts.here.keep_bytes(name, b"the real bytes")
    store = hosts.here.store
    bucket = store.settings.bucket
    (info,) = await (await store.jetstream.object_store(bucket)).list()
    # The object's one chunk replaced, as a foreign writer might.
    subject = f"$O.{bucket}.C.{info.nuid}"
    await store.jetstream.publish(subject, b"other bytes", stream=f"OBJ_{bucket}")
    await store.jetstream.purge_stream(f"OBJ_{bucket}", subject=subject, keep=1)
    with pytest.raises(OSError, match="other bytes"):
        await hosts.there.fetch(name)
    assert not (rendition_dir(hosts.roots[1], BLOB, 1) / "small.jpg").exists()
