"""5. Event log and projection: appends, projection apply, rebuild, each against its bare counterpart."""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import io
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.js import api as js_api

from bench import stats
from bench.common import Outcome, Row, Settings, verdict
from core.broker import EmbeddedBroker
from core.config import Config
from core.events import AnyEvent, Codec, MediaProcessed, MediaUploaded, RenditionInfo
from core.jetstream import JetStreamLog, StreamSettings, connect
from core.log import Record
from mediaplex.cli import rebuild
from store.changes import Change, Deliver, Sweep
from store.projection import CHECKPOINT, Projection
from store.readmodel import TABLES, Patch, Put, Remove, changes

IN_FLIGHT = 64
BATCH = 1000
GOAL_EVENTS_PER_SECOND = 100_000
# Of the wire reader's rate: what a rebuild may cost on top of reading and decoding the log.
GOAL_OF_WIRE = 0.6
FULL_LOG = 1_000_000


def make_events(count: int) -> list[AnyEvent]:
    """Uploads each followed by its outcome, the bulk of any real Mediaplex log."""
    events: list[AnyEvent] = []
    for i in range(count // 2):
        media_id = f"{1_000_000_000 + i}"
        blob = hashlib.sha256(media_id.encode()).hexdigest()
        at = 1_700_000_000.0 + i
        events.append(MediaUploaded(
            at=at, media_id=media_id, owner_id=f"user{i % 100}", blob=blob, size=3_500_000,
            content_type="image/jpeg", width=4000, height=3000, filename=f"IMG_{i:05d}.jpg",
            description="A grey heron on the river bank", via="mastodon",
        ))
        events.append(MediaProcessed(
            at=at + 1, media_id=media_id, blob=blob, version=2,
            renditions=(
                RenditionInfo(style="original", width=3325, height=2494, content_type="image/jpeg",
                              size=1_900_000),
                RenditionInfo(style="small", width=554, height=416, content_type="image/jpeg", size=60_000),
                RenditionInfo(style="thumb", width=320, height=240, content_type="image/jpeg", size=20_000),
            ),
            blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        ))
    return events


async def in_flight(calls: Iterable[Callable[[], Awaitable[object]]], worker_count: int) -> float:
    """Runs the awaitables made by ``calls`` with at most ``worker_count`` outstanding; wall seconds."""
    pending = iter(calls)

    async def worker() -> None:
        for call in pending:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(worker_count)))
    return time.perf_counter() - started


async def append_all(events: JetStreamLog, log_events: list[AnyEvent]) -> float:
    return await in_flight(
        (functools.partial(events.append, event, msg_id=f"bench-{i}") for i, event in enumerate(log_events)),
        IN_FLIGHT,
    )


async def publish_all(client: Client, settings: StreamSettings, log_events: list[AnyEvent]) -> float:
    """The same bytes published straight to a stream: no codec, no Nats-Msg-Id header, no log port."""
    js = client.jetstream()
    await js.add_stream(js_api.StreamConfig(name=settings.name, subjects=[settings.subjects],
                                            storage=js_api.StorageType.FILE))
    codec = Codec()
    prefix = settings.prefix
    messages = [(f"{prefix}.{e.subject().partition('.')[2]}", codec.encode(e)) for e in log_events]
    return await in_flight(
        (functools.partial(js.publish, subject, payload, stream=settings.name) for subject, payload in messages),
        IN_FLIGHT,
    )


def batches(records: list[Record]) -> Iterator[list[Record]]:
    for start in range(0, len(records), BATCH):
        yield records[start:start + BATCH]


async def apply_all(path: Path, records: list[Record]) -> float:
    projection = Projection(path)
    await projection.open()
    try:
        started = time.perf_counter()
        for batch in batches(records):
            await projection.apply(batch)
        return time.perf_counter() - started
    finally:
        await projection.close()


