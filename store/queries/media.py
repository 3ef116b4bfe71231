"""Questions about media: one by id, several at once, by blob, and whether anything uses one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import by_key
from store.reader import ProjectionReader
from store.readmodel import PROCESSING, READY


async def media_by_id(projection: ProjectionReader, media_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM media WHERE media_id = ?", (media_id,))


def media_row(conn: sqlite3.Connection, media_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM media WHERE media_id = ?", (media_id,)).fetchone()
    return row


def media_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "media", "media_id", ids)


async def in_use(projection: ProjectionReader, media_id: str) -> bool:
    """Whether a post shows the media or its owner's profile does, whichever protocol did either.

    A post attaches it (`post_id`, of any visibility); a profile names it as the owner's avatar, and only
    while it still does: a replaced picture is free again. An image pump.io posted on its own is a post
    itself, which deleting it ends.
    """
    row = await projection.one(
        "SELECT 1 FROM media AS m WHERE m.media_id = ? AND (m.post_id IS NOT NULL"
        " OR EXISTS ("
        "SELECT 1 FROM users AS u WHERE u.user_id = m.owner_id AND u.avatar = m.media_id))",
        (media_id,),
    )
    return row is not None


# A pump.io upload nothing has published, attached to a post or made a profile picture (`attached_at`): on
# pump.io an upload is its owner's alone until a `post` activity shares it. Mastodon's and presigned uploads
# are public from the start, by their designs.
UNPOSTED_PUMPIO = "(via = 'pumpio' AND published_at IS NULL AND attached_at IS NULL AND post_id IS NULL)"


async def rendered_media_of_blob(projection: ProjectionReader, blob: str) -> list[sqlite3.Row]:
    """`status`, `version`, `kind` and the rendition columns of every media with renditions of this blob that is
    ready or being processed again, newest processing version first; then those of every media whose custom
    preview is this blob (`small` and `thumb` only, of kind image). Each row also says whose media it is
    (`owner_id`) and whether it is an unposted pump.io upload (`unposted`, 1 or 0). One read: it is on every
    file request.
    """
    return await projection.read(lambda conn: conn.execute(
        "SELECT * FROM ("
        f"SELECT 0 AS preview, status, version, kind, original, small, thumb, owner_id, {UNPOSTED_PUMPIO} AS unposted"
        " FROM media WHERE blob = ? AND original IS NOT NULL AND status IN (?, ?)"
        " UNION ALL "
        "SELECT 1 AS preview, status, preview_version AS version, 'image' AS kind, NULL AS original,"
        f" preview_small AS small, preview_thumb AS thumb, owner_id, {UNPOSTED_PUMPIO} AS unposted"
        " FROM media WHERE preview_blob = ? AND status IN (?, ?)"
        ") ORDER BY preview, version DESC",
        (blob, READY, PROCESSING, blob, READY, PROCESSING),
    ).fetchall())


async def focus_of_blob(projection: ProjectionReader, blob: str) -> sqlite3.Row | None:
    """`focus_x` and `focus_y` of the most recently updated media with this blob that has a focus.

    Media ids break ties so that the answer never depends on the order SQLite happens to use.
    """
    return await projection.one(
        "SELECT focus_x, focus_y FROM media WHERE blob = ? AND focus_x IS NOT NULL AND focus_y IS NOT NULL"
        " ORDER BY updated_at DESC, media_id DESC LIMIT 1",
        (blob,),
    )
