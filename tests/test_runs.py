"""Runs of uploads and outcomes folded in one pass, against the same records applied one by one, and the
digest that compares them."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from core.events import (
    AnyEvent,
    Focus,
    MediaMeta,
    MediaProcessed,
    MediaRequested,
    MediaUpdated,
    MediaUploaded,
    RenditionInfo,
)
from core.log import Record
from store.projection import Statements, _digest
from store.readmodel import changes
from store.runs import RUN, fold_run, split_runs
from tests.test_fold import empty


def upload(media_id: str, at: float, *, focus: Focus | None = None) -> MediaUploaded:
    return MediaUploaded(at=at, media_id=media_id, owner_id=f"user{len(media_id) % 3}", blob=f"{at:064.0f}"[-64:],
                         size=int(at), content_type="image/jpeg", width=640, height=480, filename=f"{media_id}.jpg",
                         description="d" * (int(at) % 4), focus=focus, via="mastodon")


def outcome(media_id: str, at: float, *, styles: tuple[str, ...] = ("original", "small", "thumb"),
            meta: MediaMeta | None = None) -> MediaProcessed:
    renditions = tuple(RenditionInfo(style, 100 + i, 80 + i, "image/jpeg", int(at) + i)
                       for i, style in enumerate(styles))
    return MediaProcessed(at=at, media_id=media_id, blob="c" * 64, version=int(at) % 3 + 1, renditions=renditions,
                          blurhash="L" * 28, meta=meta)


def shuffled_run(rng: random.Random, length: int) -> list[AnyEvent]:
    """Uploads and outcomes of a few media in any order: uploads again, outcomes before their upload,
    outcomes of media from before the run, styles twice, focus and meta on some only."""
    ids = [f"m{i}" for i in range(length // 4)] + [f"old{i}" for i in range(4)]
    events: list[AnyEvent] = []
    for i in range(length):
        at = 1_700_000_000.123456 + i
        media_id = rng.choice(ids)
        if rng.random() < 0.5 and not media_id.startswith("old"):
            focus = Focus(rng.uniform(-1, 1), rng.uniform(-1, 1)) if rng.random() < 0.2 else None
            events.append(upload(media_id, at, focus=focus))
        else:
            styles = rng.choice([("original", "small"), ("original", "small", "thumb"), ("small", "original", "small")])
            meta = MediaMeta(width=64, height=48, duration=at % 7) if rng.random() < 0.2 else None
            events.append(outcome(media_id, at, styles=styles, meta=meta))
    return events


def applied(path: Path, batches: list[list[Record]], plan: str) -> str:
    """The digest after each batch ran in one transaction, planned by `plan_records` or change by change."""
    conn = sqlite3.connect(path, isolation_level=None)
    statements = Statements()
    try:
        for records in batches:
            conn.execute("BEGIN")
            if plan == "runs":
                planned = statements.plan_records(records)
            else:
                planned = [s for r in records for s in statements.plan([changes(r.event, r.seq)])]
            for sql, params in planned:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        return _digest(conn)[1]
    finally:
        conn.close()


def records(events: list[AnyEvent], start: int = 1) -> list[Record]:
    return [Record(seq, event) for seq, event in enumerate(events, start=start)]


@pytest.mark.parametrize("seed", range(6))
async def test_a_run_leaves_the_rows_its_records_leave_applied_one_by_one(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    before = records([upload(f"old{i}", 1_600_000_000.5 + i) for i in range(4)]
                     + [MediaRequested(at=1.0, media_id=f"m{i}", owner_id="alice", filename="x.jpg",
                                       content_type="image/jpeg", max_bytes=10, expires_at=9.0) for i in range(8)])
    run = records(shuffled_run(rng, 6 * RUN), start=len(before) + 1)
    assert [(is_run, len(part)) for is_run, part in split_runs(run)] == [(True, len(run))]
    folded = fold_run(run)
    # The draw reaches every case the run folds: rows it writes, rows from before it, requests it removes.
    assert folded.rows and folded.outcomes and folded.requests
    by_runs = applied(await empty(tmp_path / "runs.db"), [before, run], "runs")
    one_by_one = applied(await empty(tmp_path / "each.db"), [before, run], "each")
    assert by_runs == one_by_one


async def test_runs_amid_other_changes_fold_as_applied_one_by_one(tmp_path: Path) -> None:
    rng = random.Random(7)
    events: list[AnyEvent] = []
    for i in range(5):
        events.extend(shuffled_run(rng, RUN + i * 13))
        # A description between runs, of a row the next run may write whole or only finish.
        events.append(MediaUpdated(at=5.0 + i, media_id=f"m{i}", description=f"between {i}"))
        events.extend(shuffled_run(rng, 3))
    batch = records(events)
    parts = list(split_runs(batch))
    assert [is_run for is_run, _ in parts] == [True, False] * 5
    assert [r for _, part in parts for r in part] == batch
    assert applied(await empty(tmp_path / "runs.db"), [batch], "runs") == applied(
        await empty(tmp_path / "each.db"), [batch], "each")


def test_runs_shorter_than_the_least_stay_among_the_other_changes() -> None:
    short = records(shuffled_run(random.Random(1), RUN - 1))
    assert list(split_runs(short)) == [(False, short)]
    between = MediaUpdated(at=1.0, media_id="m0", description="x")
    batch = records([between, *shuffled_run(random.Random(2), RUN), between, *shuffled_run(random.Random(3), RUN - 1)])
    assert [(is_run, len(part)) for is_run, part in split_runs(batch)] == [(False, 1), (True, RUN), (False, RUN)]
    assert list(split_runs([])) == []


async def test_the_digest_tells_apart_times_a_microsecond_apart(tmp_path: Path) -> None:
    digests = []
    for name, at in (("a", 1_700_000_000.123456), ("b", 1_700_000_000.123457)):
        path = await empty(tmp_path / f"{name}.db")
        digests.append(applied(path, [records([upload("m1", at)])], "runs"))
    assert digests[0] != digests[1]