def _statement(change: Change) -> tuple[str, tuple[Any, ...]]:
    if isinstance(change, Deliver):
        # The corpus is uploads and their outcomes: nothing in it reaches a follower's inbox.
        raise TypeError("the raw reference folds media events only")
    pk = next(t.pk for t in TABLES if t.name == change.table)
    match change:
        case Put(table, row):
            return (f"INSERT OR REPLACE INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                    tuple(row.values()))
        case Patch(table, key, fields):
            return (f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in fields)} WHERE {pk} = ?",
                    (*fields.values(), key))
        case Remove(table, key):
            return f"DELETE FROM {table} WHERE {pk} = ?", (key,)
        case Sweep(table, column, value):
            return f"DELETE FROM {table} WHERE {column} = ?", (value,)
    raise TypeError(type(change).__name__)


def plan(records: list[Record]) -> list[tuple[int, dict[str, list[tuple[Any, ...]]]]]:
    """Per batch, the parameters of each distinct statement, ready for executemany.

    Grouping by statement moves every update of a batch after its inserts; every update here
    follows its own upload's insert, so the rows come out the same.
    """
    planned = []
    for batch in batches(records):
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for record in batch:
            for change in changes(record.event, record.seq):
                sql, params = _statement(change)
                grouped.setdefault(sql, []).append(params)
        planned.append((batch[-1].seq, grouped))
    return planned


def raw_apply(path: Path, planned: list[tuple[int, dict[str, list[tuple[Any, ...]]]]]) -> float:
    """The same rows with sqlite3 alone: executemany, one transaction per batch, the same pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        for last, grouped in planned:
            conn.execute("BEGIN IMMEDIATE")
            for sql, rows in grouped.items():
                conn.executemany(sql, rows)
            conn.execute(f"UPDATE {CHECKPOINT} SET seq = ? WHERE id = 1", (last,))
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


async def bare_read(client: Client, settings: StreamSettings, count: int) -> float:
    """An ordered consumer over the whole stream, counting messages: what a rebuild cannot go below."""
    js = client.jetstream()
    started = time.perf_counter()
    sub = await js.subscribe(
        settings.subjects, stream=settings.name, ordered_consumer=True,
        config=js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.ALL),
        pending_msgs_limit=1 << 20, pending_bytes_limit=1 << 30,
    )
    seen = 0
    async for _msg in sub.messages:
        seen += 1
        if seen >= count:
            break
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return elapsed


async def wire_read(events: JetStreamLog) -> float:
    """The project's own bulk read (core/wireread.py) decoding every record: a rebuild without the fold."""
    started = time.perf_counter()
    async for _batch in events.read_batches(1, follow=False, size=5000):
        pass
    return time.perf_counter() - started


async def timed_rebuild(data_dir: Path, url: str, settings: StreamSettings) -> float:
    config = Config(data_dir=data_dir, nats_urls=(url,), stream=settings.name, subject_prefix=settings.prefix)
    out = io.StringIO()
    started = time.perf_counter()
    code = await rebuild(config, out, io.StringIO())
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"rebuild exited with {code}: {out.getvalue()}")
    return elapsed


async def measure(settings: Settings) -> Outcome:
    count = settings.scaled(100_000, 10_000)
    log_events = make_events(count)
    records = [Record(seq=i + 1, event=e) for i, e in enumerate(log_events)]
    planned = plan(records)
    # The inputs (hundreds of thousands of objects) stay alive through every run; left in the cyclic
    # collector's sight, each full collection would walk them, a cost a rebuild process never has.
    gc.freeze()
    try:
        return await _measure(settings, count, log_events, records, planned)
    finally:
        gc.unfreeze()


