"""Read-your-writes waits on a real projection file: who wakes after which batch, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.events import AnyEvent, MediaDeleted, MediaUpdated
from core.log import Record
from mediaplex.runtime import projection_at
from store.live import LiveProjection
from store.projection import Projection
from tests.test_projection import processed, uploaded

DEADLINE = 10.0


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    async with projection_at(tmp_path / "p.db") as opened:
        yield opened


async def settle() -> None:
    """Lets every task a batch resolved run to its next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def apply(projection: Projection, *events: AnyEvent) -> None:
    first = projection.applied + 1
    await projection.apply([Record(seq, event) for seq, event in enumerate(events, start=first)])
    await settle()


async def test_a_waiter_sleeps_through_the_batches_below_its_sequence(projection: Projection) -> None:
    waiter = asyncio.create_task(projection.wait_for(5, DEADLINE))
    await settle()
    for i in range(1, 5):
        await apply(projection, uploaded(str(i)))
        assert not waiter.done()
        assert projection.wakeups == 0
    await apply(projection, uploaded("5"))
    assert waiter.done() and waiter.result() is True
    assert projection.wakeups == 1
    assert projection.waiting() == 0


async def test_many_waiters_at_different_sequences_each_wake_once_when_theirs_lands(projection: Projection) -> None:
    rng = random.Random(3)
    targets = [rng.randint(1, 40) for _ in range(60)]
    woke_at: dict[int, int] = {}

    async def wait(index: int, seq: int) -> None:
        assert await projection.wait_for(seq, DEADLINE)
        woke_at[index] = projection.applied

    waiters = [asyncio.create_task(wait(i, seq)) for i, seq in enumerate(targets)]
    await settle()
    assert projection.waiting() == len(targets)
    batches = 0
    while projection.applied < 40:
        await apply(projection, *(uploaded(f"{projection.applied}-{n}") for n in range(rng.randint(1, 4))))
        batches += 1
        # Exactly the waiters whose sequence is in are done, and each was woken once.
        assert sorted(woke_at) == [i for i, seq in enumerate(targets) if seq <= projection.applied]
        assert projection.wakeups == len(woke_at)
    await asyncio.gather(*waiters)
    assert batches > 10
    assert projection.wakeups == len(targets)
    # Each woke on the batch that reached it: the first applied sequence at or past its own.
    assert all(seq <= woke_at[i] < seq + 4 for i, seq in enumerate(targets))
    assert projection.waiting() == 0


async def test_a_wait_that_times_out_says_so_and_leaves_nothing_behind(projection: Projection) -> None:
    assert await projection.wait_for(3, 0.05) is False
    assert await projection.wait_for(3, 0) is False

    async def never() -> bool:
        return False

    assert await projection.wait_until(never, 0.05) is False
    assert await projection.wait_until(never, 0.05, row=("media", "1")) is False
    assert projection.waiting() == 0
    await apply(projection, uploaded("1"), uploaded("2"), uploaded("3"))
    assert projection.wakeups == 0
    assert await projection.wait_for(3, 0) is True


async def test_a_cancelled_waiter_leaves_nothing_behind(projection: Projection) -> None:
    async def never() -> bool:
        return False

    waits = [asyncio.create_task(projection.wait_for(2, DEADLINE)),
             asyncio.create_task(projection.wait_until(never, DEADLINE)),
             asyncio.create_task(projection.wait_until(never, DEADLINE, row=("media", "1")))]
    await settle()
    assert projection.waiting() == 3
    for wait in waits:
        wait.cancel()
    await asyncio.gather(*waits, return_exceptions=True)
    assert all(wait.cancelled() for wait in waits)
    assert projection.waiting() == 0
    await apply(projection, uploaded("1"), uploaded("2"))
    assert projection.wakeups == 0


async def test_a_cancellation_arriving_with_the_batch_is_not_lost(projection: Projection) -> None:
    waiter = asyncio.create_task(projection.wait_for(1, DEADLINE))
    await settle()
    await projection.apply([Record(1, uploaded("1"))])
    # The batch has resolved the wait, but the waiter has not run yet.
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert projection.waiting() == 0


