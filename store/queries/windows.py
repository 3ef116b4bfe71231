"""Mastodon's window on a list: below `max_id`, above `since_id` (newest first) or just above `min_id` (oldest
first), `limit` at most, on whichever numeric column orders the list."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec


class Window(msgspec.Struct, frozen=True):
    """Mastodon's paging: below `max_id`, above `since_id` (newest first) or just above `min_id` (oldest first)."""

    limit: int
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None


def windowed(conn: sqlite3.Connection, sql: str, params: list[Any], window: Window,
             column: str = "seq") -> list[sqlite3.Row]:
    """The rows of `sql` (a SELECT with a WHERE, from this package) in the window, newest first.

    `column` must lead the index after the WHERE's equalities, so that a deep page costs what the first does.
    """
    where: list[str] = []
    bound = list(params)
    if window.max_id is not None:
        where.append(f"{column} < ?")
        bound.append(window.max_id)
    upwards = window.min_id is not None
    lower = window.min_id if upwards else window.since_id
    if lower is not None:
        where.append(f"{column} > ?")
        bound.append(lower)
    extra = "".join(f" AND {w}" for w in where)
    order = "ASC" if upwards else "DESC"
    rows = conn.execute(f"{sql}{extra} ORDER BY {column} {order} LIMIT ?", (*bound, window.limit)).fetchall()
    if upwards:
        rows.reverse()
    return rows