async def _measure(settings: Settings, count: int, log_events: list[AnyEvent], records: list[Record],
                   planned: list[tuple[int, dict[str, list[tuple[Any, ...]]]]]) -> Outcome:
    work = settings.work
    broker = EmbeddedBroker(work / "nats" / "store", work / "nats" / "run")
    url = await broker.start()
    figures: dict[str, list[float]] = {name: [] for name in (
        "append", "publish", "apply", "raw_apply", "rebuild", "read", "wire")}
    try:
        client = await connect([url], name="bench-eventlog")
        try:
            for run in range(settings.runs):
                stream = StreamSettings(name=f"BENCH_LOG_{run}", prefix=f"bl{run}")
                raw = StreamSettings(name=f"BENCH_RAW_{run}", prefix=f"br{run}")
                events = JetStreamLog(client, stream)
                await events.ensure_stream()
                if run % 2 == 0:
                    figures["append"].append(count / await append_all(events, log_events))
                    figures["publish"].append(count / await publish_all(client, raw, log_events))
                else:
                    figures["publish"].append(count / await publish_all(client, raw, log_events))
                    figures["append"].append(count / await append_all(events, log_events))
                figures["apply"].append(count / await apply_all(work / f"apply-{run}.db", records))
                schema = work / f"raw-{run}.db"
                # An empty projection file gives the raw side the same tables and indexes.
                await apply_all(schema, [])
                figures["raw_apply"].append(count / await asyncio.to_thread(raw_apply, schema, planned))
                if run % 2 == 0:
                    figures["rebuild"].append(count / await timed_rebuild(work / f"rebuild-{run}", url, stream))
                    figures["wire"].append(count / await wire_read(events))
                    figures["read"].append(count / await bare_read(client, stream, count))
                else:
                    figures["read"].append(count / await bare_read(client, stream, count))
                    figures["wire"].append(count / await wire_read(events))
                    figures["rebuild"].append(count / await timed_rebuild(work / f"rebuild-{run}", url, stream))
        finally:
            await client.close()
    finally:
        await broker.stop()

    def pair_ratio(mine: str, theirs: str) -> str:
        return stats.ratio(stats.median([a / b for a, b in zip(figures[mine], figures[theirs], strict=True)]))

    def med(name: str) -> float:
        return stats.median(figures[name])

    rebuild_rate = med("rebuild")
    of_wire = stats.median([a / b for a, b in zip(figures["rebuild"], figures["wire"], strict=True)])
    full_seconds = FULL_LOG / rebuild_rate
    full_wire = FULL_LOG / med("wire")
    rows = [
        Row(key="5a", what=f"Event log: appends through JetStreamLog.append, {IN_FLIGHT} in flight, {count:,} events",
            result=stats.rate(med("append"), "events/s"),
            reference=f"bare js.publish of the same bytes: {stats.rate(med('publish'), 'events/s')}",
            ratio=pair_ratio("append", "publish")),
        Row(key="5b", what=f"Projection apply (Projection.apply, batches of {BATCH}, decoded records)",
            result=stats.rate(med("apply"), "events/s"),
            reference=f"sqlite3 executemany of the same rows: {stats.rate(med('raw_apply'), 'events/s')}",
            ratio=pair_ratio("apply", "raw_apply")),
        Row(key="5c", what=f"Rebuild (mediaplex.cli.rebuild into a fresh file, digest included), {count:,} events",
            result=stats.rate(rebuild_rate, "events/s"),
            reference=f"the wire reader alone (read_batches, decoded): {stats.rate(med('wire'), 'events/s')}",
            ratio=stats.ratio(of_wire),
            goal=f"≥ {GOAL_EVENTS_PER_SECOND:,} events/s and ≥ {GOAL_OF_WIRE}x the wire reader",
            verdict=verdict(rebuild_rate >= GOAL_EVENTS_PER_SECOND and of_wire >= GOAL_OF_WIRE)),
        Row(key="5d", what=f"Rebuild of a {FULL_LOG:,}-event log (extrapolated linearly from 5c)",
            result=stats.seconds(full_seconds),
            reference=f"the wire reader alone: {stats.seconds(full_wire)}",
            ratio=stats.ratio(full_seconds / full_wire),
            goal=f"≤ {stats.seconds(FULL_LOG / GOAL_EVENTS_PER_SECOND)}",
            verdict=verdict(full_seconds <= FULL_LOG / GOAL_EVENTS_PER_SECOND)),
    ]
    nats_py = stats.rate(med("read"), "events/s")
    notes = [f"Rebuild (5c): a bare nats-py ordered consumer reads the same log at {nats_py}."]
    return Outcome(rows=rows, notes=notes)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
