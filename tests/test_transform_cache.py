"""The variant cache on its own: real libvips renders into a real directory."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import pyvips

from core.jetstream import connect
from core.log import LogUnavailable
from core.ports import VARIANT_NAMES
from gateways.kit.kept import Kept
from gateways.transform.cache import ANSWER_OVERHEAD, Answer, Answers, Key, VariantCache, heavy
from gateways.transform.params import normalize, parse
from store.derivedfiles import ObjectDerivedFiles
from store.objectblobs import BucketSettings, ObjectBlobStore
from tests import images

BLOB = "0f" * 32


def key(query: str, source: str = "v2/original.jpg") -> Key:
    pairs = [tuple(pair.split("=", 1)) for pair in query.split("&")]
    variant = normalize(parse(pairs), source_format="jpg")  # type: ignore[arg-type]
    return Key(blob=BLOB, source=source, variant=variant)


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


async def test_concurrent_gets_render_once_and_later_ones_read_the_file(tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 1600, 1200)
    cache = VariantCache(tmp_path / "variants")
    wanted = key("w=900&fm=webp")
    got = await asyncio.gather(*(cache.get(wanted, source) for _ in range(8)))
    assert cache.renders == 1 and len(set(got)) == 1
    await cache.written()
    assert leftovers(tmp_path / "variants") == [cache.path(wanted)]
    assert cache.path(wanted).read_bytes() == got[0]
    assert pyvips.Image.new_from_buffer(got[0], "").width == 900
    assert await cache.get(wanted, source) == got[0]
    assert cache.renders == 1
    await cache.close()


async def test_a_failed_render_leaves_no_file_and_can_be_tried_again(tmp_path: Path) -> None:
    source = tmp_path / "original.jpg"
    source.write_bytes(b"not an image at all")
    cache = VariantCache(tmp_path / "variants")
    wanted = key("w=100&fm=png")
    results = await asyncio.gather(*(cache.get(wanted, source) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, pyvips.Error) for result in results)
    assert leftovers(tmp_path / "variants") == [] and cache.renders == 0
    images.jpeg(source, 640, 480)
    data = await cache.get(wanted, source)
    assert pyvips.Image.new_from_buffer(data, "").width == 100
    await cache.written()
    assert leftovers(tmp_path / "variants") == [cache.path(wanted)]
    await cache.close()


async def test_a_render_a_waiter_gave_up_on_still_completes(tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 1600, 1200)
    cache = VariantCache(tmp_path / "variants")
    wanted = key("w=1200&fm=avif")
    first = asyncio.ensure_future(cache.get(wanted, source))
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    data = await cache.get(wanted, source)
    assert cache.renders == 1 and pyvips.Image.new_from_buffer(data, "").width == 1200
    await cache.close()


async def test_a_variant_that_cannot_be_written_is_still_answered_and_rendered_again(tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 640, 480)
    # A file where the variants' directory should be: no variant file can be made under it.
    root = tmp_path / "variants"
    root.write_bytes(b"")
    cache = VariantCache(root, memory=0)
    wanted = key("w=120&fm=jpg")
    first = await cache.get(wanted, source)
    await cache.written()
    assert pyvips.Image.new_from_buffer(first, "").width == 120 and not cache.path(wanted).exists()
    # Nothing kept it, in memory or on disk: the next request renders it again, to the same bytes.
    assert await cache.get(wanted, source) == first and cache.renders == 2
    await cache.close()


def test_keys_differ_by_everything_the_bytes_depend_on() -> None:
    base = key("w=100")
    assert key("w=100").digest == base.digest
    assert key("w=101").digest != base.digest
    assert key("w=100", source="v2/small.jpg").digest != base.digest
    assert Key(blob="1f" * 32, source=base.source, variant=base.variant).digest != base.digest
    assert key("w=100&fm=png").digest != base.digest


async def test_recent_variants_are_kept_in_memory_within_a_bound(tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 640, 480)
    # Room for two of these variants (each a few kB and of about the same size), not three.
    probe = VariantCache(tmp_path / "probe")
    size = len(await probe.get(key("w=64&fm=png"), source))
    cache = VariantCache(tmp_path / "variants", memory=2 * size + size // 2)
    wanted = [key(f"w={64 + i}&fm=png") for i in range(3)]
    for one in wanted:
        await cache.get(one, source)
    await cache.written()
    for path in leftovers(tmp_path / "variants"):
        path.unlink()
    # With the files gone, what memory still holds is served without rendering; the rest renders again.
    renders = cache.renders
    await cache.get(wanted[2], source)
    assert cache.renders == renders
    assert len(await cache.get(wanted[0], source)) > 0
    assert cache.renders == renders + 1
    await cache.close()
    await probe.close()


def answer(blob: str, size: int) -> Answer:
    return Answer(blob=blob, body=b"x" * size, unchanged={}, headers={}, ranged={})


def test_answers_stay_within_their_budget_least_recent_first() -> None:
    # Room for two of these answers with what each costs besides its body, not three.
    answers = Answers(2 * (100 + ANSWER_OVERHEAD) + 50, largest=200)
    answers.keep(("/a", ""), answer(BLOB, 100), since=0)
    answers.keep(("/b", ""), answer(BLOB, 100), since=0)
    assert answers.get(("/a", "")) is not None
    answers.keep(("/c", ""), answer(BLOB, 100), since=0)
    assert answers.get(("/b", "")) is None and len(answers) == 2
    # One over `largest` is not kept, so that it cannot push out many smaller ones.
    answers.keep(("/d", ""), answer(BLOB, 201), since=0)
    assert answers.get(("/d", "")) is None and len(answers) == 2
    # A budget of 0 turns them off.
    none = Answers(0)
    none.keep(("/e", ""), answer(BLOB, 1), since=0)
    assert none.get(("/e", "")) is None and len(none) == 0


def test_answers_forget_by_blob_and_keep_nothing_read_before_a_forget() -> None:
    other = "1f" * 32
    answers = Answers(1 << 20)
    answers.keep(("/a", ""), answer(BLOB, 10), since=0)
    answers.keep(("/a", "image/webp"), answer(BLOB, 10), since=0)
    answers.keep(("/b", ""), answer(other, 10), since=0)
    answers.forget(frozenset({BLOB}))
    assert answers.get(("/a", "")) is None and answers.get(("/a", "image/webp")) is None
    assert answers.get(("/b", "")) is not None
    # Read before that forget (of any blob): what it made may be from before the change.
    answers.keep(("/c", ""), answer(other, 10), since=0)
    assert answers.get(("/c", "")) is None
    answers.keep(("/c", ""), answer(other, 10), since=answers.forgotten)
    assert answers.get(("/c", "")) is not None


def test_rows_read_before_a_forget_are_not_kept_and_a_forget_drops_them() -> None:
    rows: Kept[str] = Kept(limit=2)
    since = rows.since
    # A batch that changed another blob's rows ended meanwhile.
    rows.forget(frozenset({"other"}))
    rows.keep(BLOB, "read before the change", since=since)
    assert rows.get(BLOB) is None
    rows.keep(BLOB, "read after it", since=rows.since)
    assert rows.get(BLOB) == "read after it"
    rows.forget(frozenset({BLOB}))
    assert rows.get(BLOB) is None
    # Bounded: the least recently used blob goes first.
    for blob in ("a", "b", "c"):
        rows.keep(blob, blob, since=rows.since)
    assert rows.get("a") is None and rows.get("b") == "b" and rows.get("c") == "c"


def test_large_avif_and_smart_cropped_renders_are_heavy_and_small_boxes_are_not() -> None:
    assert not heavy(key("w=800&h=800&fit=clip&fm=jpg").variant)
    assert not heavy(key("w=1400&h=1400&fm=webp").variant)
    assert heavy(key("w=1500&h=1500&fm=webp").variant)
    assert heavy(key("w=100&h=100&fm=avif").variant)
    assert heavy(key("w=100&h=100&fit=crop&crop=entropy").variant)
    # One side alone: the other follows the source's aspect, which may be far from square.
    assert heavy(key("w=800").variant) and not heavy(key("w=200").variant)
    assert heavy(key("fm=png").variant)


async def test_a_variant_rendered_on_one_host_is_read_on_another(nats_url: str, tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 1600, 1200)
    client = await connect([nats_url], name="variant-tests")
    settings = BucketSettings(bucket=f"variants-{uuid.uuid4().hex[:10]}", names=VARIANT_NAMES, keep_held=True)
    caches = []
    for host in ("here", "there"):
        shared = ObjectDerivedFiles(ObjectBlobStore(client.jetstream(), tmp_path / host / "local", settings,
                                                    cache=tmp_path / host / "variants"))
        await shared.open()
        caches.append(VariantCache(tmp_path / host / "variants", shared=shared))
    here, there = caches
    wanted = key("w=300&fm=webp")
    made = await here.get(wanted, source)
    await here.written()
    # Kept where the variant cache keeps it on disk, and in the bucket.
    assert here.path(wanted).read_bytes() == made
    assert await there.get(wanted, source) == made
    assert (here.renders, there.renders) == (1, 0)
    assert there.path(wanted).read_bytes() == made
    for cache in caches:
        await cache.close()
    await client.close()


class Away:
    """Shared variants whose broker is away: every call fails as the log being unavailable."""

    async def fetch(self, name: str) -> Path | None:
        raise LogUnavailable("away")

    async def keep_bytes(self, name: str, data: bytes) -> bool:
        raise LogUnavailable("away")


async def test_with_the_broker_away_a_variant_is_rendered_here_and_answered(tmp_path: Path) -> None:
    source = images.jpeg(tmp_path / "original.jpg", 800, 600)
    cache = VariantCache(tmp_path / "variants", shared=Away())  # type: ignore[arg-type]
    wanted = key("w=100&fm=png")
    data = await cache.get(wanted, source)
    assert pyvips.Image.new_from_buffer(data, "").width == 100 and cache.renders == 1
    # Its keeping failed and is only logged; the next miss renders again.
    await cache.written()
    await cache.close()
