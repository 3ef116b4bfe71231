"""Rows by primary key, in one statement per batch of ids."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Well under SQLite's default limit of bound parameters in one statement.
MAX_IDS = 500


def by_key(conn: sqlite3.Connection, table: str, key: str, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    """The rows of `table` whose `key` is one of `ids`, keyed by it; ids without a row are left out.

    `table` and `key` come from this package, never from a request.
    """
    wanted = sorted(set(ids))
    found: dict[str, sqlite3.Row] = {}
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        found.update((row[key], row) for row in conn.execute(
            f"SELECT * FROM {table} WHERE {key} IN ({marks})", chunk))
    return found


def one_snapshot(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn`'s queries all read the same state: outside a transaction each statement sees the latest commit,
    so two of them could straddle a write."""
    if conn.in_transaction:
        return fn(conn)
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")
