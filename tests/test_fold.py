"""A rebuild's fold on one thread or applied apart in a second process, and the planner writing a row once
instead of twice."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from core.events import AnyEvent, Followed, MediaUpdated
from core.jetstream import WIRE_READ_MIN, JetStreamLog
from core.log import Record
from mediaplex.runtime import projection_at
from store.changes import Change, Deliver, Sweep
from store.fold import APART, ApplyFailed, fold
from store.projection import Projection, Statements, _digest
from store.readmodel import Patch, Put, changes
from tests.test_projection import processed, tangled_events, uploaded


def checkpoint(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT seq FROM checkpoint WHERE id = 1").fetchone()[0])
    finally:
        conn.close()


def mixed_log() -> list[AnyEvent]:
    """Every kind the tangled log has, repeated past the length a rebuild reads over the wire reader."""
    events: list[AnyEvent] = []
    while len(events) <= WIRE_READ_MIN:
        events.extend(tangled_events())
        events.extend(e for i in range(len(events), len(events) + 40) for e in (uploaded(str(i)), processed(str(i))))
    return events


async def append(log: JetStreamLog, events: list[AnyEvent]) -> None:
    for i, event in enumerate(events):
        await log.append(event, msg_id=f"m{i}")


async def one_batch_at_a_time(events: list[AnyEvent], path: Path) -> tuple[int, str]:
    """The reference: each record applied alone, so no grouping or merging can reorder anything."""
    projection = Projection(path)
    await projection.open()
    for seq, event in enumerate(events, start=1):
        await projection.apply([Record(seq, event)])
    folded = await projection.digest()
    await projection.close()
    return folded


# How a fold applies: on this process's thread (the default below APART records), or apart in a second
# process however short the log.
HOW = pytest.mark.parametrize("apart", [APART, 0], ids=["one-thread", "apart"])


@HOW
async def test_a_fold_gives_the_digest_of_records_applied_one_by_one(
    jetstream_log: JetStreamLog, tmp_path: Path, apart: int
) -> None:
    events = mixed_log()
    await append(jetstream_log, events)
    path = tmp_path / "projection-1.db"
    path.with_name(path.name + ".building").touch()
    seen: list[int] = []
    async with projection_at(path) as projection:
        assert projection.apart
        assert await fold(jetstream_log, projection, on_batch=seen.append, batch=97, apart=apart) == len(events)
        assert checkpoint(path) == len(events)
        folded = await projection.digest()
    assert folded == await one_batch_at_a_time(events, tmp_path / "reference.db")
    # An answer per list (at least `batch` records each, as the socket reads fall), in order, the last at
    # the head; applied apart, once the second process committed it.
    assert len(seen) > 1 and seen == sorted(set(seen)) and seen[-1] == len(events)


@HOW
async def test_an_interrupted_fold_resumes_from_its_checkpoint_to_the_same_digest(
    jetstream_log: JetStreamLog, tmp_path: Path, apart: int
) -> None:
    events = mixed_log()
    await append(jetstream_log, events)
    path = tmp_path / "projection-1.db"
    path.with_name(path.name + ".building").touch()

    def stop_after_the_second(applied: int) -> None:
        if applied > 2 * 500:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with projection_at(path) as projection:
            try:
                await fold(jetstream_log, projection, on_batch=stop_after_the_second, batch=500, apart=apart)
            finally:
                # Applied apart, the second process may have committed lists past the one acknowledged last.
                assert projection.applied == checkpoint(path) > 2 * 500
    part = checkpoint(path)
    if apart == APART:
        # On one thread nothing is committed past the list whose acknowledgement stopped the fold.
        assert part < len(events)
    async with projection_at(path) as projection:
        assert projection.applied == part
        await fold(jetstream_log, projection, batch=500, apart=apart)
        folded = await projection.digest()
    assert folded == await one_batch_at_a_time(events, tmp_path / "reference.db")


async def test_a_fold_applied_apart_refuses_a_file_another_writer_moved_on(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    await append(jetstream_log, mixed_log()[:300])
    path = tmp_path / "projection-1.db"
    path.with_name(path.name + ".building").touch()
    async with projection_at(path) as projection:
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("UPDATE checkpoint SET seq = 7 WHERE id = 1")
        conn.close()
        with pytest.raises(ApplyFailed, match="planned from sequence 0, but the file is at 7"):
            await fold(jetstream_log, projection, apart=0)
        # Nothing of the list went in, and the projection knows where the file is.
        assert projection.applied == checkpoint(path) == 7


def run(path: Path, plans: list[list[Change]]) -> tuple[int, str]:
    """Each list planned and run on its own, in order; the digest after."""
    conn = sqlite3.connect(path, isolation_level=None)
    for batch in plans:
        for sql, params in Statements().plan([batch]):
            conn.execute(sql, params)
    try:
        return _digest(conn)
    finally:
        conn.close()


async def empty(path: Path) -> Path:
    projection = Projection(path)
    await projection.open()
    await projection.close()
    return path


async def test_a_patch_of_a_row_the_plan_puts_goes_into_the_put(tmp_path: Path) -> None:
    put, patch = changes(uploaded("1"), 1), changes(processed("1"), 2)
    merged = Statements().plan([put, patch])
    assert not any(sql.startswith("UPDATE") for sql, _ in merged)
    assert run(await empty(tmp_path / "merged.db"), [put + patch]) == run(
        await empty(tmp_path / "alone.db"), [put, patch])


async def test_a_patch_after_a_sweep_or_a_delivery_that_may_see_the_row_is_not_merged(tmp_path: Path) -> None:
    row = changes(uploaded("1"), 1)
    # The sweep removes the row as Put, by the blob the patch then changes: merged, it would miss it.
    swept = [*row, Sweep("media", "blob", "b" * 64), Patch("media", "1", {"blob": "c" * 64})]
    follow = changes(Followed(at=1.0, follow_id="f", follower="bob", followee="alice"), 1)
    assert isinstance(follow[0], Put) and follow[0].row["entry"] == "bob:alice"
    # A delivery reads `follows` between the Put and the Patch: bob must still be found following alice.
    delivered = [*follow, Deliver("alice", 2, "act", 1, "s"), Patch("follows", "bob:alice", {"followee": "nobody"})]
    for name, batch in (("swept", swept), ("delivered", delivered)):
        plan = Statements().plan([batch])
        assert any(sql.startswith("UPDATE") for sql, _ in plan), name
        assert run(await empty(tmp_path / f"{name}-1.db"), [batch]) == run(
            await empty(tmp_path / f"{name}-2.db"), [[c] for c in batch]), name


async def test_many_updates_of_one_row_fold_as_applied_one_by_one(tmp_path: Path) -> None:
    events: list[AnyEvent] = [uploaded("1"), processed("1")]
    events += [MediaUpdated(at=20.0 + i, media_id="1", description=f"d{i}") for i in range(5)]
    batch = [c for seq, e in enumerate(events, start=1) for c in changes(e, seq)]
    assert run(await empty(tmp_path / "one.db"), [batch]) == run(
        await empty(tmp_path / "each.db"), [[c] for c in batch])


async def test_indexes_built_again_beside_the_digest_end_as_a_live_projection_has_them(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    events = mixed_log()[:300]
    await append(jetstream_log, events)
    path = tmp_path / "projection-1.db"
    path.with_name(path.name + ".building").touch()
    async with projection_at(path) as projection:
        await fold(jetstream_log, projection)
        schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        conn = sqlite3.connect(path)
        dropped = conn.execute(schema).fetchall()
        conn.close()
        folded, _ = await asyncio.gather(projection.digest(), projection.restore_indexes())
    assert folded == await one_batch_at_a_time(events, tmp_path / "reference.db")
    conn = sqlite3.connect(path)
    built = conn.execute(schema).fetchall()
    conn.close()
    conn = sqlite3.connect(tmp_path / "reference.db")
    assert built == conn.execute(schema).fetchall()
    conn.close()
    # While folding the file had none of its secondary indexes; they are all back, and durable.
    assert len(built) > len(dropped)
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
