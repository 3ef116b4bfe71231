"""Blob stores beyond the port's contract (tests/contracts/test_blob_store.py): large uploads, reads on
another host, removal and re-upload, freshness for the sweeper; and what each store does on its own
(the filesystem's grouped syncs, the object store's layout, races and local copies)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from core.jetstream import connect
from core.log import LogUnavailable
from core.ports import BlobStore
from store.blobs import FileBlobStore
from store.groupcommit import FileSync, GroupCommit
from store.objectblobs import CHUNK_BYTES, WINDOW, BucketSettings, ObjectBlobStore
from store.staging import SPOOL_BYTES
from tests.lostanswers import LostAcks, LostAnswers


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


SIZES = {"spooled": 95_000, "streamed": SPOOL_BYTES + 300_000}


@pytest.fixture(params=["file", "nats"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path, nats_url: str) -> AsyncIterator[BlobStore]:
    """Every blob store, each held to the same expectations."""
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
        return
    async for store in object_store(nats_url, tmp_path):
        yield store


def again(blobs: BlobStore, tmp_path: Path) -> BlobStore:
    """The same store as another host sees it: nothing of the first one's local files."""
    if isinstance(blobs, FileBlobStore):
        return blobs
    assert isinstance(blobs, ObjectBlobStore)
    return ObjectBlobStore(blobs.jetstream, tmp_path / f"elsewhere-{uuid.uuid4().hex[:6]}", blobs.settings)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_bytes_become_visible_under_their_hash_only_on_commit(blobs: BlobStore, tmp_path: Path,
                                                                   size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"end"
    sha = hashlib.sha256(data).hexdigest()
    staged = await blobs.receive(chunked(data), limit=len(data))
    assert (staged.sha256, staged.size) == (sha, len(data))
    assert (staged.held if size <= SPOOL_BYTES else staged.path.read_bytes()) == data
    assert not await blobs.has(sha)
    assert await blobs.commit(staged) is True
    assert await blobs.has(sha)
    assert (await blobs.local(sha)).read_bytes() == data
    assert (await again(blobs, tmp_path).local(sha)).read_bytes() == data
    assert blobs.leftovers() == []
    assert [name for name, _ in await blobs.stored()] == [sha]


async def test_a_removed_blob_is_gone_and_may_come_back(blobs: BlobStore, tmp_path: Path) -> None:
    staged = await blobs.receive(chunked(b"short-lived"), limit=100)
    sha = staged.sha256
    assert await blobs.commit(staged)
    await blobs.remove(sha)
    assert not await blobs.has(sha)
    with pytest.raises(FileNotFoundError):
        await again(blobs, tmp_path).local(sha)
    assert await blobs.stored() == []
    await blobs.remove(sha)
    back = await blobs.receive(chunked(b"short-lived"), limit=100)
    assert await blobs.commit(back) is True
    assert (await again(blobs, tmp_path).local(sha)).read_bytes() == b"short-lived"


async def test_bytes_uploaded_again_are_fresh_again(blobs: BlobStore) -> None:
    first = await blobs.receive(chunked(b"twice"), limit=100)
    assert await blobs.commit(first)
    ((_, committed),) = await blobs.stored()
    await asyncio.sleep(0.05)
    second = await blobs.receive(chunked(b"twice"), limit=100)
    assert await blobs.commit(second) is False
    ((_, refreshed),) = await blobs.stored()
    assert refreshed > committed
    assert blobs.leftovers() == []


async def test_unknown_and_malformed_names(blobs: BlobStore) -> None:
    unknown = hashlib.sha256(b"never stored").hexdigest()
    assert not await blobs.has(unknown)
    with pytest.raises(FileNotFoundError):
        await blobs.local(unknown)
    await blobs.remove(unknown)
    for name in ("../../etc/passwd", unknown.upper(), unknown[:-1]):
        with pytest.raises(ValueError):
            await blobs.has(name)
        with pytest.raises(ValueError):
            await blobs.local(name)


async def object_store(nats_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[ObjectBlobStore]:
    client = await connect([nats_url], name="blob-tests")
    store = ObjectBlobStore(client.jetstream(), tmp_path / "local",
                            BucketSettings(bucket=f"blobs-{uuid.uuid4().hex[:12]}", **settings))
    await store.open()
    try:
        yield store
    finally:
        await client.close()


async def test_the_object_store_s_own_clients_read_what_is_committed(nats_url: str, tmp_path: Path) -> None:
    async for store in object_store(nats_url, tmp_path):
        data = os.urandom(3 * CHUNK_BYTES + 17)
        staged = await store.receive(chunked(data), limit=len(data))
        assert await store.commit(staged)
        bucket = await store.jetstream.object_store(store.settings.bucket)
        # nats-py checks the digest as it reads.
        assert (await bucket.get(staged.sha256)).data == data


async def test_the_object_store_keeps_one_copy_of_racing_commits(nats_url: str, tmp_path: Path) -> None:
    async for store in object_store(nats_url, tmp_path):
        data = os.urandom(2 * CHUNK_BYTES + 5)
        staged = [await store.receive(chunked(data), limit=len(data)) for _ in range(4)]
        assert sorted(await asyncio.gather(*(store.commit(one) for one in staged))) == [False] * 3 + [True]
        info = await store.jetstream.stream_info(f"OBJ_{store.settings.bucket}")
        # The winner's three chunks and its meta: the others' chunks were purged.
        assert info.state.messages == 4
        await store.remove(staged[0].sha256)
        info = await store.jetstream.stream_info(f"OBJ_{store.settings.bucket}")
        assert info.state.messages == 1


async def test_a_commit_whose_answer_was_lost_keeps_the_blob_it_stored(nats_url: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async for store in object_store(nats_url, tmp_path):
        lost = LostAnswers(store.jetstream, ".M.", landing=True, times=1)
        monkeypatch.setattr(store.jetstream, "publish", lost.publish)
        data = os.urandom(2 * CHUNK_BYTES + 5)
        staged = await store.receive(chunked(data), limit=len(data))
        # Its retry is refused as out of sequence, by the meta the first try wrote.
        assert await store.commit(staged) is True
        assert lost.left == 0
        assert (await again(store, tmp_path).local(staged.sha256)).read_bytes() == data


async def test_a_commit_nobody_answers_leaves_nothing(nats_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async for store in object_store(nats_url, tmp_path, patience=1.0):
        unanswered = LostAnswers(store.jetstream, ".M.", landing=False, times=-1)
        monkeypatch.setattr(store.jetstream, "publish", unanswered.publish)
        staged = await store.receive(chunked(b"never named"), limit=100)
        with pytest.raises(LogUnavailable):
            await store.commit(staged)
        assert not await store.has(staged.sha256)
        info = await store.jetstream.stream_info(f"OBJ_{store.settings.bucket}")
        assert info.state.messages == 0, "chunks left that no meta names"
        assert store.leftovers() == []


async def test_a_commit_whose_chunks_are_never_acknowledged_fails_in_time(nats_url: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async for store in object_store(nats_url, tmp_path, patience=1.0):
        lost = LostAcks(store.jetstream, ".C.")
        monkeypatch.setattr(store.jetstream, "publish_async", lost.publish_async)
        staged = await store.receive(chunked(os.urandom(CHUNK_BYTES + 1)), limit=CHUNK_BYTES + 1)
        with pytest.raises(LogUnavailable):
            # Bounded here only so that a hang fails the test rather than stalling the suite.
            await asyncio.wait_for(store.commit(staged), 10)
        assert lost.lost == 2
        assert not await store.has(staged.sha256)
        info = await store.jetstream.stream_info(f"OBJ_{store.settings.bucket}")
        assert info.state.messages == 0, "the chunks that did land are purged"
        assert store.leftovers() == []


async def test_chunks_no_meta_names_go_once_they_are_old(nats_url: str, tmp_path: Path) -> None:
    async for store in object_store(nats_url, tmp_path):
        data = os.urandom(2 * CHUNK_BYTES + 9)
        staged = await store.receive(chunked(data), limit=len(data))
        assert await store.commit(staged)
        stream = f"OBJ_{store.settings.bucket}"
        # What a writer that died before its meta leaves: chunks under a nuid no meta names.
        for _ in range(3):
            await store.jetstream.publish(f"$O.{store.settings.bucket}.C.deadwriter", b"x" * 100, stream=stream)
        assert await store.unfinished(time.time() - 3600) == 0, "a commit under way may be writing these"
        assert await store.unfinished(time.time() + 1) == 1
        info = await store.jetstream.stream_info(stream, subjects_filter=f"$O.{store.settings.bucket}.C.>")
        assert sum((info.state.subjects or {}).values()) == 3, "the live blob's chunks are all kept"
        assert (await again(store, tmp_path).local(staged.sha256)).read_bytes() == data
        assert await store.unfinished(time.time() + 1) == 0


def _cached(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "local" / "cache").glob("??/*"))


async def test_the_local_copies_stay_within_their_bound(nats_url: str, tmp_path: Path) -> None:
    async for store in object_store(nats_url, tmp_path, cache_bytes=250_000):
        shas = []
        for seed in range(4):
            data = bytes([seed]) * 100_000
            staged = await store.receive(chunked(data), limit=len(data))
            assert await store.commit(staged)
            shas.append(staged.sha256)
        for sha in shas:
            await store.local(sha)
        assert _cached(tmp_path) == sorted(shas[2:])
        # An evicted blob is fetched again, and the oldest other one makes room.
        assert (await store.local(shas[0])).read_bytes() == bytes([0]) * 100_000
        assert _cached(tmp_path) == sorted([shas[0], shas[3]])


@pytest.mark.parametrize("keep_held", [False, True])
async def test_the_committing_host_keeps_a_copy_of_a_file_and_of_held_bytes_only_if_told(
        nats_url: str, tmp_path: Path, keep_held: bool) -> None:
    async for store in object_store(nats_url, tmp_path, keep_held=keep_held):
        held = await store.receive(chunked(b"few bytes"), limit=100)
        spooled = await store.receive(chunked(os.urandom(SPOOL_BYTES + 1)), limit=SPOOL_BYTES + 1)
        assert held.held is not None and spooled.held is None
        assert await store.commit(held) and await store.commit(spooled)
        # A spooled upload's file is moved into the cache as it is; held bytes are written only if told.
        assert _cached(tmp_path) == sorted([spooled.sha256, *([held.sha256] if keep_held else [])])
        assert (await store.local(held.sha256)).read_bytes() == b"few bytes"
        assert held.sha256 in _cached(tmp_path)


async def test_held_bytes_the_file_store_cannot_write_are_refused_and_name_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    staged = await store.receive(chunked(b"never written"), limit=100)
    # The staging directory is gone by the time the held bytes are written (a disk taken away).
    (tmp_path / "blobs" / "tmp").rmdir()
    with pytest.raises(OSError):
        await store.commit(staged)
    assert not await store.has(staged.sha256)
    (tmp_path / "blobs" / "tmp").mkdir()
    assert await store.commit(await store.receive(chunked(b"written"), limit=100))
    assert await store.stored() != [] and store.leftovers() == []


async def test_held_bytes_whose_link_fails_leave_no_temp_file(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    staged = await store.receive(chunked(b"no place to go"), limit=100)
    # A file where the blob's first fan-out directory should be: the link cannot be made.
    (tmp_path / "blobs" / staged.sha256[:2]).write_bytes(b"in the way")
    with pytest.raises(NotADirectoryError):
        await store.commit(staged)
    assert not await store.has(staged.sha256) and store.leftovers() == []


class Recording(FileSync):
    """Syncs for real and notes what each sync was of and which of the store's final names existed then."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[tuple[list[Path], dict[Path, bool]]] = []
        self.watched: list[Path] = []

    def paths(self, paths: Sequence[Path]) -> None:
        self.calls.append((list(paths), {name: name.exists() for name in self.watched}))
        super().paths(paths)


async def test_bytes_are_synced_before_they_are_named_and_the_names_before_commit_returns(tmp_path: Path) -> None:
    sync = Recording(tmp_path)
    blobs = FileBlobStore(tmp_path, sync=sync)
    staged = [await blobs.receive(chunked(f"upload {i}".encode()), limit=100) for i in range(7)]
    sync.watched = [blobs.path(one.sha256) for one in staged]
    assert all(await asyncio.gather(*(blobs.commit(one) for one in staged)))
    for one, name in zip(staged, sync.watched, strict=True):
        (data_sync,) = [exists for paths, exists in sync.calls if one.path in paths]
        assert not data_sync[name]
        (name_sync,) = [exists for paths, exists in sync.calls if name.parent in paths]
        assert name_sync[name]
    # Seven commits at once take fewer syncs than one of each kind apiece.
    assert len(sync.calls) < 2 * len(staged)


async def test_the_entries_of_new_fan_out_directories_are_synced_before_commit_returns(tmp_path: Path) -> None:
    sync = Recording(tmp_path)
    blobs = FileBlobStore(tmp_path, sync=sync)
    staged = await blobs.receive(chunked(b"first of its directories"), limit=100)
    final = blobs.path(staged.sha256)
    assert await blobs.commit(staged)
    synced = {path for paths, _ in sync.calls for path in paths}
    # The link's own directory, and the directories holding the two new ones: the root and `ab`.
    assert {final.parent, final.parent.parent, tmp_path} <= synced
    # Bytes whose directories are there already sync only their own directory's entry.
    # One in 65,536 hashes shares both fan-out directories: some of 4 million almost surely do.
    sibling = next(data for i in range(4_000_000)
                   if hashlib.sha256(data := f"n{i}".encode()).hexdigest()[:4] == staged.sha256[:4])
    sync.calls.clear()
    assert await blobs.commit(await blobs.receive(chunked(sibling), limit=100))
    names = [paths for paths, _ in sync.calls if final.parent in paths]
    assert names and all(tmp_path not in paths and final.parent.parent not in paths for paths in names)


async def test_a_group_commit_batches_what_arrives_while_it_runs() -> None:
    batches: list[list[int]] = []
    running = asyncio.Event()
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def batch(items: Sequence[int]) -> list[int | BaseException]:
        batches.append(list(items))
        if len(batches) == 1:
            loop.call_soon_threadsafe(running.set)
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return [ValueError(item) if item == 3 else item * 10 for item in items]

    group = GroupCommit[int, int](batch, parallel=1)
    first = asyncio.create_task(group.submit(0))
    await running.wait()
    rest = asyncio.gather(*(group.submit(item) for item in range(1, 6)), return_exceptions=True)
    await asyncio.sleep(0.05)
    release.set()
    results = [await first, *await rest]
    assert results[:3] == [0, 10, 20] and isinstance(results[3], ValueError) and results[4:] == [40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


async def test_a_slow_batch_does_not_hold_up_the_next() -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def batch(items: Sequence[int]) -> list[int | BaseException]:
        if items == [0]:
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return list(items)

    group = GroupCommit[int, int](batch, parallel=2)
    slow = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(group.submit(1), 5) == 1
    assert not slow.done()
    release.set()
    assert await slow == 0


async def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_runs() -> None:
    calls = 0

    def batch(items: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return list(items)

    group = GroupCommit[int, int](batch)
    with pytest.raises(OSError, match="disk full"):
        await group.submit(1)
    assert await group.submit(2) == 2


async def test_a_caller_that_gives_up_leaves_the_batch_to_the_others() -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def batch(items: Sequence[int]) -> list[int | BaseException]:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return list(items)

    group = GroupCommit[int, int](batch)
    impatient = asyncio.create_task(group.submit(1))
    patient = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0.05)
    impatient.cancel()
    release.set()
    assert await patient == 2
    with pytest.raises(asyncio.CancelledError):
        await impatient


@pytest.mark.parametrize("count", [1, 2, 5])
def test_file_sync_syncs_existing_paths_and_refuses_missing_ones(tmp_path: Path, count: int) -> None:
    files = [tmp_path / f"f{i}" for i in range(count)]
    for file in files:
        file.write_bytes(b"x")
    FileSync(tmp_path).paths([*files, tmp_path])
    if count <= 2:
        # Alone, each path is synced on its own, so a path that is gone is an error.
        with pytest.raises(FileNotFoundError):
            FileSync(tmp_path).paths([tmp_path / "gone"])


async def test_a_blob_of_more_chunks_than_a_window_reads_back_whole(nats_url: str, tmp_path: Path) -> None:
    async for store in object_store(nats_url, tmp_path):
        data = os.urandom(WINDOW * CHUNK_BYTES + 1000)
        staged = await store.receive(chunked(data, 256 * 1024), limit=len(data))
        assert await store.commit(staged)
        fresh = ObjectBlobStore(store.jetstream, tmp_path / "fresh", store.settings)
        assert (await fresh.local(staged.sha256)).read_bytes() == data


@pytest.mark.parametrize("chunk", [1, 2046, 2047, 2048, 4095, 64 * 1024, SPOOL_BYTES + 1])
async def test_an_upload_is_named_by_the_hash_of_all_its_bytes_whatever_its_chunks(tmp_path: Path, chunk: int) -> None:
    data = hashlib.sha256(b"seed").digest() * 4_000 + b"tail"
    staged = await FileBlobStore(tmp_path).receive(chunked(data, chunk), limit=len(data))
    assert (staged.sha256, staged.size) == (hashlib.sha256(data).hexdigest(), len(data))
