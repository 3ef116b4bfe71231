"""The key-value port's contract, run against every implementation: in memory and on JetStream.

Memory runs on an injected clock that the tests move on; JetStream runs on a real broker and real
time, with TTLs of a few seconds (its expiry works to about a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from nats.aio.client import Client

from core.jetstream import connect
from core.log import LogUnavailable
from gateways.kit.jetstream_kv import JetStreamBuckets
from gateways.kit.keyvalue import Bucket, Buckets, Entry, KeyExists, WrongRevision
from gateways.kit.memkv import MemoryBuckets
from tests.conftest import unique_stream
from tests.outage import KillableBroker

# Every wait below gives up after this long; none of them measures speed.
DEADLINE = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """One implementation under test: its buckets, how another replica sees them, and passing time."""

    def __init__(self, replica: Callable[[], Buckets], age: Callable[[float], Awaitable[None]]) -> None:
        self.replica = replica
        self.buckets = replica()
        self.age = age


@pytest.fixture(params=["memory", "jetstream"])
async def store(request: pytest.FixtureRequest, nats_url: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        clock = Clock()
        shared = MemoryBuckets(clock)

        async def advance(seconds: float) -> None:
            clock.now += seconds

        yield Store(lambda: shared, advance)
        return
    client = await connect([nats_url], name="tests")
    stream = unique_stream().name
    yield Store(lambda: JetStreamBuckets(client, stream), asyncio.sleep)
    await client.close()


async def eventually_gone(bucket: Bucket, key: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while await bucket.get(key) is not None:
        assert loop.time() < deadline, f"{key} never expired"
        await asyncio.sleep(0.1)


async def test_a_key_is_created_once(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    revision = await bucket.create("k1", b"first")
    assert revision > 0
    with pytest.raises(KeyExists):
        await bucket.create("k1", b"second")
    assert await bucket.get("k1") == Entry(b"first", revision)


async def test_of_racing_replicas_one_creates(store: Store) -> None:
    buckets = [await store.replica().open("things", ttl=None) for _ in range(5)]

    async def create(bucket: Bucket, value: bytes) -> int | None:
        try:
            return await bucket.create("contested", value)
        except KeyExists:
            return None

    won = await asyncio.gather(*(create(bucket, str(n).encode()) for n, bucket in enumerate(buckets)))
    winners = [n for n, revision in enumerate(won) if revision is not None]
    assert len(winners) == 1
    assert await buckets[0].get("contested") == Entry(str(winners[0]).encode(), won[winners[0]])


async def test_every_write_has_a_new_revision(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    first = await bucket.create("a", b"1")
    other = await bucket.create("b", b"1")
    second = await bucket.update("a", b"2", last=first)
    assert first < other < second
    assert await bucket.get("a") == Entry(b"2", second)
    assert await bucket.get("b") == Entry(b"1", other)


async def test_an_update_needs_the_revision_it_read(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    first = await bucket.create("k", b"1")
    second = await bucket.update("k", b"2", last=first)
    with pytest.raises(WrongRevision):
        await bucket.update("k", b"stale", last=first)
    assert await bucket.get("k") == Entry(b"2", second)


async def test_a_conditional_delete_needs_the_current_revision(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    first = await bucket.create("k", b"1")
    second = await bucket.update("k", b"2", last=first)
    with pytest.raises(WrongRevision):
        await bucket.delete("k", last=first)
    assert await bucket.get("k") == Entry(b"2", second)
    await bucket.delete("k", last=second)
    assert await bucket.get("k") is None
    # A deleted key can be created again, at a revision never handed out before.
    again = await bucket.create("k", b"3")
    assert again > second
    assert await bucket.get("k") == Entry(b"3", again)


async def test_an_unconditional_delete(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    await bucket.create("k", b"1")
    await bucket.delete("k")
    assert await bucket.get("k") is None
    await bucket.delete("k")
    assert await bucket.get("k") is None


async def test_missing_keys(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    assert await bucket.get("never") is None
    with pytest.raises(WrongRevision):
        await bucket.update("never", b"x", last=1)
    with pytest.raises(WrongRevision):
        await bucket.delete("never", last=1)
    await bucket.delete("never")
    assert await bucket.get("never") is None


async def test_values_are_bytes_of_any_kind(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    for key, value in (("empty", b""), ("binary", bytes(range(256))), ("json", b'{"a": [1, 2]}')):
        revision = await bucket.create(key, value)
        assert await bucket.get(key) == Entry(value, revision)


async def test_keys_are_checked(store: Store) -> None:
    bucket = await store.buckets.open("things", ttl=None)
    for good in ("a", "A-z_0=9/x.y", "upload-url-hmac", "f" * 64):
        await bucket.create(good, b"")
    for bad in ("", "a b", "a*", "a>", ".a", "a.", "ä", "a\n"):
        for call in (bucket.create(bad, b""), bucket.get(bad), bucket.update(bad, b"", last=1), bucket.delete(bad)):
            with pytest.raises(ValueError):
                await call


async def test_keys_expire_after_the_ttl(store: Store) -> None:
    bucket = await store.buckets.open("short", ttl=1.0)
    first = await bucket.create("k", b"1")
    await store.age(1.0)
    await eventually_gone(bucket, "k")
    with pytest.raises(WrongRevision):
        await bucket.update("k", b"2", last=first)
    # Gone means free: the key can be created again.
    again = await bucket.create("k", b"3")
    assert await bucket.get("k") == Entry(b"3", again)


async def test_a_key_ages_from_its_last_write(store: Store) -> None:
    bucket = await store.buckets.open("renewed", ttl=3.0)
    first = await bucket.create("k", b"1")
    await store.age(2.0)
    second = await bucket.update("k", b"2", last=first)
    await store.age(2.0)
    # Four seconds after it was created, two after it was written.
    assert await bucket.get("k") == Entry(b"2", second)
    await store.age(1.0)
    await eventually_gone(bucket, "k")


async def test_without_a_ttl_keys_stay(store: Store) -> None:
    bucket = await store.buckets.open("lasting", ttl=None)
    revision = await bucket.create("k", b"1")
    await store.age(2.0)
    assert await bucket.get("k") == Entry(b"1", revision)


async def test_a_bucket_keeps_the_ttl_it_was_created_with(store: Store) -> None:
    await store.buckets.open("lasting", ttl=None)
    later = await store.replica().open("lasting", ttl=1.0)
    revision = await later.create("k", b"1")
    await store.age(2.0)
    assert await later.get("k") == Entry(b"1", revision)


async def test_buckets_are_independent_and_shared_by_name(store: Store) -> None:
    one = await store.buckets.open("one", ttl=None)
    two = await store.buckets.open("two", ttl=None)
    first = await one.create("k", b"in one")
    with pytest.raises(KeyExists):
        await one.create("k", b"again")
    second = await two.create("k", b"in two")
    assert await one.get("k") == Entry(b"in one", first)
    assert await two.get("k") == Entry(b"in two", second)
    await two.delete("k")
    assert await one.get("k") == Entry(b"in one", first)
    # The same name, opened again or by another replica, is the same bucket.
    for buckets in (store.buckets, store.replica()):
        assert await (await buckets.open("one", ttl=None)).get("k") == Entry(b"in one", first)


# ---- JetStream only ------------------------------------------------------------------------------


async def test_jetstream_buckets_are_named_after_the_stream(nats_url: str) -> None:
    client = await connect([nats_url], name="tests")
    try:
        stream = unique_stream().name
        buckets = JetStreamBuckets(client, stream, replicas=1)
        await (await buckets.open("upload_claims", ttl=3600.0)).create("1", b"")
        await (await buckets.open("upload_secret", ttl=None)).create("k", b"v")
        jetstream = client.jetstream()
        claims = await (await jetstream.key_value(f"{stream}_upload_claims")).status()
        assert (claims.ttl, claims.history, claims.values) == (3600.0, 1, 1)
        secret = await (await jetstream.key_value(f"{stream}_upload_secret")).status()
        assert secret.ttl in (None, 0) and secret.history == 1
        assert (await (await jetstream.key_value(f"{stream}_upload_secret")).get("k")).value == b"v"
    finally:
        await client.close()


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not check():
        assert loop.time() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.05)


async def unavailable(call: Awaitable[object]) -> None:
    # The bound catches a call that hangs; LogUnavailable is what the caller is promised.
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(LogUnavailable):
            await call


async def test_jetstream_refuses_at_once_while_the_broker_is_gone(broker: KillableBroker) -> None:
    client: Client = await connect([broker.url], name="tests")
    try:
        buckets = JetStreamBuckets(client, unique_stream().name, timeout=2.0)
        bucket = await buckets.open("things", ttl=None)
        kept = await bucket.create("kept", b"1")

        await broker.kill()
        await until(lambda: not client.is_connected, "the client notices the broker is gone")
        await unavailable(bucket.create("refused", b"x"))
        await unavailable(bucket.get("kept"))
        await unavailable(bucket.update("kept", b"refused", last=kept))
        await unavailable(bucket.delete("kept", last=kept))
        await unavailable(buckets.open("other", ttl=None))

        await broker.start()
        await until(lambda: client.is_connected, "the client reconnects")
        # Nothing refused was held back and sent after the reconnect.
        await asyncio.sleep(0.5)
        assert await bucket.get("refused") is None
        assert await bucket.get("kept") == Entry(b"1", kept)
    finally:
        await client.close()


async def test_jetstream_gives_up_on_a_broker_that_does_not_answer(broker: KillableBroker) -> None:
    client: Client = await connect([broker.url], name="tests")
    try:
        bucket = await JetStreamBuckets(client, unique_stream().name, timeout=1.0).open("things", ttl=None)
        kept = await bucket.create("kept", b"1")
        broker.freeze()
        try:
            assert client.is_connected
            await unavailable(bucket.get("kept"))
            await unavailable(bucket.create("late", b"x"))
        finally:
            broker.thaw()
        assert await bucket.get("kept") == Entry(b"1", kept)
    finally:
        await client.close()

