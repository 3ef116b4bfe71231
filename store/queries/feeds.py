"""Pages of a user's outbox or inbox, read by stream sequence straight off the feed indexes.

`before` reads `seq < ?` downwards and `since` reads `seq > ?` upwards, each `LIMIT count`, so a
page deep in a long feed costs what the first one does; `offset` skips that many index entries.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec


class Stream(msgspec.Struct, frozen=True):
    """One of a user's feeds: the outbox (`inbox` False) or the inbox, narrowed to major/minor and direct."""

    inbox: bool
    major: int | None = None
    direct: bool = False

    def parts(self, owner: str) -> list[tuple[str, tuple[Any, ...]]]:
        """`FROM ... WHERE ...` clauses, each one index's equality prefix, that together make the stream.

        All direct entries are two index ranges, (user, 1, major=1) and (user, 1, major=0): reading both
        and merging keeps every read on an index in seq order instead of sorting the whole direct inbox.
        """
        table, who = ("inbox", "user_id") if self.inbox else ("activities", "actor")
        where, params = f"FROM {table} WHERE {who} = ?", (owner,)
        if self.direct:
            where += " AND direct = 1"
        majors: tuple[int | None, ...] = (self.major,) if self.major is not None or not self.direct else (1, 0)
        return [(where + " AND major = ?", (*params, m)) if m is not None else (where, params) for m in majors]


class Cursor(msgspec.Struct, frozen=True):
    count: int
    offset: int = 0
    before: int | None = None
    since: int | None = None


class Page(msgspec.Struct, frozen=True):
    """Stream sequences and activity ids, newest first; whether anything older exists; the stream's size."""

    entries: list[tuple[int, str]]
    older: bool
    total: int


def page_sql(stream: Stream, owner: str, cursor: Cursor) -> tuple[str, tuple[Any, ...]]:
    upwards = cursor.since is not None
    order = "ASC" if upwards else "DESC"
    bound = ""
    extra: tuple[Any, ...] = ()
    if cursor.before is not None:
        bound, extra = " AND seq < ?", (cursor.before,)
    elif cursor.since is not None:
        bound, extra = " AND seq > ?", (cursor.since,)
    parts = stream.parts(owner)
    window = cursor.count + cursor.offset
    if len(parts) == 1:
        clause, params = parts[0]
        sql = f"SELECT seq, activity_id {clause}{bound} ORDER BY seq {order} LIMIT ? OFFSET ?"
        return sql, (*params, *extra, cursor.count, cursor.offset)
    selects: list[str] = []
    values: list[Any] = []
    for clause, params in parts:
        selects.append(f"SELECT * FROM (SELECT seq, activity_id {clause}{bound} ORDER BY seq {order} LIMIT ?)")
        values.extend((*params, *extra, window))
    sql = " UNION ALL ".join(selects) + f" ORDER BY seq {order} LIMIT ? OFFSET ?"
    return sql, (*values, cursor.count, cursor.offset)


def read_page(conn: sqlite3.Connection, stream: Stream, owner: str, cursor: Cursor) -> Page:
    sql, params = page_sql(stream, owner, cursor)
    entries = [(int(seq), str(aid)) for seq, aid in conn.execute(sql, params)]
    if cursor.since is not None:
        entries.reverse()
    parts = stream.parts(owner)
    older = bool(entries) and any(
        conn.execute(f"SELECT 1 {clause} AND seq < ? LIMIT 1", (*params, entries[-1][0])).fetchone()
        for clause, params in parts
    )
    total = sum(conn.execute(f"SELECT count(*) {clause}", params).fetchone()[0] for clause, params in parts)
    return Page(entries=entries, older=older, total=total)
