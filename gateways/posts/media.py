"""The media a post or profile names: checked against the caller's own library, and shown as JSON.

Someone else's media is refused exactly as an unknown or deleted id is, so ids cannot be probed.
Media still processing may be attached (as Mastodon allows); media that failed processing may not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from gateways.kit.media import MediaView
from gateways.kit.refusal import Refusal
from gateways.posts import errors
from store.queries.media import media_by_ids
from store.queries.requests import requests_by_ids
from store.reader import ProjectionReader
from store.readmodel import FAILED, READY


async def check_usable(projection: ProjectionReader, owner: str, ids: Sequence[str], parameter: str, *,
                       unattached: bool = False) -> None:
    """`unattached`: refuse media a post already shows too, as a media attaches to one post at most."""
    def load(conn: sqlite3.Connection) -> tuple[dict[str, sqlite3.Row], dict[str, sqlite3.Row]]:
        return media_by_ids(conn, ids), requests_by_ids(conn, ids)

    media, requested = await projection.read(load)
    mine = {media_id: row for media_id, row in media.items() if row["owner_id"] == owner}
    pending = [i for i in ids if i not in mine and i in requested and requested[i]["owner_id"] == owner]
    unknown = [i for i in ids if i not in mine and i not in pending]
    if unknown:
        raise Refusal(422, f"Media not found: {', '.join(unknown)}", code=errors.MEDIA_NOT_FOUND, parameter=parameter)
    if pending:
        raise Refusal(422, f"Media not uploaded yet: {', '.join(pending)}",
                      code=errors.MEDIA_NOT_UPLOADED, parameter=parameter)
    attached = [i for i in ids if unattached and (mine[i]["published_at"] is not None
                                                  or mine[i]["post_id"] is not None)]
    if attached:
        raise Refusal(422, f"Media already attached to a post: {', '.join(attached)}",
                      code=errors.MEDIA_ATTACHED, parameter=parameter)
    failed = [i for i in ids if mine[i]["status"] == FAILED]
    if failed:
        raise Refusal(422, f"Media could not be processed: {', '.join(failed)}",
                      code=errors.MEDIA_FAILED, parameter=parameter)


def media_json(media_id: str, media: MediaView | None) -> dict[str, Any]:
    """One attached media: URLs once processed, null while processing or after it was deleted."""
    if media is None:
        return {"id": media_id, "status": "deleted", "contentType": None, "url": None, "previewUrl": None,
                "thumbnailUrl": None, "width": None, "height": None, "blurHash": None}
    ready = media.status == READY
    original = media.renditions["original"].info if ready else None
    return {
        "id": media_id,
        "status": media.status,
        "contentType": original.content_type if original else media.content_type,
        "url": media.url("original") if ready else None,
        "previewUrl": media.url("small") if ready else None,
        "thumbnailUrl": (media.url("thumb") or media.url("small")) if ready else None,
        "width": original.width if original else None,
        "height": original.height if original else None,
        "blurHash": media.blurhash if ready else None,
    }
