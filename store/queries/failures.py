"""Media whose processing failed, for the operator console."""

from __future__ import annotations

import sqlite3

from store.reader import ProjectionReader
from store.readmodel import FAILED

# What the console shows of a failure: enough to name the media and ask for it again, nothing of its renditions.
_COLUMNS = "media_id, owner_id, filename, content_type, kind, blob, failure, updated_at"


async def failed_media(projection: ProjectionReader, limit: int) -> list[sqlite3.Row]:
    """The latest `limit` failures, newest first."""
    return await projection.read(lambda conn: conn.execute(
        f"SELECT {_COLUMNS} FROM media WHERE status = ? ORDER BY updated_at DESC, media_id LIMIT ?",
        (FAILED, limit)).fetchall())


async def failed_count(projection: ProjectionReader) -> int:
    row = await projection.one("SELECT count(*) AS n FROM media WHERE status = ?", (FAILED,))
    return int(row["n"]) if row else 0


async def failure(projection: ProjectionReader, media_id: str) -> sqlite3.Row | None:
    """The media when its processing failed; None for media that did not fail, or no such media."""
    return await projection.one(f"SELECT {_COLUMNS} FROM media WHERE media_id = ? AND status = ?",
                                (media_id, FAILED))


async def all_failed(projection: ProjectionReader) -> list[sqlite3.Row]:
    return await projection.read(lambda conn: conn.execute(
        f"SELECT {_COLUMNS} FROM media WHERE status = ? ORDER BY updated_at, media_id", (FAILED,)).fetchall())
