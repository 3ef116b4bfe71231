"""The media a post or profile names: checked against the caller's own library, and shown as JSON.

Someone else's media is refused exactly as an unknown or deleted id is, so ids cannot be probed.
Media still processing may be attached (as Mastodon allows); media that failed processing may not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from core.events import RenditionInfo
from gateways.apierrors import ApiError
from gateways.files import file_url
from gateways.posts import errors
from store.reader import ProjectionReader
from store.readmodel import FAILED, READY


def rows_by_id(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> dict[str, sqlite3.Row]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    found = conn.execute(f"SELECT * FROM {table} WHERE media_id IN ({marks})", tuple(ids))
    return {row["media_id"]: row for row in found}


async def check_usable(projection: ProjectionReader, owner: str, ids: Sequence[str], parameter: str) -> None:
    def load(conn: sqlite3.Connection) -> tuple[dict[str, sqlite3.Row], dict[str, sqlite3.Row]]:
        return rows_by_id(conn, "media", ids), rows_by_id(conn, "requests", ids)

    media, requested = await projection.read(load)
    mine = {media_id: row for media_id, row in media.items() if row["owner_id"] == owner}
    pending = [i for i in ids if i not in mine and i in requested and requested[i]["owner_id"] == owner]
    unknown = [i for i in ids if i not in mine and i not in pending]
    if unknown:
        raise ApiError(422, errors.MEDIA_NOT_FOUND, f"Media not found: {', '.join(unknown)}", parameter=parameter)
    if pending:
        raise ApiError(422, errors.MEDIA_NOT_UPLOADED, f"Media not uploaded yet: {', '.join(pending)}",
                       parameter=parameter)
    failed = [i for i in ids if mine[i]["status"] == FAILED]
    if failed:
        raise ApiError(422, errors.MEDIA_FAILED, f"Media could not be processed: {', '.join(failed)}",
                       parameter=parameter)


def _url(row: sqlite3.Row, column: str, base: str) -> str | None:
    if not row[column]:
        return None
    return file_url(base, row["blob"], row["version"], msgspec.json.decode(row[column], type=RenditionInfo))


def media_json(media_id: str, row: sqlite3.Row | None, base: str) -> dict[str, Any]:
    """One attached media: URLs once processed, null while processing or after it was deleted."""
    if row is None:
        return {"id": media_id, "status": "deleted", "contentType": None, "url": None, "previewUrl": None,
                "thumbnailUrl": None, "width": None, "height": None, "blurHash": None}
    ready = row["status"] == READY
    original = msgspec.json.decode(row["original"], type=RenditionInfo) if ready else None
    return {
        "id": media_id,
        "status": row["status"],
        "contentType": original.content_type if original else row["content_type"],
        "url": _url(row, "original", base) if ready else None,
        "previewUrl": _url(row, "small", base) if ready else None,
        "thumbnailUrl": (_url(row, "thumb", base) or _url(row, "small", base)) if ready else None,
        "width": original.width if original else None,
        "height": original.height if original else None,
        "blurHash": row["blurhash"] if ready else None,
    }
