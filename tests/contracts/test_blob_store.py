"""The blob store contract: content addressing, caps while streaming, nothing staged left behind.

Each implementation is one `Subject` factory in STORES; a second store is one more entry there.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client

from core.jetstream import connect
from core.ports import BlobStore, TooLarge
from store.blobs import FileBlobStore
from store.objectblobs import BucketSettings, ObjectBlobStore
from store.staging import SPOOL_BYTES


class Subject(msgspec.Struct):
    store: BlobStore
    # What the store holds that is not a committed blob: staged uploads, however it keeps them.
    staging: Callable[[], list[Path]]


async def file_store(root: Path, _client: Client) -> Subject:
    return Subject(store=FileBlobStore(root), staging=lambda: sorted((root / "tmp").iterdir()))


async def object_store(root: Path, client: Client) -> Subject:
    store = ObjectBlobStore(client.jetstream(), root, BucketSettings(bucket=f"contract-{uuid.uuid4().hex[:12]}"))
    await store.open()
    return Subject(store=store, staging=store.leftovers)


STORES: dict[str, Callable[[Path, Client], Awaitable[Subject]]] = {"file": file_store, "nats": object_store}


@pytest.fixture(params=sorted(STORES))
async def subject(request: pytest.FixtureRequest, tmp_path: Path, nats_url: str) -> AsyncIterator[Subject]:
    client = await connect([nats_url], name="blob-contract")
    try:
        yield await STORES[request.param](tmp_path / "blobs", client)
    finally:
        await client.close()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [11, SPOOL_BYTES + 1], ids=["held", "spooled"])
async def test_received_bytes_are_named_by_their_hash_and_visible_only_once_committed(subject: Subject,
                                                                                     size: int) -> None:
    store = subject.store
    data = (b"hello world" * (size // 11 + 1))[:size]
    staged = await store.receive(chunks(data[:6], data[6:]), limit=size)
    assert (staged.sha256, staged.size) == (sha(data), size)
    assert not await store.has(staged.sha256)
    # Few bytes are held in memory and never written until they are kept; more spool to a temp file.
    held = size <= SPOOL_BYTES
    assert staged.held == (data if held else None)
    assert len(subject.staging()) == (0 if held else 1)
    assert await store.commit(staged) is True
    assert await store.has(staged.sha256)
    assert (await store.local(staged.sha256)).read_bytes() == data
    assert subject.staging() == []


async def test_the_same_bytes_twice_are_one_blob(subject: Subject) -> None:
    store = subject.store
    first = await store.receive(chunks(b"same"), limit=100)
    assert await store.commit(first) is True
    again = await store.receive(chunks(b"sa", b"me"), limit=100)
    assert again.sha256 == first.sha256
    assert await store.commit(again) is False
    assert (await store.local(first.sha256)).read_bytes() == b"same"
    assert subject.staging() == []


async def test_different_bytes_are_different_blobs(subject: Subject) -> None:
    store = subject.store
    one, two = await store.receive(chunks(b"one"), 100), await store.receive(chunks(b"two"), 100)
    assert one.sha256 != two.sha256
    assert await store.commit(one) and await store.commit(two)
    assert (await store.local(two.sha256)).read_bytes() == b"two"


async def test_an_empty_body_is_a_blob_too(subject: Subject) -> None:
    staged = await subject.store.receive(chunks(), limit=0)
    assert (staged.sha256, staged.size) == (sha(b""), 0)
    assert await subject.store.commit(staged) is True
    assert (await subject.store.local(staged.sha256)).read_bytes() == b""


async def test_discard_leaves_nothing_and_adds_no_blob(subject: Subject) -> None:
    store = subject.store
    staged = await store.receive(chunks(b"unwanted"), limit=100)
    store.discard(staged)
    assert subject.staging() == []
    assert not await store.has(staged.sha256)
    # Discarding twice, e.g. once by a handler and once by its cleanup, is harmless.
    store.discard(staged)


async def test_remove_takes_a_blob_away_and_is_idempotent(subject: Subject) -> None:
    store = subject.store
    staged = await store.receive(chunks(b"gone soon"), limit=100)
    await store.commit(staged)
    await store.remove(staged.sha256)
    assert not await store.has(staged.sha256)
    await store.remove(staged.sha256)
    await store.remove(sha(b"never stored"))


async def test_past_the_cap_the_stream_stops_and_nothing_is_left(subject: Subject) -> None:
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for n in range(1000):
            read.append(n)
            yield b"x" * 1024

    with pytest.raises(TooLarge) as refused:
        await subject.store.receive(endless(), limit=10 * 1024)
    assert refused.value.limit == 10 * 1024
    # Stopped at the first chunk past the cap, not after reading the whole body.
    assert len(read) == 11
    assert subject.staging() == []
    assert not await subject.store.has(sha(b"x" * 11 * 1024))


async def test_exactly_the_cap_is_accepted_and_one_more_byte_is_not(subject: Subject) -> None:
    staged = await subject.store.receive(chunks(b"x" * 6, b"x" * 4), limit=10)
    assert staged.size == 10
    subject.store.discard(staged)
    with pytest.raises(TooLarge):
        await subject.store.receive(chunks(b"x" * 6, b"x" * 5), limit=10)
    assert subject.staging() == []


async def test_a_stream_that_breaks_off_leaves_nothing(subject: Subject) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"abc"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await subject.store.receive(broken(), limit=100)
    assert subject.staging() == []


async def test_a_cancelled_receive_leaves_nothing(subject: Subject) -> None:
    started, never = asyncio.Event(), asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first"
        started.set()
        await never.wait()
        yield b"never"

    receiving = asyncio.create_task(subject.store.receive(stalled(), limit=100))
    async with asyncio.timeout(30):
        await started.wait()
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert subject.staging() == []


async def test_concurrent_commits_of_one_blob_store_it_once(subject: Subject) -> None:
    store = subject.store
    data = b"raced" * 1000
    staged = [await store.receive(chunks(data[:100], data[100:]), limit=len(data)) for _ in range(8)]
    assert len({s.path for s in staged}) == 8, "each upload stages on its own"
    won = await asyncio.gather(*(store.commit(s) for s in staged))
    assert sorted(won) == [False] * 7 + [True]
    assert (await store.local(sha(data))).read_bytes() == data
    assert subject.staging() == []


async def test_concurrent_receives_of_different_bytes_do_not_mix(subject: Subject) -> None:
    store = subject.store
    bodies = [bytes([n]) * (1000 + n) for n in range(6)]
    staged = await asyncio.gather(*(store.receive(chunks(b[:500], b[500:]), limit=10_000) for b in bodies))
    for body, one in zip(bodies, staged, strict=True):
        assert (one.sha256, one.size) == (sha(body), len(body))
        assert await store.commit(one) is True
        assert (await store.local(one.sha256)).read_bytes() == body


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "ab", "0" * 63 + "/", "", "g" * 64,
                                  "0" * 65, "../" + "0" * 61, "0" * 64 + "\n"])
async def test_names_that_are_not_hashes_are_refused(subject: Subject, name: str) -> None:
    with pytest.raises(ValueError):
        await subject.store.local(name)
    with pytest.raises(ValueError):
        await subject.store.has(name)
    with pytest.raises(ValueError):
        await subject.store.remove(name)


async def test_the_file_store_names_unfinished_uploads_as_leftovers(tmp_path: Path) -> None:
    # Not part of the port: what the sweeper of a filesystem store uses to collect crash leftovers.
    store = FileBlobStore(tmp_path)
    staged = await store.receive(chunks(bytes(SPOOL_BYTES + 1)), limit=SPOOL_BYTES + 1)
    assert store.leftovers() == [staged.path]
    await store.commit(staged)
    assert store.leftovers() == []


async def test_sweeping_unfinished_writes_leaves_every_committed_blob(subject: Subject) -> None:
    store = subject.store
    names = []
    for data in (b"kept", b"kept too" * 50_000):
        staged = await store.receive(chunks(data), limit=len(data))
        assert await store.commit(staged)
        names.append(staged.sha256)
    # However late the sweep looks, a committed blob is no partial write.
    assert await store.unfinished(time.time() + 3600) == 0
    assert sorted(name for name, _ in await store.stored()) == sorted(names)
    assert (await store.local(names[1])).read_bytes() == b"kept too" * 50_000
