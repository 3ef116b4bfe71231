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
from store.queries.windows import Window, windowed

__all__ = ["Timeline", "Window"]


class Timeline(msgspec.Struct, frozen=True):
    """Which posts: one author's or everybody's, of these visibilities, with media only, without replies."""

    visibilities: tuple[str, ...]
    author: str | None = None
    only_media: bool = False
    exclude_replies: bool = False


def post_by_id(conn: sqlite3.Connection, post_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM posts WHERE post_id = ?", (post_id,)).fetchone()
    return row


def post_by_note(conn: sqlite3.Connection, note_id: str) -> sqlite3.Row | None:
    """The post a pump.io note or a posts-API post is."""
    row: sqlite3.Row | None = conn.execute("SELECT * FROM posts WHERE note_id = ?", (note_id,)).fetchone()
    return row


def posts_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "posts", "post_id", ids)


def posts_by_notes(conn: sqlite3.Connection, note_ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    """The posts these pump.io notes (or comments) are, by note id."""
    return by_key(conn, "posts", "note_id", note_ids)


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
    return _windowed(conn, timeline, window, where, params)


def home_page(conn: sqlite3.Connection, user_id: str, timeline: Timeline, window: Window) -> list[sqlite3.Row]:
    """A home timeline in the window, newest first: every post of the user's own, and the posts of
    `timeline.visibilities` of the people the user follows.

    Each author's posts are read off the (author, sort) index, one range per author, merged by `sort`.
    """
    marks = ", ".join("?" for _ in timeline.visibilities)
    # `+` keeps the visibility test off the (visibility, sort) index, which would read everyone's posts.
    where = ["author IN (SELECT ? UNION SELECT followee FROM follows WHERE follower = ?)",
             f"(+author = ? OR +visibility IN ({marks}))"]
    params: list[Any] = [user_id, user_id, user_id, *timeline.visibilities]
    return _windowed(conn, timeline, window, where, params)


def _windowed(conn: sqlite3.Connection, timeline: Timeline, window: Window, where: list[str],
              params: list[Any]) -> list[sqlite3.Row]:
    if timeline.only_media:
        where.append("has_media = 1")
    if timeline.exclude_replies:
        where.append("in_reply_to IS NULL")
    return windowed(conn, f"SELECT * FROM posts WHERE {' AND '.join(where)}", params, window, column="sort")
