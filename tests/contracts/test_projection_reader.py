"""The projection reader contract: what request handlers read through, one file or the live generation.

Each implementation is one entry in READERS: the reader under test plus the projection its events are
folded into. `live-swapped` is a LiveProjection after a swap, reading the generation that replaced the first.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec
import pytest

from core.log import Record
from mediaplex.runtime import projection_at
from store.live import LiveProjection
from store.projection import Projection
from store.reader import ProjectionReader
from tests.test_projection import uploaded

# How long a wait that must not succeed is given; what is asserted is its answer, not its duration.
SHORT = 0.05
# A wait that must succeed; it returns as soon as it does.
LONG = 30.0


class Subject(msgspec.Struct):
    reader: ProjectionReader
    # Where records are folded for this reader to see.
    folds: Projection


Opener = Callable[[AsyncExitStack, Path], Awaitable[Subject]]


async def plain(stack: AsyncExitStack, root: Path) -> Subject:
    projection = await stack.enter_async_context(projection_at(root / "one.db"))
    return Subject(reader=projection, folds=projection)


async def live(stack: AsyncExitStack, root: Path) -> Subject:
    projection = await stack.enter_async_context(projection_at(root / "live.db"))
    return Subject(reader=LiveProjection(projection), folds=projection)


async def live_swapped(stack: AsyncExitStack, root: Path) -> Subject:
    old = await stack.enter_async_context(projection_at(root / "old.db"))
    new = await stack.enter_async_context(projection_at(root / "new.db"))
    reader = LiveProjection(old)
    reader.swap(new)
    return Subject(reader=reader, folds=new)


READERS: dict[str, Opener] = {"projection": plain, "live": live, "live-swapped": live_swapped}


@pytest.fixture(params=list(READERS))
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async with AsyncExitStack() as stack:
        yield await READERS[request.param](stack, tmp_path)


async def fold(subject: Subject, *media_ids: str, first: int | None = None) -> None:
    seq = subject.folds.applied + 1 if first is None else first
    await subject.folds.apply([Record(seq + n, uploaded(m)) for n, m in enumerate(media_ids)])


async def test_a_fresh_reader_has_applied_nothing_and_finds_nothing(subject: Subject) -> None:
    reader = subject.reader
    assert reader.applied == 0
    assert await reader.one("SELECT media_id FROM media WHERE media_id = ?", ("1",)) is None
    assert reader.path == subject.folds.path and reader.path.exists()


async def test_one_answers_the_first_row_or_none(subject: Subject) -> None:
    await fold(subject, "1", "2")
    row = await subject.reader.one("SELECT media_id, owner_id FROM media WHERE media_id = ?", ("2",))
    assert row is not None and (row["media_id"], row["owner_id"]) == ("2", "alice")
    first = await subject.reader.one("SELECT media_id FROM media ORDER BY media_id")
    assert first is not None and first["media_id"] == "1"
    assert await subject.reader.one("SELECT media_id FROM media WHERE media_id = ?", ("3",)) is None


async def test_read_runs_a_function_on_a_connection_and_returns_its_answer(subject: Subject) -> None:
    await fold(subject, "1", "2", "3")

    def ids(conn: sqlite3.Connection) -> list[str]:
        return [row[0] for row in conn.execute("SELECT media_id FROM media ORDER BY media_id")]

    assert await subject.reader.read(ids) == ["1", "2", "3"]


async def test_a_failing_read_raises_to_the_caller_and_the_reader_keeps_answering(subject: Subject) -> None:
    await fold(subject, "1")
    with pytest.raises(sqlite3.OperationalError):
        await subject.reader.one("SELECT nothing FROM no_such_table")
    assert await subject.reader.one("SELECT media_id FROM media") is not None


async def test_applied_follows_the_folded_sequence_and_ignores_redelivery(subject: Subject) -> None:
    await fold(subject, "1", "2")
    assert subject.reader.applied == 2
    await fold(subject, "1", "2", first=1)
    assert subject.reader.applied == 2
    await fold(subject, "3")
    assert subject.reader.applied == 3


async def test_wait_for_an_applied_sequence_answers_at_once(subject: Subject) -> None:
    await fold(subject, "1", "2")
    assert await subject.reader.wait_for(2, timeout=SHORT) is True
    assert await subject.reader.wait_for(1, timeout=SHORT) is True
    assert await subject.reader.wait_for(0, timeout=0) is True


async def test_wait_for_a_later_sequence_returns_once_it_is_folded(subject: Subject) -> None:
    await fold(subject, "1")
    waiting = asyncio.create_task(subject.reader.wait_for(3, timeout=LONG))
    await fold(subject, "2")
    await asyncio.sleep(0)
    assert not waiting.done()
    await fold(subject, "3")
    assert await waiting is True
    row = await subject.reader.one("SELECT media_id FROM media WHERE media_id = '3'")
    assert row is not None


async def test_wait_for_a_sequence_never_folded_answers_false(subject: Subject) -> None:
    await fold(subject, "1")
    assert await subject.reader.wait_for(2, timeout=SHORT) is False
    assert await subject.reader.wait_for(2, timeout=0) is False


async def test_wait_until_rechecks_after_every_fold(subject: Subject) -> None:
    seen: list[bool] = []
    checked = asyncio.Event()

    async def has_two() -> bool:
        found = await subject.reader.one("SELECT 1 FROM media WHERE media_id = '2'") is not None
        seen.append(found)
        checked.set()
        return found

    async def next_check() -> None:
        async with asyncio.timeout(LONG):
            await checked.wait()
        checked.clear()

    waiting = asyncio.create_task(subject.reader.wait_until(has_two, timeout=LONG))
    await next_check()
    await fold(subject, "1")
    await next_check()
    assert not waiting.done()
    await fold(subject, "2")
    assert await waiting is True
    # Once at the start, once after each fold, and no more once it held.
    assert seen == [False, False, True]


async def test_wait_until_a_check_that_holds_already_answers_at_once(subject: Subject) -> None:
    async def holds() -> bool:
        return True

    assert await subject.reader.wait_until(holds, timeout=0) is True


async def test_wait_until_a_check_that_never_holds_answers_false(subject: Subject) -> None:
    async def never() -> bool:
        return False

    await fold(subject, "1")
    assert await subject.reader.wait_until(never, timeout=SHORT) is False


async def test_a_check_that_raises_raises_to_the_waiter(subject: Subject) -> None:
    async def broken() -> bool:
        raise LookupError("no such thing")

    with pytest.raises(LookupError):
        await subject.reader.wait_until(broken, timeout=SHORT)


async def test_equal_folds_give_equal_digests(subject: Subject, tmp_path: Path) -> None:
    before = await subject.reader.digest()
    await fold(subject, "1", "2")
    after = await subject.reader.digest()
    assert after != before and after[0] == 2
    async with projection_at(tmp_path / "fresh.db") as fresh:
        await fresh.apply([Record(1, uploaded("1")), Record(2, uploaded("2"))])
        assert await fresh.digest() == after
