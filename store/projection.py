"""The SQLite read model: one writer thread, reads off the event loop, checkpoint in the same transaction."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import sqlite_utils

from core.log import Record
from store.readmodel import TABLES, Change, Patch, Put, Remove, changes

T = TypeVar("T")

CHECKPOINT = "checkpoint"


class SchemaChanged(Exception):
    """The file was folded under another schema; fold a fresh one from the log instead."""


def schema_fingerprint() -> str:
    """Changes whenever a table, column, type or index of the read model does."""
    shape = [(t.name, t.pk, sorted((c, k.__name__) for c, k in t.columns.items()), t.indexes) for t in TABLES]
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.row_factory = sqlite3.Row
    return conn


class Projection:
    """Owns one SQLite file. Open it, feed it records, query it, close it."""

    def __init__(self, path: Path, *, readers: int = 2) -> None:
        self.path = path
        self.applied = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="projection-reader")
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._progress: asyncio.Condition | None = None

    async def open(self) -> None:
        self._progress = asyncio.Condition()
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

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def _open_writer(self) -> int:
        conn = _connect(self.path)
        db = sqlite_utils.Database(conn)
        for table in TABLES:
            if not db[table.name].exists():
                db[table.name].create(table.columns, pk=table.pk)  # type: ignore[union-attr]
                for columns in table.indexes:
                    db[table.name].create_index(columns)  # type: ignore[union-attr]
        fingerprint = schema_fingerprint()
        if not db[CHECKPOINT].exists():
            db[CHECKPOINT].insert({"id": 1, "seq": 0, "schema": fingerprint}, pk="id")  # type: ignore[union-attr]
        row = conn.execute(f"SELECT * FROM {CHECKPOINT} WHERE id = 1").fetchone()
        if "schema" not in row.keys() or row["schema"] != fingerprint:
            conn.close()
            raise SchemaChanged(f"{self.path} was built for another read-model schema")
        self._write_conn = conn
        row = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
        return int(row[0])

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    async def apply(self, records: Sequence[Record]) -> int:
        """Fold records in one transaction; records at or below the checkpoint are skipped."""
        fresh = [r for r in records if r.seq > self.applied]
        if not fresh:
            return self.applied
        planned = [(r.seq, changes(r.event, r.seq)) for r in fresh]
        applied = await self._on_writer(self._write, planned)
        self.applied = applied
        assert self._progress is not None
        async with self._progress:
            self._progress.notify_all()
        return applied

    def _write(self, planned: list[tuple[int, list[Change]]]) -> int:
        conn = self._write_conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            # The checkpoint read inside the transaction is the guard against a
            # redelivered batch: only sequences past it change anything.
            (current,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
            for seq, batch in planned:
                if seq <= current:
                    continue
                for change in batch:
                    _execute(conn, change)
                current = seq
            conn.execute(f"UPDATE {CHECKPOINT} SET seq = ? WHERE id = 1", (current,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(current)

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Read-your-writes: wait until the record at `seq` is applied."""
        async def reached() -> bool:
            return self.applied >= seq

        return await self.wait_until(reached, timeout)

    async def wait_until(self, check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
        """Re-run `check` after every applied batch until it holds or `timeout` runs out."""
        assert self._progress is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = self.applied
            if await check():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            async with self._progress:
                if self.applied == seen:
                    try:
                        await asyncio.wait_for(self._progress.wait(), remaining)
                    except TimeoutError:
                        return False

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

    async def digest(self) -> tuple[int, str]:
        """(checkpoint, sha256 over every row of every table): equal logs fold to equal digests."""
        return await self.read(_digest)


def _execute(conn: sqlite3.Connection, change: Change) -> None:
    pk = next(t.pk for t in TABLES if t.name == change.table)
    match change:
        case Put(table, row):
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))
        case Patch(table, key, fields):
            assigns = ", ".join(f"{name} = ?" for name in fields)
            conn.execute(f"UPDATE {table} SET {assigns} WHERE {pk} = ?", (*fields.values(), key))
        case Remove(table, key):
            conn.execute(f"DELETE FROM {table} WHERE {pk} = ?", (key,))


def _digest(conn: sqlite3.Connection) -> tuple[int, str]:
    conn.execute("BEGIN")
    try:
        (seq,) = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
        hasher = hashlib.sha256()
        encoder = msgspec.json.Encoder()
        for table in TABLES:
            hasher.update(table.name.encode())
            columns = ", ".join(sorted(table.columns))
            for row in conn.execute(f"SELECT {columns} FROM {table.name} ORDER BY {table.pk}"):
                hasher.update(encoder.encode(tuple(row)))
    finally:
        conn.execute("COMMIT")
    return int(seq), hasher.hexdigest()
