"""Questions about collections (albums, lists) and their members, read off the (collection_id, seq) and
(owner, seq) indexes, newest first.

A member that is somebody else's unposted upload is no member to a viewer: it does not exist for them
anywhere else either, so pages and counts leave it out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import msgspec

from store.queries._rows import by_key, one_snapshot
from store.queries.feeds import Cursor
from store.reader import ProjectionReader

MEDIA_TYPES = ("image", "video", "audio")

# Members the viewer (the second parameter) may see, of the collection (the first).
_VISIBLE = (
    "FROM members AS m LEFT JOIN media AS md ON md.media_id = m.object_id AND m.object_type IN (?, ?, ?)"
    " WHERE m.collection_id = ? AND (md.media_id IS NULL OR md.published_at IS NOT NULL OR md.owner_id = ?)"
)
# A user's collections meant for an object type (the second parameter).
_LISTS = ("FROM collections AS c WHERE c.owner = ?"
          " AND EXISTS (SELECT 1 FROM json_each(c.object_types) WHERE value = ?)")


class Page(msgspec.Struct, frozen=True):
    """Rows newest first, whether anything older exists, and how many there are in all."""

    rows: list[sqlite3.Row]
    older: bool
    total: int


def collection_row(conn: sqlite3.Connection, collection_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM collections WHERE collection_id = ?", (collection_id,)).fetchone()
    return row


async def collection_by_id(projection: ProjectionReader, collection_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM collections WHERE collection_id = ?", (collection_id,))


def collections_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "collections", "collection_id", ids)


def object_types(row: sqlite3.Row) -> list[str]:
    return list(msgspec.json.decode(row["object_types"] or "[]", type=list[str]))


def member_count(conn: sqlite3.Connection, collection_id: str, viewer: str) -> int:
    return int(conn.execute(f"SELECT count(*) {_VISIBLE}", (*MEDIA_TYPES, collection_id, viewer)).fetchone()[0])


def member(conn: sqlite3.Connection, collection_id: str, object_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM members WHERE collection_id = ? AND object_id = ?", (collection_id, object_id)).fetchone()
    return row


async def member_of(projection: ProjectionReader, collection_id: str, object_id: str) -> sqlite3.Row | None:
    return await projection.read(lambda conn: member(conn, collection_id, object_id))


async def contains(projection: ProjectionReader, outer: str, inner: str) -> bool:
    """Whether collection `outer` is `inner` or holds it, through any depth of collections in collections."""
    row = await projection.one(
        "WITH RECURSIVE reach(id) AS (SELECT ? UNION"
        " SELECT m.object_id FROM members AS m JOIN reach AS r ON m.collection_id = r.id"
        " WHERE m.object_type = 'collection')"
        " SELECT 1 FROM reach WHERE id = ? LIMIT 1",
        (outer, inner),
    )
    return row is not None


def changed(conn: sqlite3.Connection, object_id: str, target: str | None = None) -> int:
    """The stream sequence of the last activity on an object (in `target`, when given); 0 for none.

    Ids made from it are the same for two requests that found the same state, and new once it changed.
    """
    if target is None:
        row = conn.execute("SELECT max(seq) AS seq FROM activities WHERE object_id = ?", (object_id,)).fetchone()
    else:
        row = conn.execute("SELECT max(seq) AS seq FROM activities WHERE object_id = ? AND target = ?",
                           (object_id, target)).fetchone()
    return int(row["seq"]) if row is not None and row["seq"] is not None else 0


async def last_change(projection: ProjectionReader, object_id: str, target: str | None = None) -> int:
    return await projection.read(lambda conn: changed(conn, object_id, target))


async def standing(projection: ProjectionReader, collection_id: str, object_id: str) -> tuple[sqlite3.Row | None, int]:
    """The object's membership and the last change to it, read together: two racing adds that find it
    absent then find the same last change, and so make the same change id."""
    return await projection.read(lambda conn: membership_state(conn, collection_id, object_id))


def membership_state(conn: sqlite3.Connection, collection_id: str, object_id: str) -> tuple[sqlite3.Row | None, int]:
    return one_snapshot(conn, lambda c: (member(c, collection_id, object_id), changed(c, object_id, collection_id)))


def _page(conn: sqlite3.Connection, clause: str, params: tuple[Any, ...], window: Cursor, alias: str) -> Page:
    bound, order = "", "DESC"
    extra: tuple[Any, ...] = ()
    if window.before is not None:
        bound, extra = f" AND {alias}.seq < ?", (window.before,)
    elif window.since is not None:
        bound, extra, order = f" AND {alias}.seq > ?", (window.since,), "ASC"
    rows = conn.execute(f"SELECT {alias}.* {clause}{bound} ORDER BY {alias}.seq {order} LIMIT ? OFFSET ?",
                        (*params, *extra, window.count, window.offset)).fetchall()
    if window.since is not None:
        rows.reverse()
    older = bool(rows) and conn.execute(
        f"SELECT 1 {clause} AND {alias}.seq < ? LIMIT 1", (*params, rows[-1]["seq"])).fetchone() is not None
    total = int(conn.execute(f"SELECT count(*) {clause}", params).fetchone()[0])
    return Page(rows=rows, older=older, total=total)


def members_page(conn: sqlite3.Connection, collection_id: str, viewer: str, window: Cursor) -> Page:
    return _page(conn, _VISIBLE, (*MEDIA_TYPES, collection_id, viewer), window, "m")


def lists_page(conn: sqlite3.Connection, owner: str, object_type: str, window: Cursor) -> Page:
    return _page(conn, _LISTS, (owner, object_type), window, "c")


async def member_seq(projection: ProjectionReader, collection_id: str, object_id: str) -> int | None:
    row = await member_of(projection, collection_id, object_id)
    return None if row is None else int(row["seq"])


async def collection_seq(projection: ProjectionReader, collection_id: str) -> int | None:
    row = await collection_by_id(projection, collection_id)
    return None if row is None else int(row["seq"])
