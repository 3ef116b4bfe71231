"""The bulk reader that rebuilds use, against a real nats-server: same records as the client, or a fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core import wireread
from core.events import TokenIssued
from core.jetstream import WIRE_READ_MIN, JetStreamLog, StreamSettings, connect
from core.log import Record
from tests.conftest import unique_stream
from tests.outage import KillableBroker

COUNT = 2 * wireread.PULL + 777


def token(i: int) -> TokenIssued:
    return TokenIssued(at=1_700_000_000.0 + i, token_id=f"t{i}", user_id=f"user{i % 7}",
                       token_hash=f"{i:064x}", scopes=("read",))


async def fill(events: JetStreamLog, count: int) -> None:
    for start in range(0, count, 500):
        await asyncio.gather(*(events.append(token(i), msg_id=f"w{i}")
                               for i in range(start, min(start + 500, count))))


async def client_read(events: JetStreamLog, start: int, end: int) -> list[Record]:
    """The records as the nats-py following read hands them out, cut at `end`."""
    got: list[Record] = []
    batches = events.read_batches(start, follow=True, size=1000)
    try:
        async for batch in batches:
            got.extend(r for r in batch if r.seq <= end)
            if got and got[-1].seq >= end:
                break
    finally:
        await batches.aclose()
    return got


@pytest.fixture
async def filled(jetstream_log: JetStreamLog) -> JetStreamLog:
    await fill(jetstream_log, COUNT)
    return jetstream_log


async def test_a_range_read_over_the_wire_equals_the_clients(filled: JetStreamLog, nats_url: str) -> None:
    start, end = 123, COUNT - 5
    seqs: list[int] = []
    payloads: list[bytes] = []
    async for got_seqs, got_payloads in wireread.read_range(nats_url, filled.stream, start, end):
        seqs.extend(got_seqs)
        payloads.extend(got_payloads)
    # The ephemeral consumer is deleted when the read ends.
    assert await consumers(filled) == 0
    expected = await client_read(filled, start, end)
    assert seqs == [r.seq for r in expected] == list(range(start, end + 1))
    assert [filled._codec.decode(p) for p in payloads] == [r.event for r in expected]


async def consumers(events: JetStreamLog) -> int:
    """The stream's consumer count once deletions in flight have gone through, or after 5 s."""
    for _ in range(50):
        count = (await events.jetstream.stream_info(events.stream)).state.consumer_count
        if count == 0:
            break
        await asyncio.sleep(0.1)
    return count


@pytest.fixture
async def holed(nats_url: str) -> AsyncIterator[tuple[str, int]]:
    """A stream that allows deletes (the log does not) with holes in the middle and at the end."""
    client = await connect([nats_url], name="tests")
    name = unique_stream().name
    js = client.jetstream()
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    try:
        for start in range(0, COUNT, 500):
            await asyncio.gather(*(js.publish(f"{name.lower()}.m", str(i).encode())
                                   for i in range(start, min(start + 500, COUNT))))
        yield name, COUNT
    finally:
        await js.delete_stream(name)
        await client.close()


async def test_a_bounded_read_skips_deleted_messages(holed: tuple[str, int], nats_url: str) -> None:
    name, count = holed
    client = await connect([nats_url], name="tests")
    try:
        gone = {5, 6, wireread.PULL, wireread.PULL + 1, count - 1, count}
        for seq in gone:
            await client.jetstream().delete_msg(name, seq)
    finally:
        await client.close()
    seqs: list[int] = []
    payloads: list[bytes] = []
    async for got_seqs, got_payloads in wireread.read_range(nats_url, name, 1, count):
        seqs.extend(got_seqs)
        payloads.extend(got_payloads)
    kept = [s for s in range(1, count + 1) if s not in gone]
    assert seqs == kept
    assert payloads == [str(s - 1).encode() for s in kept]


async def test_long_bounded_reads_of_the_log_go_over_the_wire(
    filled: JetStreamLog, caplog: pytest.LogCaptureFixture
) -> None:
    assert COUNT >= WIRE_READ_MIN
    caplog.set_level(logging.INFO, logger="core.jetstream")
    got = [r async for batch in filled.read_batches(1, follow=False, size=1000) for r in batch]
    assert got == await client_read(filled, 1, COUNT)
    assert not [r for r in caplog.records if "through the client" in r.getMessage()]


async def test_what_the_wire_cannot_do_is_refused_before_any_batch(nats_url: str) -> None:
    with pytest.raises(wireread.Unsupported, match="stream not found"):
        async for _ in wireread.read_range(nats_url, unique_stream().name, 1, 10):
            pass
    with pytest.raises(wireread.Unsupported, match="scheme"):
        async for _ in wireread.read_range("tls://127.0.0.1:4222", "S", 1, 10):
            pass


@pytest.fixture
async def password_broker(tmp_path: Path) -> AsyncIterator[KillableBroker]:
    broker = KillableBroker(tmp_path / "nats", options=("--user", "reader", "--pass", "s3cret"))
    await broker.start()
    yield broker
    await broker.kill()


async def test_a_server_with_a_password_is_read_with_the_urls_credentials(
    password_broker: KillableBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.jetstream")
    url = password_broker.url.replace("nats://", "nats://reader:s3cret@")
    client = await connect([url], name="tests")
    try:
        events = JetStreamLog(client, StreamSettings(name="PW", prefix="pw"))
        await events.ensure_stream()
        await fill(events, WIRE_READ_MIN + 10)
        seqs = [seq async for got, _ in wireread.read_range(url, "PW", 1, WIRE_READ_MIN + 10) for seq in got]
        assert seqs == list(range(1, WIRE_READ_MIN + 11))
        # The log's own bulk reads log in with the credentials of the client's connection.
        got = [r.seq async for batch in events.read_batches(1, follow=False, size=1000) for r in batch]
        assert got == seqs
        assert not [r for r in caplog.records if "through the client" in r.getMessage()]
        with pytest.raises(wireread.Unsupported, match="Authorization"):
            async for _ in wireread.read_range(password_broker.url, "PW", 1, 10):
                pass
    finally:
        await client.close()


async def test_a_bulk_read_that_breaks_off_is_finished_through_the_client(
    filled: JetStreamLog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = wireread.read_range

    async def breaks_after_one_pull(url: str, stream: str, start: int, end: int) -> AsyncIterator[
        tuple[list[int], list[bytes]]
    ]:
        async for got in real(url, stream, start, end):
            yield got
            raise wireread.WireError("the connection dropped")

    monkeypatch.setattr(wireread, "read_range", breaks_after_one_pull)
    caplog.set_level(logging.INFO, logger="core.jetstream")
    got = [r async for batch in filled.read_batches(1, follow=False, size=1000) for r in batch]
    assert [r.seq for r in got] == list(range(1, COUNT + 1))
    assert got == await client_read(filled, 1, COUNT)
    assert [r for r in caplog.records if "reading on through the client" in r.getMessage()]
