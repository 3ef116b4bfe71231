"""The event log contract, run against the in-memory log and the real JetStream log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.events import MediaDeleted, MediaFailed, MediaUpdated, UserAdded, outcome_subject
from core.jetstream import JetStreamLog, connect
from core.log import Conflict, EventLog
from core.memlog import MemoryLog
from tests.conftest import unique_stream


@pytest.fixture(params=["memory", "jetstream"])
async def events(request: pytest.FixtureRequest, nats_url: str) -> AsyncIterator[EventLog]:
    if request.param == "memory":
        yield MemoryLog()
        return
    client = await connect([nats_url], name="contract")
    log = JetStreamLog(client, unique_stream())
    await log.ensure_stream()
    yield log
    await client.close()


def user(name: str) -> UserAdded:
    return UserAdded(at=1.0, user_id=name, password_hash="x")


async def test_append_returns_increasing_sequences(events: EventLog) -> None:
    assert await events.last_seq() == 0
    first = await events.append(user("a"), msg_id="a")
    second = await events.append(user("b"), msg_id="b")
    assert (first, second) == (1, 2)
    assert await events.last_seq() == 2


async def test_same_msg_id_is_appended_once(events: EventLog) -> None:
    first = await events.append(user("a"), msg_id="same")
    again = await events.append(user("a"), msg_id="same")
    assert again == first
    assert await events.last_seq() == 1


async def test_expected_last_zero_admits_one_writer(events: EventLog) -> None:
    on = outcome_subject("9")
    await events.append(MediaFailed(at=1.0, media_id="9", reason="x"), msg_id="o1", expected_last=0, expected_on=on)
    with pytest.raises(Conflict):
        await events.append(MediaFailed(at=1.0, media_id="9", reason="y"), msg_id="o2", expected_last=0,
                            expected_on=on)
    assert await events.last_seq() == 1


async def test_expected_last_on_an_aggregate_filter(events: EventLog) -> None:
    seq = await events.append(MediaUpdated(at=1.0, media_id="5", description="a"), msg_id="u1")
    await events.append(MediaDeleted(at=2.0, media_id="5"), msg_id="d1", expected_last=seq,
                        expected_on="mx.media.5.>")
    with pytest.raises(Conflict):
        await events.append(MediaUpdated(at=3.0, media_id="5", description="b"), msg_id="u2",
                            expected_last=seq, expected_on="mx.media.5.>")


async def test_last_on_a_subject(events: EventLog) -> None:
    assert await events.last_on("mx.user.a.added") == 0
    await events.append(user("b"), msg_id="b")
    seq = await events.append(user("a"), msg_id="a")
    assert await events.last_on("mx.user.a.added") == seq


async def test_read_to_the_head_and_follow(events: EventLog) -> None:
    for name in "abc":
        await events.append(user(name), msg_id=name)
    got = [r async for r in events.read(2, follow=False)]
    assert [(r.seq, r.event.user_id) for r in got] == [(2, "b"), (3, "c")]  # type: ignore[union-attr]
    assert [r async for r in events.read(4, follow=False)] == []

    async def two_more() -> list[int]:
        seqs = []
        async for record in events.read(3, follow=True):
            seqs.append(record.seq)
            if len(seqs) == 2:
                return seqs
        return seqs

    follower = asyncio.create_task(two_more())
    await asyncio.sleep(0.1)
    await events.append(user("d"), msg_id="d")
    assert await asyncio.wait_for(follower, 5) == [3, 4]


async def test_bounded_batches_hold_exactly_the_range(events: EventLog) -> None:
    for i in range(25):
        await events.append(user(f"u{i}"), msg_id=f"u{i}")
    batches = events.read_batches(1, follow=False, size=4)
    first = await anext(batches)
    # Appended after the read began: past its end, so never part of it.
    await events.append(user("late"), msg_id="late")
    rest = [batch async for batch in batches]
    seqs = [r.seq for batch in [first, *rest] for r in batch]
    assert seqs == list(range(1, 26))
    assert all(1 <= len(batch) <= 4 for batch in [first, *rest])
    assert [r.event.user_id for r in first] == ["u0", "u1", "u2", "u3"][:len(first)]  # type: ignore[union-attr]


async def test_batches_from_a_middle_sequence(events: EventLog) -> None:
    for i in range(30):
        await events.append(user(f"u{i}"), msg_id=f"u{i}")
    seqs = [r.seq async for batch in events.read_batches(12, follow=False, size=7) for r in batch]
    assert seqs == list(range(12, 31))
    assert [r async for batch in events.read_batches(31, follow=False, size=7) for r in batch] == []
    one = [r.seq async for r in events.read(30, follow=False)]
    assert one == [30]


async def test_following_batches_see_new_events(events: EventLog) -> None:
    for name in "ab":
        await events.append(user(name), msg_id=name)

    async def until(last: int) -> list[int]:
        seqs: list[int] = []
        async for batch in events.read_batches(1, follow=True, size=100):
            seqs.extend(r.seq for r in batch)
            if seqs[-1] >= last:
                return seqs
        return seqs

    follower = asyncio.create_task(until(5))
    await asyncio.sleep(0.1)
    for name in "cde":
        await events.append(user(name), msg_id=name)
    assert await asyncio.wait_for(follower, 5) == [1, 2, 3, 4, 5]
