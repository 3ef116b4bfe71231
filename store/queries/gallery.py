"""Questions the web gallery asks: public media newest first, a user's media, and what surrounds one media.

Public here means what every protocol already shows to anyone: processed media a pump.io post or a
public or unlisted post published (`published_at`). Everything else is its owner's alone, so it shows
only on the owner's own pages.
"""

from __future__ import annotations

import sqlite3

import msgspec

from store.reader import ProjectionReader
from store.readmodel import LISTED, READY


def _shown(alias: str = "") -> str:
    """The clause that holds for public media; `alias` names the media table in a join."""
    at = f"{alias}." if alias else ""
    return f"({at}status = '{READY}' AND {at}published_at IS NOT NULL)"


class Mark(msgspec.Struct, frozen=True):
    """Where a page of media ends: the next page holds what sorts after it."""

    at: float
    media_id: str

    def token(self) -> str:
        return f"{self.at!r}_{self.media_id}"


def mark(token: str) -> Mark | None:
    """The mark a `?before=` value names; None for anything this server did not write."""
    at, _, media_id = token.partition("_")
    if not media_id.isascii() or not media_id.isalnum() or len(media_id) > 64 or len(at) > 32:
        return None
    try:
        value = float(at)
    except ValueError:
        return None
    return Mark(value, media_id) if value == value and abs(value) < 1e12 else None


class MediaPage(msgspec.Struct, frozen=True):
    rows: list[sqlite3.Row]
    # Where the next page starts; None on the last page.
    after: Mark | None


def _paged(conn: sqlite3.Connection, where: str, params: tuple[object, ...], order: str, before: Mark | None,
           count: int) -> MediaPage:
    bound: tuple[object, ...] = ()
    if before is not None:
        where += f" AND ({order}, media_id) < (?, ?)"
        bound = (before.at, before.media_id)
    rows = conn.execute(f"SELECT * FROM media WHERE {where} ORDER BY {order} DESC, media_id DESC LIMIT ?",
                        (*params, *bound, count + 1)).fetchall()
    after = Mark(rows[count - 1][order], rows[count - 1]["media_id"]) if len(rows) > count else None
    return MediaPage(rows[:count], after)


async def public_media(projection: ProjectionReader, before: Mark | None, count: int) -> MediaPage:
    """Everybody's public media, most recently published first."""
    return await projection.read(lambda conn: _paged(conn, _shown(), (), "published_at", before, count))


async def users_media(projection: ProjectionReader, owner: str, *, everything: bool, before: Mark | None,
                      count: int) -> MediaPage:
    """A user's media, newest upload first: all of it for the owner (`everything`), the public rest for others."""
    where = "owner_id = ?" if everything else f"owner_id = ? AND {_shown()}"
    return await projection.read(lambda conn: _paged(conn, where, (owner,), "created_at", before, count))


def shown_to(row: sqlite3.Row, viewer: str) -> bool:
    """Whether `viewer` ("" for nobody) may see this media's page."""
    return row["owner_id"] == viewer or (row["status"] == READY and row["published_at"] is not None)


class Surroundings(msgspec.Struct, frozen=True):
    # pump.io comments on the media, oldest first.
    comments: list[sqlite3.Row]
    # The post that attaches it, when the viewer may see that post.
    post: sqlite3.Row | None
    # The viewer-visible collections holding it.
    collections: list[sqlite3.Row]


def _surroundings(conn: sqlite3.Connection, media: sqlite3.Row, viewer: str, count: int) -> Surroundings:
    comments = conn.execute("SELECT * FROM comments WHERE in_reply_to = ? ORDER BY published, comment_id LIMIT ?",
                            (media["media_id"], count)).fetchall()
    post = None
    if media["post_id"] is not None:
        post = conn.execute(
            f"SELECT * FROM posts WHERE post_id = ? AND (visibility IN ({', '.join('?' * len(LISTED))})"
            " OR author = ?)", (media["post_id"], *LISTED, viewer)).fetchone()
    collections = conn.execute(
        "SELECT c.* FROM members AS m JOIN collections AS c ON c.collection_id = m.collection_id"
        " WHERE m.object_id = ? ORDER BY c.name, c.collection_id LIMIT ?", (media["media_id"], count)).fetchall()
    return Surroundings(comments, post, collections)


async def surroundings(projection: ProjectionReader, media: sqlite3.Row, viewer: str, count: int) -> Surroundings:
    return await projection.read(lambda conn: _surroundings(conn, media, viewer, count))


class Album(msgspec.Struct, frozen=True):
    collection: sqlite3.Row
    # Its newest media the viewer may see.
    media: list[sqlite3.Row]


def _albums(conn: sqlite3.Connection, owner: str, viewer: str, count: int) -> list[Album]:
    albums = []
    for collection in conn.execute("SELECT * FROM collections WHERE owner = ? ORDER BY seq DESC LIMIT ?",
                                   (owner, count)).fetchall():
        media = conn.execute(
            "SELECT md.* FROM members AS m JOIN media AS md ON md.media_id = m.object_id"
            f" WHERE m.collection_id = ? AND (md.owner_id = ? OR {_shown('md')})"
            " ORDER BY m.seq DESC LIMIT ?", (collection["collection_id"], viewer, count)).fetchall()
        if media:
            albums.append(Album(collection, media))
    return albums


async def albums(projection: ProjectionReader, owner: str, viewer: str, count: int) -> list[Album]:
    """The owner's collections that hold media the viewer may see, newest first, with a few of those media."""
    return await projection.read(lambda conn: _albums(conn, owner, viewer, count))
