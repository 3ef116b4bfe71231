"""Questions about posts: one by id or by note, the versions of one, and timelines paged by post id.

Timelines read `sort` (the numeric post id) off an index in one direction with a LIMIT, so a page
deep in a long timeline costs what the first one does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import msgspec

from store.queries._rows import by_key


class Timeline(msgspec.Struct, frozen=True):
    """Which posts: one author's or everybody's, of these visibilities, with media only, without replies."""

    visibilities: tuple[str, ...]
    author: str | None = None
    only_media: bool = False
    exclude_replies: bool = False


class Window(msgspec.Struct, frozen=True):
    """Mastodon's paging: below `max_id`, above `since_id` (newest first) or just above `min_id` (oldest first)."""

    limit: int
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None


def post_by_id(conn: sqlite3.Connection, post_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM posts WHERE post_id = ?", (post_id,)).fetchone()
    return row


def post_by_note(conn: sqlite3.Connection, note_id: str) -> sqlite3.Row | None:
    """The post a pump.io note or a posts-API post is."""
    row: sqlite3.Row | None = conn.execute("SELECT * FROM posts WHERE note_id = ?", (note_id,)).fetchone()
    return row


def posts_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "posts", "post_id", ids)


def versions(conn: sqlite3.Connection, post_id: str) -> list[sqlite3.Row]:
    """Every version of a post, oldest first."""
    return conn.execute("SELECT * FROM post_versions WHERE post_id = ? ORDER BY entry", (post_id,)).fetchall()


def post_count(conn: sqlite3.Connection, author: str, visibilities: tuple[str, ...]) -> int:
    marks = ", ".join("?" for _ in visibilities)
    row = conn.execute(f"SELECT count(*) FROM posts WHERE author = ? AND visibility IN ({marks})",
                       (author, *visibilities)).fetchone()
    return int(row[0])


def last_post_at(conn: sqlite3.Connection, author: str) -> float | None:
    row = conn.execute("SELECT created_at FROM posts WHERE author = ? ORDER BY sort DESC LIMIT 1",
                       (author,)).fetchone()
    return None if row is None else float(row[0])


def page(conn: sqlite3.Connection, timeline: Timeline, window: Window) -> list[sqlite3.Row]:
    """The posts of a timeline in the window, newest first."""
    where: list[str] = []
    params: list[Any] = []
    if timeline.author is not None:
        where.append("author = ?")
        params.append(timeline.author)
    where.append(f"visibility IN ({', '.join('?' for _ in timeline.visibilities)})")
    params.extend(timeline.visibilities)
    if timeline.only_media:
        where.append("has_media = 1")
    if timeline.exclude_replies:
        where.append("in_reply_to IS NULL")
    if window.max_id is not None:
        where.append("sort < ?")
        params.append(window.max_id)
    upwards = window.min_id is not None
    lower = window.min_id if upwards else window.since_id
    if lower is not None:
        where.append("sort > ?")
        params.append(lower)
    order = "ASC" if upwards else "DESC"
    rows = conn.execute(f"SELECT * FROM posts WHERE {' AND '.join(where)} ORDER BY sort {order} LIMIT ?",
                        (*params, window.limit)).fetchall()
    if upwards:
        rows.reverse()
    return rows