async def test_a_row_check_runs_again_only_after_batches_that_change_its_row(projection: Projection) -> None:
    await apply(projection, uploaded("1"))
    checks = 0

    async def ready() -> bool:
        nonlocal checks
        checks += 1
        row = await projection.one("SELECT status FROM media WHERE media_id = '1'")
        return row is not None and row["status"] == "ready"

    waiter = asyncio.create_task(projection.wait_until(ready, DEADLINE, row=("media", "1")))
    await settle()
    await asyncio.sleep(0.05)
    assert checks == 1
    for i in range(2, 30):
        await apply(projection, uploaded(str(i)), processed(str(i)))
    assert checks == 1 and not waiter.done()
    await apply(projection, MediaUpdated(at=3.0, media_id="1", description="still processing"))
    await asyncio.sleep(0.05)
    assert checks == 2 and not waiter.done()
    await apply(projection, processed("1"))
    async with asyncio.timeout(DEADLINE):
        assert await waiter is True
    assert checks == 3
    assert projection.waiting() == 0


async def test_a_row_check_wakes_when_its_row_goes(projection: Projection) -> None:
    await apply(projection, uploaded("1"))

    async def gone() -> bool:
        return await projection.one("SELECT 1 FROM media WHERE media_id = '1'") is None

    waiter = asyncio.create_task(projection.wait_until(gone, DEADLINE, row=("media", "1")))
    await settle()
    await apply(projection, uploaded("2"))
    assert not waiter.done()
    await apply(projection, MediaDeleted(at=4.0, media_id="1"))
    async with asyncio.timeout(DEADLINE):
        assert await waiter is True


async def test_a_row_check_that_read_before_a_batch_in_flight_still_sees_it(projection: Projection) -> None:
    await apply(projection, uploaded("1"))
    checks = 0
    landing: list[asyncio.Task[int]] = []

    async def ready() -> bool:
        nonlocal checks
        checks += 1
        row = await projection.one("SELECT status FROM media WHERE media_id = '1'")
        if not landing:
            # The batch that makes it ready starts after this read and before the waiter registers:
            # it could not have known about the waiter when it began.
            landing.append(asyncio.create_task(projection.apply([Record(2, processed("1"))])))
            await asyncio.sleep(0)
        return row is not None and row["status"] == "ready"

    async with asyncio.timeout(DEADLINE):
        assert await projection.wait_until(ready, DEADLINE, row=("media", "1")) is True
        await landing[0]
    assert checks == 2


async def test_a_check_without_a_row_runs_after_every_batch(projection: Projection) -> None:
    checks = 0

    async def three() -> bool:
        nonlocal checks
        checks += 1
        row = await projection.one("SELECT count(*) AS n FROM media")
        return row is not None and row["n"] >= 3

    waiter = asyncio.create_task(projection.wait_until(three, DEADLINE))
    await settle()
    await asyncio.sleep(0.05)
    for i in range(1, 4):
        await apply(projection, uploaded(str(i)))
        await asyncio.sleep(0.05)
    async with asyncio.timeout(DEADLINE):
        assert await waiter is True
    assert checks == 4


async def test_a_wait_pinned_to_a_replaced_file_is_answered_by_that_file_then_the_new_one(tmp_path: Path) -> None:
    async with projection_at(tmp_path / "old.db") as old, projection_at(tmp_path / "new.db") as new:
        live = LiveProjection(old)
        waiter = asyncio.create_task(live.wait_for(2, DEADLINE))
        await settle()
        live.swap(new)
        await apply(old, uploaded("1"))
        await apply(new, uploaded("1"))
        assert not waiter.done()
        assert (old.wakeups, new.wakeups) == (0, 0)
        await apply(old, uploaded("2"))
        # Reached on the old file, it still waits for the new one to be as far.
        assert not waiter.done()
        assert new.waiting() == 1
        await apply(new, uploaded("2"))
        async with asyncio.timeout(DEADLINE):
            assert await waiter is True
        assert (old.wakeups, new.wakeups) == (1, 1)
        assert (old.waiting(), new.waiting()) == (0, 0)
