"""Questions about comments on images and notes, read off the (in_reply_to, published) index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import by_key
from store.reader import ProjectionReader


async def commented(projection: ProjectionReader, post: sqlite3.Row) -> dict[str, str]:
    """The comment fields of a post's events when the post is a pump.io comment (the image or note it is
    on and whose that is), so that pump.io sees its edit or delete as a comment's; none for other posts."""
    if post["via"] != "pumpio":
        return {}
    comment = await comment_by_id(projection, post["note_id"])
    if comment is None:
        return {}
    parent = comment["in_reply_to"]
    return {"comment_on": parent, "reply_owner": await projection.read(lambda conn: parent_owner(conn, parent))}


def parent_owner(conn: sqlite3.Connection, object_id: str) -> str:
    """Whose the image or note a comment is on is, whose inbox hears of the comment; "" once it is gone."""
    row = conn.execute("SELECT owner_id FROM media WHERE media_id = ?", (object_id,)).fetchone()
    if row is None:
        # A note is the post whose pump.io id it is.
        row = conn.execute("SELECT author FROM posts WHERE note_id = ?", (object_id,)).fetchone()
    return str(row[0]) if row is not None else ""


async def comment_by_id(projection: ProjectionReader, comment_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM comments WHERE comment_id = ?", (comment_id,))


def comments_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "comments", "comment_id", ids)


def reply_count(conn: sqlite3.Connection, object_id: str) -> int:
    (total,) = conn.execute("SELECT count(*) FROM comments WHERE in_reply_to = ?", (object_id,)).fetchone()
    return int(total)


def newest_replies(conn: sqlite3.Connection, object_id: str, limit: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM comments WHERE in_reply_to = ? ORDER BY published DESC LIMIT ?", (object_id, limit),
    ).fetchall()


def reply_ids(conn: sqlite3.Connection, object_id: str, count: int, offset: int) -> list[str]:
    """A page of the ids of an image's or note's comments, newest first."""
    return [str(r[0]) for r in conn.execute(
        "SELECT comment_id FROM comments WHERE in_reply_to = ? ORDER BY published DESC LIMIT ? OFFSET ?",
        (object_id, count, offset))]
