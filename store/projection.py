"""The SQLite read model: one writer thread, reads off the loop but key lookups, checkpoint in the same transaction."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import operator
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import sqlite_utils

from core.log import Record
from store.changes import Deliver, Sweep, Table
from store.readmodel import OUTCOME_COLUMNS, TABLES, UPLOAD_COLUMNS, Change, Patch, Put, Remove, changes
from store.runs import MediaRun, fold_run, split_runs

T = TypeVar("T")
# A row of the read model: its table and its primary key.
RowKey = tuple[str, Any]

CHECKPOINT = "checkpoint"
# Parameters per statement where the connection does not say: under SQLite's default limit (32,766
# since 3.32). Builds with a higher limit get fewer, bigger statements, each one GIL round trip less.
MAX_PARAMS = 32_000
# Rows per multi-row statement at most: past a few hundred, a longer statement saves nothing more.
ROWS = 512
# Statements the writer's connection keeps compiled: every shape of change in a few lengths each.
CACHED_STATEMENTS = 512
# Page cache of a projection being built, in KiB: its indexes stay in memory while rows pour in.
BUILD_CACHE_KIB = 128 * 1024


class SchemaChanged(Exception):
    """The file was folded under another schema; fold a fresh one from the log instead."""


def schema_fingerprint() -> str:
    """Changes whenever a table, column, type or index of the read model does."""
    shape = [(t.name, t.pk, sorted((c, k.__name__) for c, k in t.columns.items()), t.indexes) for t in TABLES]
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                           cached_statements=CACHED_STATEMENTS)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.row_factory = sqlite3.Row
    return conn


class Projection:
    """Owns one SQLite file. Open it, feed it records, query it, close it."""

    def __init__(self, path: Path, *, readers: int = 2, building: bool = False, told: Told | None = None) -> None:
        """`building`: a fresh file nobody serves from yet, folded fast and made durable on close.

        `told`: who hears what each batch changed (see Told).
        """
        self.path = path
        self._told = told or Told()
        self.applied = 0
        self._building = building
        self._dropped: list[tuple[str, str]] = []
        self._statements = Statements()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="projection-reader")
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        # Read-your-writes waiters, each a future the apply loop resolves when its wait may be
        # over: by sequence (a heap), by row (changed by a batch), or after any batch.
        self._by_seq: list[tuple[int, int, asyncio.Future[None]]] = []
        self._by_row: dict[RowKey, dict[int, asyncio.Future[None]]] = {}
        self._by_batch: dict[int, asyncio.Future[None]] = {}
        self._serial = 0
        # Waiters a batch resolved, in all: what read-your-writes costs the apply loop.
        self.wakeups = 0

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.applied = await self._on_writer(self._open_writer)
        except SchemaChanged:
            self._writer.shutdown(wait=True)
            self._readers.shutdown(wait=True)
            raise

    async def close(self) -> None:
        await self._on_writer(self._close_writer)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._read_conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    def apply_here(self, records: Sequence[Record]) -> int:
        """`apply` on the calling thread, for a fold nothing else runs beside (store/fold.py): it wakes
        no waiters, and it needs no writer thread to take turns with on the interpreter lock."""
        fresh = [r for r in records if r.seq > self.applied]
        if fresh:
            self.applied = self._write(fresh, frozenset())[0]
        return self.applied

    @property
    def apart(self) -> bool:
        """Whether another connection may write this file while it folds: it is being built, so
        nothing reads it yet and nobody waits for its rows or blobs."""
        return self._building and not self._told.listening and self._write_conn is not None

    def plan(self, records: Sequence[Record], after: int) -> tuple[int, list[Statement]]:
        """(the checkpoint they reach, the statements) that fold the records past `after`, for a
        connection of another process to run in one transaction (store/fold.py)."""
        fresh = [r for r in records if r.seq > after]
        if not fresh:
            return after, []
        return fresh[-1].seq, self._statements.plan_records(fresh)

    def reload(self) -> int:
        """The checkpoint as the file has it now, after another connection wrote it."""
        conn = self._write_conn
        assert conn is not None
        (seq,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
        self.applied = int(seq)
        return self.applied

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def _open_writer(self) -> int:
        conn = _connect(self.path)
        db = sqlite_utils.Database(conn)
        for table in TABLES:
            if not db[table.name].exists():
                db[table.name].create(table.columns, pk=table.pk)  # type: ignore[union-attr]
            # Also puts back indexes a build dropped, should it have ended before recreating them.
            for columns in table.indexes:
                db[table.name].create_index(columns, if_not_exists=True)  # type: ignore[union-attr]
        fingerprint = schema_fingerprint()
        if not db[CHECKPOINT].exists():
            db[CHECKPOINT].insert({"id": 1, "seq": 0, "schema": fingerprint}, pk="id")  # type: ignore[union-attr]
        row = conn.execute(f"SELECT * FROM {CHECKPOINT} WHERE id = 1").fetchone()
        if "schema" not in row.keys() or row["schema"] != fingerprint:
            conn.close()
            raise SchemaChanged(f"{self.path} was built for another read-model schema")
        self._write_conn = conn
        self._statements = Statements(max_params=conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        if self._building:
            # Nothing reads this file until it is promoted, and a crash only means folding it again,
            # so commits need not reach the disk one by one; close() makes the whole file durable.
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")
        (seq,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
        if self._building and seq == 0:
            # Secondary indexes are cheaper built once over the finished tables than kept up row
            # by row; close() creates them again with the very statements that made them.
            self._dropped = [(name, sql) for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )]
            for name, _ in self._dropped:
                conn.execute(f"DROP INDEX {name}")
        return int(seq)

    async def restore_indexes(self) -> None:
        """Create a build's dropped indexes again now rather than on close, say while its digest is read."""
        await self._on_writer(self._restore_indexes)

    def _restore_indexes(self) -> None:
        conn = self._write_conn
        assert conn is not None
        for _, sql in self._dropped:
            conn.execute(sql)
        self._dropped = []

    def _close_writer(self) -> None:
        conn = self._write_conn
        if conn is None:
            return
        if self._building:
            self._restore_indexes()
            # Everything folded goes to the database file and is synced before anyone can promote it.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        self._write_conn = None

    async def apply(self, records: Sequence[Record]) -> int:
        """Fold records in one transaction; records at or below the checkpoint are skipped."""
        fresh = [r for r in records if r.seq > self.applied]
        if not fresh:
            return self.applied
        # Rows waited on now; a waiter that comes later is woken by this batch whatever it changed.
        watched = frozenset(self._by_row)
        known = self._serial
        applied, rows, tables, blobs, tokens = await self._on_writer(self._write, fresh, watched)
        self.applied = applied
        if blobs and self._told.blobs is not None:
            self._told.blobs(blobs)
        if tokens and self._told.tokens is not None:
            self._told.tokens(tokens)
        self._wake(rows, tables, known)
        return applied

    def _wake(self, rows: frozenset[RowKey], tables: frozenset[str], known: int) -> None:
        woken = 0
        while self._by_seq and self._by_seq[0][0] <= self.applied:
            woken += _resolve(heapq.heappop(self._by_seq)[2])
        for key, waiting in self._by_row.items():
            touched = key in rows or key[0] in tables
            for serial, future in waiting.items():
                if touched or serial > known:
                    woken += _resolve(future)
        for future in self._by_batch.values():
            woken += _resolve(future)
        self.wakeups += woken

    def _write(self, records: list[Record], watched: frozenset[RowKey]) -> tuple[
            int, frozenset[RowKey], frozenset[str], frozenset[str], frozenset[str]]:
        """(checkpoint, the watched rows the records changed, tables they swept or delivered to, blobs whose
        media rows changed and tokens whose rows changed, when someone listens for them)."""
        conn = self._write_conn
        assert conn is not None
        rows: frozenset[RowKey] = frozenset()
        tables: frozenset[str] = frozenset()
        blobs: frozenset[str] = frozenset()
        tokens: frozenset[str] = frozenset()
        told = self._told
        conn.execute("BEGIN IMMEDIATE")
        try:
            # The checkpoint read inside the transaction is the guard against a
            # redelivered batch: only sequences past it change anything.
            (current,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
            unapplied = [r for r in records if r.seq > current]
            if unapplied:
                if watched or told.listening:
                    fresh = [changes(r.event, r.seq) for r in unapplied]
                    if told.blobs is not None:
                        # Read before the changes: a removed row names its blobs only now.
                        blobs = _media_blobs(conn, fresh)
                    if told.tokens is not None:
                        tokens = _keys_of(fresh, "tokens")
                    if watched:
                        rows, tables = _touched(fresh, watched)
                    statements = self._statements.plan(fresh)
                else:
                    # Nobody needs to know what changed, only that it did.
                    statements = self._statements.plan_records(unapplied)
                for sql, params in statements:
                    conn.execute(sql, params)
                current = records[-1].seq
            conn.execute(f"UPDATE {CHECKPOINT} SET seq = ? WHERE id = 1", (current,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(current), rows, tables, blobs, tokens

    def waiting(self) -> int:
        """Callers waiting in wait_for or wait_until right now."""
        return len(self._by_seq) + sum(map(len, self._by_row.values())) + len(self._by_batch)

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Read-your-writes: wait until the record at `seq` is applied.

        Only the batch that reaches `seq` wakes the caller; the batches before it do not.
        """
        if self.applied >= seq:
            return True
        reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (seq, self._next_serial(), reached)
        heapq.heappush(self._by_seq, entry)
        try:
            async with asyncio.timeout(timeout):
                await reached
        except TimeoutError:
            pass
        finally:
            if not reached.done() or reached.cancelled():
                # Timed out or cancelled: not popped by a batch, or popped only as it was given up.
                with contextlib.suppress(ValueError):
                    self._by_seq.remove(entry)
                    heapq.heapify(self._by_seq)
                reached.cancel()
        return self.applied >= seq

    async def wait_until(self, check: Callable[[], Awaitable[bool]], timeout: float, *,
                         row: RowKey | None = None) -> bool:
        """Run `check` now and again after applied batches until it holds or `timeout` runs out.

        With `row` (table, primary key), `check` must look at that row only: it runs again only after
        a batch that changed the row, removed rows of its table by another column or delivered to
        it (inbox), or one already under way when the caller began to wait, which could not know to
        look. Without `row` it runs again after every batch.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = self.applied
            if await check():
                return True
            if loop.time() >= deadline:
                return False
            if self.applied != seen:
                # A batch landed while the check ran, perhaps after it read: look again.
                continue
            woken: asyncio.Future[None] = loop.create_future()
            serial = self._next_serial()
            waiting = self._by_batch if row is None else self._by_row.setdefault(row, {})
            waiting[serial] = woken
            try:
                async with asyncio.timeout_at(deadline):
                    await woken
            except TimeoutError:
                return False
            finally:
                del waiting[serial]
                if row is not None and not waiting and self._by_row.get(row) is waiting:
                    del self._by_row[row]

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._read_conns_lock:
                self._read_conns.append(conn)
        return conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a query function on a reader thread with that thread's own connection."""
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, lambda: fn(self._reader())
        )

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = await self.read(lambda c: c.execute(sql, params).fetchone())
        return row

    async def keyed(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """`one` for a row found by its primary key, read on the calling thread with a connection of its own.

        Such a lookup takes tens of microseconds, and the trip to a reader thread and back costs the
        loop more than that: on a busy loop each way also waits its turn for the interpreter lock.
        Anything that may scan goes through `one`.
        """
        row: sqlite3.Row | None = self._reader().execute(sql, params).fetchone()
        return row

    async def digest(self) -> tuple[int, str]:
        """(checkpoint, sha256 over every row of every table): equal logs fold to equal digests."""
        return await self.read(_digest)


RowId = tuple[str, Any]
Statement = tuple[str, list[Any]]


class Told(msgspec.Struct, frozen=True):
    """Who hears, after each batch and before any waiter wakes, what the batch changed: what keeps
    something read from the projection in memory forgets it then, so nothing is answered from before
    the change."""

    # The blobs that media rows named before or after the change: a delete, a focus change or a
    # change of who may see them.
    blobs: Callable[[frozenset[str]], None] | None = None
    # The hashes of the tokens whose rows were issued or revoked.
    tokens: Callable[[frozenset[str]], None] | None = None

    @property
    def listening(self) -> bool:
        return self.blobs is not None or self.tokens is not None


class _Group(msgspec.Struct):
    """Changes of one kind to one table with the same columns, to run as one statement."""

    kind: type[Change]
    table: str
    columns: tuple[str, ...]
    keys: list[Any]
    params: list[list[Any]]
    # Where the group stands in the plan.
    index: int
    # A Put group's column positions, for merging patches into its rows.
    positions: dict[str, int] = {}


class Statements:
    """Turns changes into few multi-row statements that leave every row as running them one by one would.

    One statement for hundreds of rows instead of a step per row: besides the per-row work, each
    step lets go of the GIL and has to win it back from the event loop, which dominated the
    writer's time when the changes went through `executemany`.
    """

    def __init__(self, max_params: int = MAX_PARAMS) -> None:
        self._pks = {t.name: t.pk for t in TABLES}
        self._max_params = max_params

    def plan(self, batches: Iterable[list[Change]]) -> list[Statement]:
        return [statement for group in self._group(batches) for statement in self._statements(group)]

    def plan_records(self, records: Sequence[Record]) -> list[Statement]:
        """The statements of the records' changes, each long run of uploads and outcomes folded on its own
        (store/runs.py) and the rest as `plan` groups them."""
        out: list[Statement] = []
        for is_run, part in split_runs(records):
            if is_run:
                out.extend(self._run(fold_run(part)))
            else:
                out.extend(self.plan([changes(r.event, r.seq) for r in part]))
        return out

    def _run(self, run: MediaRun) -> Iterator[Statement]:
        columns, rows = _set_columns(UPLOAD_COLUMNS, list(run.rows.values()))
        groups = [
            _Group(Remove, "requests", (), run.requests, [[key] for key in run.requests], 0),
            _Group(Put, "media", columns, list(run.rows), rows, 1),
            _Group(Patch, "media", OUTCOME_COLUMNS, list(run.outcomes),
                   [[key, *fields] for key, fields in run.outcomes.items()], 2),
        ]
        for group in groups:
            if group.keys:
                yield from self._statements(group)

    def _group(self, batches: Iterable[list[Change]]) -> list[_Group]:
        """Changes in groups, in an order with the same outcome as theirs.

        Changes to different rows commute (a table's only unique key is its primary key), so a
        change may join the newest group of its shape as long as no later group touches its row;
        otherwise it opens a new group. Changes to one row keep their order.

        A Sweep reaches rows by another column: it joins no group before a change to its table, and
        no later change to its table joins one before it. A Deliver reads `follows` and adds inbox
        entries only a follower could have: it keeps its place among the changes to `follows` and the
        sweeps of `inbox`, and commutes with the rest (an entry someone already has stays as it is).
        """
        groups: list[_Group] = []
        newest: dict[tuple[Any, ...], _Group] = {}
        touched: dict[RowId, int] = {}
        swept: dict[str, int] = {}
        changed: dict[str, int] = {}
        delivered = follows = -1
        # The row a Put last wrote, as its group and parameters, as long as nothing else has touched it.
        written: dict[RowId, tuple[_Group, list[Any]]] = {}
        pks = self._pks
        for batch in batches:
            for change in batch:
                kind = type(change)
                table = change.table
                if kind is Put:
                    row = change.row  # type: ignore[union-attr]
                    columns: tuple[str, ...] = tuple(row)
                    key = row[pks[table]]
                    params: list[Any] = [*row.values()]
                elif kind is Patch:
                    fields = change.fields  # type: ignore[union-attr]
                    key = change.key  # type: ignore[union-attr]
                    put = written.get((table, key))
                    # A Patch of a row this plan Puts goes into the Put (one row written instead of a row
                    # written and then updated), unless something in between may have looked at the row:
                    # a Sweep of its table, a Deliver reading it in `follows`.
                    if put is not None:
                        into, values = put
                        if ((not swept or swept.get(table, -1) < into.index)
                                and (table != "follows" or delivered < into.index)
                                and into.positions.keys() >= fields.keys()):
                            where = into.positions
                            for name, value in fields.items():
                                values[where[name]] = value
                            continue
                    columns = tuple(fields)
                    params = [key, *fields.values()]
                elif kind is Remove:
                    key = change.key  # type: ignore[union-attr]
                    columns = ()
                    params = [key]
                elif kind is Deliver:
                    shape: tuple[Any, ...] = (Deliver, table, ())
                    group = newest.get(shape)
                    if group is None or group.index <= max(follows, swept.get("inbox", -1)):
                        group = _Group(Deliver, table, (), [], [], len(groups))
                        groups.append(group)
                        newest[shape] = group
                    group.keys.append(None)
                    group.params.append([change.suffix, change.seq, change.activity_id,  # type: ignore[union-attr]
                                         change.major, change.actor])  # type: ignore[union-attr]
                    delivered = max(delivered, group.index)
                    continue
                else:
                    # Sweeps of one column join while nothing else has changed their table since.
                    column = change.column  # type: ignore[union-attr]
                    value = change.value  # type: ignore[union-attr]
                    shape = (Sweep, table, (column,))
                    group = newest.get(shape)
                    latest = delivered if table == "inbox" else -1
                    if group is None or group.index < max(changed.get(table, -1), latest):
                        group = _Group(Sweep, table, (column,), [], [], len(groups))
                        groups.append(group)
                        newest[shape] = group
                    group.keys.append(value)
                    group.params.append([value])
                    swept[table] = group.index
                    continue
                floor = swept.get(table, -1) + 1 if swept else 0
                if table == "follows":
                    floor = max(floor, delivered + 1)
                shape = (kind, table, columns)
                target = (table, key)
                group = newest.get(shape)
                if group is None or group.index < floor or group.index < touched.get(target, -1):
                    group = _Group(kind, table, columns, [], [], len(groups))
                    if kind is Put:
                        group.positions = {c: i for i, c in enumerate(columns)}
                    groups.append(group)
                    newest[shape] = group
                    # A change only ever joins a group older than the newest of its table, so the
                    # newest group made for a table is the last to have changed it.
                    changed[table] = group.index
                group.keys.append(key)
                group.params.append(params)
                index = group.index
                if kind is Put:
                    written[target] = (group, params)
                elif written:
                    written.pop(target, None)
                touched[target] = index
                if table == "follows" and follows < index:
                    follows = index
        return groups

    def _statements(self, group: _Group) -> Iterator[Statement]:
        table, columns, pk = group.table, group.columns, self._pks[group.table]
        if group.kind is Remove or group.kind is Sweep:
            column = columns[0] if group.kind is Sweep else pk
            for chunk in _chunks(group.keys, self._max_params):
                yield f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk
            return
        if group.kind is Deliver:
            yield from _deliveries(group.params, self._max_params)
            return
        width = len(group.params[0])
        per = max(1, self._max_params // width)
        row = f"({', '.join('?' * width)})"
        if group.kind is Put:
            head = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES "
            for chunk in _chunks(group.params, per):
                yield head + ", ".join([row] * len(chunk)), [*chain.from_iterable(chunk)]
            return
        # One UPDATE ... FROM may not name a row twice (which of the two would win is unspecified),
        # so a key seen again starts the next statement.
        assigns = ", ".join(f"{name} = v.column{i}" for i, name in enumerate(columns, start=2))
        head = f"UPDATE {table} SET {assigns} FROM (VALUES "
        tail = f") AS v WHERE {table}.{pk} = v.column1"
        for chunk in _unique_chunks(group.keys, group.params, per):
            yield head + ", ".join([row] * len(chunk)) + tail, [*chain.from_iterable(chunk)]


def _set_columns(columns: tuple[str, ...], rows: list[list[Any]]) -> tuple[tuple[str, ...], list[Any]]:
    """(the columns some row sets, the rows cut to those columns): a column an INSERT leaves out is
    NULL all the same, and the uploads of a run leave a third of theirs NULL."""
    if not rows:
        return columns, rows
    kept = [i for i, value in enumerate(rows[0])
            if value is not None or operator.countOf(map(operator.itemgetter(i), rows), None) < len(rows)]
    if len(kept) == len(columns):
        return columns, rows
    if len(kept) == 1:
        return (columns[kept[0]],), [[row[kept[0]]] for row in rows]
    return tuple(columns[i] for i in kept), list(map(operator.itemgetter(*kept), rows))


def _deliveries(params: list[list[Any]], max_params: int) -> Iterator[Statement]:
    """One INSERT ... SELECT per chunk: each (suffix, seq, activity, major, actor) reaches the actor's followers."""
    head = ("INSERT OR IGNORE INTO inbox (entry, user_id, seq, activity_id, major, direct)"
            " SELECT f.follower || ':' || v.column1, f.follower, v.column2, v.column3, v.column4, 0 FROM (VALUES ")
    tail = ") AS v JOIN follows AS f ON f.followee = v.column5"
    for chunk in _chunks(params, max(1, max_params // 5)):
        yield head + ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)) + tail, [*chain.from_iterable(chunk)]


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """Runs of `items` whose lengths are powers of two, the longest at most `size`.

    Few lengths mean few distinct statements, each compiled once and then found in the connection's
    cache: a statement of thousands of rows costs milliseconds to compile, and a list of any other
    length would compile one of its own.
    """
    most = 1 << (max(1, min(size, ROWS)).bit_length() - 1)
    start, end = 0, len(items)
    while start < end:
        while most > end - start:
            most >>= 1
        yield items[start:start + most]
        start += most


def _unique_chunks(keys: list[Any], params: list[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    seen: set[Any] = set()
    for key, item in zip(keys, params, strict=True):
        if key in seen or len(chunk) >= size:
            yield from _chunks(chunk, size)
            chunk, seen = [], set()
        chunk.append(item)
        seen.add(key)
    if chunk:
        yield from _chunks(chunk, size)


def _resolve(future: asyncio.Future[None]) -> int:
    if future.done():
        return 0
    future.set_result(None)
    return 1


def _touched(batches: list[list[Change]], watched: frozenset[RowKey]) -> tuple[frozenset[RowKey], frozenset[str]]:
    """Which of the `watched` rows the changes name, and the watched tables they reach by another column."""
    tables = {table for table, _ in watched}
    pks = {t.name: t.pk for t in TABLES}
    rows: set[RowKey] = set()
    reached: set[str] = set()
    for batch in batches:
        for change in batch:
            table = change.table
            if table not in tables:
                continue
            key = _key_of(change, pks)
            if key is None:
                reached.add(table)
                continue
            if (table, key) in watched:
                rows.add((table, key))
    return frozenset(rows), frozenset(reached)


MEDIA_BLOBS = ("blob", "preview_blob")


def _key_of(change: Change, pks: dict[str, str]) -> Any:
    """The key of the one row a Put, Patch or Remove names; None for a change that reaches rows by another column."""
    if isinstance(change, Put):
        return change.row[pks[change.table]]
    if isinstance(change, Patch | Remove):
        return change.key
    return None


def _keys_of(batches: list[list[Change]], table: str) -> frozenset[str]:
    """The keys of the rows of `table` the changes put, patch or remove (no sweep or delivery reaches it)."""
    pks = {t.name: t.pk for t in TABLES}
    return frozenset(key for batch in batches for change in batch
                     if change.table == table and (key := _key_of(change, pks)) is not None)


def _media_blobs(conn: sqlite3.Connection, batches: list[list[Change]]) -> frozenset[str]:
    """The blobs the media rows the changes reach name, as they are now and as the changes leave them."""
    found: set[str] = set()
    ids: set[str] = set()
    for batch in batches:
        for change in batch:
            if change.table != "media":
                continue
            if isinstance(change, Put):
                ids.add(change.row["media_id"])
                values: dict[str, Any] = change.row
            elif isinstance(change, Patch):
                ids.add(change.key)
                values = change.fields
            elif isinstance(change, Remove):
                ids.add(change.key)
                continue
            else:
                continue
            found.update(value for value in map(values.get, MEDIA_BLOBS) if value)
    # Well under any build's parameter limit; a batch's media rows are a few hundred at most.
    for chunk in _chunks(sorted(ids), 500):
        rows = conn.execute(
            f"SELECT blob, preview_blob FROM media WHERE media_id IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(value for row in rows for value in row if value)
    return frozenset(found)


def _digest(conn: sqlite3.Connection) -> tuple[int, str]:
    conn.execute("BEGIN")
    try:
        (seq,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
        hasher = hashlib.sha256()
        rows = conn.cursor()
        # Plain tuples, whatever the connection makes: a string a row, with no Row around it.
        rows.row_factory = None
        for table in TABLES:
            hasher.update(table.name.encode())
            for (row,) in rows.execute(f"SELECT {_row_text(table)} FROM {table.name} ORDER BY {table.pk}"):
                hasher.update(row.encode())
    finally:
        conn.execute("COMMIT")
    return int(seq), hasher.hexdigest()


def _row_text(table: Table) -> str:
    """A row as one JSON array, made by SQLite: a Python object per value would cost twice as much.

    JSON writes a real to 15 digits, which two different times can share, so reals go as text
    of 17 digits, enough to tell any two doubles apart.
    """
    values = (f"iif(typeof({name}) = 'real', printf('%!.17g', {name}), {name})" if kind is float else name
              for name, kind in sorted(table.columns.items()))
    return f"json_array({', '.join(values)})"
