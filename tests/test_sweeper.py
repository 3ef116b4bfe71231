"""Unposted uploads are deleted by appending events; blobs go only when nothing names them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.events import ActivityPosted, MediaDeleted, MediaUploaded
from core.jetstream import JetStreamLog
from core.ports import RENDITION_NAMES, VARIANT_NAMES, BlobStore, rendition_name
from mediaplex.sweeper import Sweeper, SweepSettings
from store.blobs import FileBlobStore
from store.derivedfiles import ObjectDerivedFiles
from store.feed import Feed
from store.objectblobs import BucketSettings, ObjectBlobStore
from store.projection import Projection

DAY = 24 * 3600.0
NOW = 1_800_000_000.0


async def stored(blobs: BlobStore, data: bytes, age: float) -> str:
    async def one() -> AsyncIterator[bytes]:
        yield data

    staged = await blobs.receive(one(), limit=1000)
    if isinstance(blobs, ObjectBlobStore):
        blobs.clock = lambda: NOW - age
    await blobs.commit(staged)
    if isinstance(blobs, FileBlobStore):
        os.utime(blobs.path(staged.sha256), (NOW - age, NOW - age))
    return staged.sha256


@pytest.fixture(params=["file", "nats"])
async def blobs(request: pytest.FixtureRequest, jetstream_log: JetStreamLog, tmp_path: Path) -> BlobStore:
    """Each blob store: the sweeper removes what nothing names from either."""
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    store = ObjectBlobStore(jetstream_log.jetstream, tmp_path / "blobcache",
                            BucketSettings(bucket=f"{jetstream_log.stream}_blobs"))
    await store.open()
    return store


def upload(media_id: str, blob: str, via: str, age: float) -> MediaUploaded:
    return MediaUploaded(at=NOW - age, media_id=media_id, owner_id="alice", blob=blob, size=1,
                         content_type="image/png", width=1, height=1, via=via)


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    opened = Projection(tmp_path / "p.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_sweeping(jetstream_log: JetStreamLog, projection: Projection, blobs: BlobStore,
                        tmp_path: Path) -> None:
    lonely = await stored(blobs, b"lonely", 2 * DAY)
    shared = await stored(blobs, b"shared", 2 * DAY)
    posted = await stored(blobs, b"posted", 2 * DAY)
    fresh = await stored(blobs, b"fresh", 60)
    orphan = await stored(blobs, b"orphan of a deleted mastodon upload", 2 * DAY)
    young_orphan = await stored(blobs, b"just uploaded, not projected yet", 60)
    for event in (
        upload("old-unposted", lonely, "pumpio", 2 * DAY),
        upload("old-unposted-shared", shared, "pumpio", 2 * DAY),
        upload("mastodon-shared", shared, "mastodon", 2 * DAY),
        upload("old-posted", posted, "pumpio", 2 * DAY),
        ActivityPosted(at=NOW - DAY, activity_id="a1", actor="alice", verb="post", object_type="image",
                       object_id="old-posted"),
        upload("recent-unposted", fresh, "pumpio", 60),
        upload("deleted", orphan, "mastodon", 3 * DAY),
        MediaDeleted(at=NOW - 2 * DAY, media_id="deleted"),
    ):
        await jetstream_log.append(event, msg_id=event.subject())
    # As in a server: the projection follows the log, so the sweeper reads its own deletions.
    following = asyncio.create_task(Feed(jetstream_log, projection).run_forever())
    assert await projection.wait_for(await jetstream_log.last_seq(), timeout=10)
    renditions = tmp_path / "renditions"
    (renditions / lonely[:2] / lonely / "v2").mkdir(parents=True)
    variants = tmp_path / "variants"
    for sha in (lonely, shared):
        (variants / sha[:2] / sha).mkdir(parents=True)
        (variants / sha[:2] / sha / "variant.webp").write_bytes(b"RIFF")

    sweeper = Sweeper(jetstream_log, projection, blobs, renditions, SweepSettings(), clock=lambda: NOW,
                      variants=variants)
    report = await sweeper.sweep_once()

    swept = [r.event async for r in jetstream_log.read(1, follow=False) if isinstance(r.event, MediaDeleted)]
    assert [(e.media_id, e.reason) for e in swept] == [("deleted", ""), ("old-unposted", "unposted"),
                                                       ("old-unposted-shared", "unposted")]
    left = {row[0] for row in await projection.read(lambda c: c.execute("SELECT media_id FROM media").fetchall())}
    assert left == {"mastodon-shared", "old-posted", "recent-unposted"}
    assert (report.expired, report.blobs_removed) == (2, 2)
    assert {sha for sha, _ in await blobs.stored()} == {shared, posted, fresh, young_orphan}
    assert not (renditions / lonely[:2] / lonely).exists()
    assert not (variants / lonely[:2] / lonely).exists()
    assert (variants / shared[:2] / shared / "variant.webp").exists()

    # A second round finds nothing more to do.
    again = await sweeper.sweep_once()
    assert (again.expired, again.blobs_removed) == (0, 0)
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)


async def test_crash_leftovers_go_after_the_grace(jetstream_log: JetStreamLog, projection: Projection,
                                                  tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    renditions, variants = tmp_path / "renditions", tmp_path / "variants"
    sha = "ab" * 32
    # Named as each writer names its temp files: the blob store, the processor, the variant cache.
    places = [tmp_path / "blobs" / "tmp", renditions / sha[:2] / sha / "v3", variants / sha[:2] / sha]
    names = ["0123abcd{}.part", ".original.k2j4l5{}.tmp", ".9f8e7d6c5b4a3f2e.x1y2z3{}.tmp"]
    settings = SweepSettings()
    old, young = [], []
    for place, name in zip(places, names, strict=True):
        place.mkdir(parents=True, exist_ok=True)
        for age, found in ((settings.temp_grace + 60, old), (settings.temp_grace - 60, young)):
            path = place / name.format(int(age))
            path.write_bytes(b"half a file")
            os.utime(path, (NOW - age, NOW - age))
            found.append(path)
    # A finished rendition and variant are not temp files, however old.
    kept = [renditions / sha[:2] / sha / "v3" / "original.jpg", variants / sha[:2] / sha / "9f8e7d6c5b4a3f2e.webp"]
    for path in kept:
        path.write_bytes(b"whole")
        os.utime(path, (NOW - 2 * DAY, NOW - 2 * DAY))

    sweeper = Sweeper(jetstream_log, projection, blobs, renditions, settings, clock=lambda: NOW, variants=variants)
    report = await sweeper.sweep_once()
    assert report.temporaries_removed == 3
    assert [path.exists() for path in old] == [False] * 3
    assert [path.exists() for path in young + kept] == [True] * 5
    assert (await sweeper.sweep_once()).temporaries_removed == 0


async def test_chunks_a_dead_writer_left_in_the_object_store_go_after_the_grace(
    jetstream_log: JetStreamLog, projection: Projection, tmp_path: Path
) -> None:
    store = ObjectBlobStore(jetstream_log.jetstream, tmp_path / "blobcache",
                            BucketSettings(bucket=f"{jetstream_log.stream}_blobs"))
    await store.open()
    kept = await stored(store, b"named by a media", 2 * DAY)
    await jetstream_log.append(upload("m1", kept, "mastodon", 2 * DAY), msg_id="m1")
    bucket = store.settings.bucket
    await store.jetstream.publish(f"$O.{bucket}.C.deadwriter", b"half", stream=f"OBJ_{bucket}")
    following = asyncio.create_task(Feed(jetstream_log, projection).run_forever())
    assert await projection.wait_for(await jetstream_log.last_seq(), timeout=10)
    # Written now, which the sweeper's clock puts more than the grace in the past.
    sweeper = Sweeper(jetstream_log, projection, store, tmp_path / "renditions", SweepSettings(), clock=lambda: NOW)
    report = await sweeper.sweep_once()
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    assert (report.temporaries_removed, report.blobs_removed) == (1, 0)
    elsewhere = ObjectBlobStore(store.jetstream, tmp_path / "elsewhere", store.settings)
    assert (await elsewhere.local(kept)).read_bytes() == b"named by a media"


async def test_shared_renditions_and_variants_of_blobs_no_media_names_go_after_the_grace(
    jetstream_log: JetStreamLog, projection: Projection, tmp_path: Path
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    named = await stored(blobs, b"named by a media", 2 * DAY)
    await jetstream_log.append(upload("m1", named, "mastodon", 2 * DAY), msg_id="m1")
    gone, young = "ab" * 32, "cd" * 32
    shared = []
    for what, names in (("renditions", RENDITION_NAMES), ("variants", VARIANT_NAMES)):
        store = ObjectBlobStore(jetstream_log.jetstream, tmp_path / what, BucketSettings(
            bucket=f"{jetstream_log.stream}_{what}", names=names, keep_held=True), cache=tmp_path / f"{what}-here")
        shared.append(ObjectDerivedFiles(store))
        await shared[-1].open()
    renditions, variants = shared
    for blob, age in ((named, 2 * DAY), (gone, 2 * DAY), (young, 60)):
        for keeping in (renditions, variants):
            keeping.store.clock = lambda age=age: NOW - age
        await renditions.keep_bytes(rendition_name(blob, 1, "small.jpg"), blob.encode())
        await variants.keep_bytes(f"{blob}/{'ef' * 32}.webp", blob.encode())
    following = asyncio.create_task(Feed(jetstream_log, projection).run_forever())
    assert await projection.wait_for(await jetstream_log.last_seq(), timeout=10)
    sweeper = Sweeper(jetstream_log, projection, blobs, tmp_path / "renditions", SweepSettings(),
                      clock=lambda: NOW, derived=(renditions, variants))
    report = await sweeper.sweep_once()
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    assert report.derived_removed == 2
    # A blob's shared files stay while a media names it, and while they are younger than the grace.
    assert sorted(n for n, _ in await renditions.stored()) == sorted(
        rendition_name(blob, 1, "small.jpg") for blob in (named, young))
    assert sorted(n.partition("/")[0] for n, _ in await variants.stored()) == sorted((named, young))
    assert (await sweeper.sweep_once()).derived_removed == 0
