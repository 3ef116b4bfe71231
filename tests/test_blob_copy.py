"""`mediaplex blobs copy`: a directory's blobs (and this host's renditions) into the object store,
resumable, checked by hash."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from core.jetstream import connect
from core.ports import RENDITION_NAMES, rendition_dir, rendition_name
from mediaplex.blobcopy import copy_blobs, copy_renditions
from store.blobs import FileBlobStore
from store.derivedfiles import ObjectDerivedFiles
from store.objectblobs import BucketSettings, ObjectBlobStore
from tests.cluster import MEDIAPLEX


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def filled(root: Path, count: int) -> tuple[FileBlobStore, list[bytes]]:
    source = FileBlobStore(root)
    datas = [f"blob {i} ".encode() * (i * 40_000 + 1) for i in range(count)]
    for data in datas:
        assert await source.commit(await source.receive(one(data), limit=len(data)))
    return source, datas


async def test_a_copy_skips_what_is_there_and_leaves_out_damaged_bytes(nats_url: str, tmp_path: Path) -> None:
    source, datas = await filled(tmp_path / "blobs", 5)
    damaged = hashlib.sha256(datas[4]).hexdigest()
    source.path(damaged).write_bytes(b"bit rot")
    client = await connect([nats_url], name="copy-tests")
    try:
        settings = BucketSettings(bucket=f"copy-{uuid.uuid4().hex[:10]}")
        target = ObjectBlobStore(client.jetstream(), tmp_path / "cache", settings)
        await target.open()
        # As if an earlier copy had got this far.
        first = datas[0]
        assert await target.commit(await target.receive(one(first), limit=len(first)))
        seen: list[tuple[int, int]] = []
        copied = await copy_blobs(source, target, lambda done, total: seen.append((done, total)))
        assert (copied.copied, copied.present, copied.mismatched) == (3, 1, [damaged])
        assert seen == [(n, 5) for n in range(1, 6)]
        elsewhere = ObjectBlobStore(client.jetstream(), tmp_path / "elsewhere", settings)
        for data in datas[:4]:
            assert (await elsewhere.local(hashlib.sha256(data).hexdigest())).read_bytes() == data
        assert not await target.has(damaged)
        again = await copy_blobs(source, target, lambda done, total: None)
        assert (again.copied, again.present) == (0, 4)
    finally:
        await client.close()


def made(renditions: Path, blob: str, version: int, file: str, data: bytes) -> str:
    """A rendition as a processor writes it into the renditions directory; its name among derived files."""
    directory = rendition_dir(renditions, blob, version)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / file).write_bytes(data)
    return rendition_name(blob, version, file)


async def test_renditions_not_in_the_bucket_are_copied_into_it(nats_url: str, tmp_path: Path) -> None:
    renditions = tmp_path / "renditions"
    blob = hashlib.sha256(b"a photo").hexdigest()
    other = hashlib.sha256(b"a video").hexdigest()
    names = [made(renditions, blob, 1, "small.jpg", b"small " * 50_000),
             made(renditions, blob, 1, "thumb.jpg", b"thumb"),
             made(renditions, other, 2, "original.mp4", b"movie " * 300_000)]
    # What is no rendition stays out: a temp file being written, a file under a name no rendition has.
    (rendition_dir(renditions, blob, 1) / ".small.jpg.1a2b.tmp").write_bytes(b"half")
    (rendition_dir(renditions, blob, 1) / "notes.txt").write_bytes(b"mine")
    client = await connect([nats_url], name="copy-tests")
    try:
        settings = BucketSettings(bucket=f"copy-renditions-{uuid.uuid4().hex[:10]}", names=RENDITION_NAMES,
                                  keep_held=True)
        target = ObjectDerivedFiles(ObjectBlobStore(client.jetstream(), tmp_path / "here", settings,
                                                    cache=renditions))
        await target.open()
        # As if an earlier copy had got this far.
        assert await target.keep(names[1], renditions / blob[:2] / names[1])
        seen: list[tuple[int, int]] = []
        copied = await copy_renditions(renditions, target, lambda done, total: seen.append((done, total)))
        assert (copied.copied, copied.present) == (2, 1)
        assert seen == [(n, 3) for n in range(1, 4)]
        assert sorted(name for name, _ in await target.stored()) == sorted(names)
        elsewhere = ObjectDerivedFiles(ObjectBlobStore(client.jetstream(), tmp_path / "there", settings,
                                                       cache=tmp_path / "there-renditions"))
        for name in names:
            fetched = await elsewhere.fetch(name)
            assert fetched is not None
            assert fetched.read_bytes() == (renditions / name[:2] / name).read_bytes()
        again = await copy_renditions(renditions, target, lambda done, total: None)
        assert (again.copied, again.present) == (0, 3)
    finally:
        await client.close()


async def test_the_command_copies_a_directory_into_the_object_store(tmp_path: Path) -> None:
    await filled(tmp_path / "old-blobs", 3)
    blob = hashlib.sha256(b"a photo").hexdigest()
    made(tmp_path / "data" / "renditions", blob, 1, "small.jpg", b"small")

    def copy(source: Path | str, target: Path | str) -> subprocess.CompletedProcess[str]:
        # No --nats: the command starts the embedded broker on --data, as a server there would.
        return subprocess.run([*MEDIAPLEX, "blobs", "copy", "--from", str(source), "--to", str(target),
                               "--data", str(tmp_path / "data")], capture_output=True, text=True, timeout=120)

    result = copy(tmp_path / "old-blobs", "nats://")
    assert result.returncode == 0, result.stderr
    first, renditions = result.stdout.splitlines()
    assert first.startswith("copied 3 blobs, 0 there already, 0 left out")
    assert renditions.startswith("copied 1 renditions, 0 there already")
    again = copy(tmp_path / "old-blobs", "nats://").stdout.splitlines()
    assert again[0].startswith("copied 0 blobs, 3 there already, 0 left out")
    assert again[1].startswith("copied 0 renditions, 1 there already")
    # And back out of the object store, into a directory of its own; the renditions stay in their bucket.
    result = copy("nats://", tmp_path / "new-blobs")
    assert result.stdout.startswith("copied 3 blobs, 0 there already, 0 left out")
    assert "renditions" not in result.stdout
    assert sorted(p.read_bytes() for p in (tmp_path / "new-blobs").glob("??/??/*")) == sorted(
        p.read_bytes() for p in (tmp_path / "old-blobs").glob("??/??/*"))
    same = copy(tmp_path / "old-blobs", tmp_path / "old-blobs")
    assert same.returncode == 2 and "same store" in same.stderr
