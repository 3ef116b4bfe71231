"""`GET /media/{id}`: where a media is, from granted upload to ready image, for its uploader only."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from aiohttp import web

from core.events import RenditionInfo
from core.ids import media_id_time
from gateways.apierrors import ApiError
from gateways.files import file_url
from gateways.kit.principal import caught_up, require
from gateways.kit.services import SERVICES
from gateways.kit.timestamps import iso
from store.readmodel import FAILED, READY

PENDING = "pending"


class Found(msgspec.Struct, frozen=True):
    """A media's read-model row: from `requests` while its bytes have not come, else from `media`."""

    row: sqlite3.Row
    pending: bool


def not_found() -> ApiError:
    return ApiError(404, "not_found", "Media not found")


async def lookup(app: web.Application, media_id: str) -> Found | None:
    projection = app[SERVICES].projection
    found = await _lookup(app, media_id)
    if found is None and await caught_up(app[SERVICES].events, projection):
        # Granted or uploaded through another replica a moment ago: look again once this one has
        # folded everything the log held.
        found = await _lookup(app, media_id)
    return found


async def _lookup(app: web.Application, media_id: str) -> Found | None:
    projection = app[SERVICES].projection
    row = await projection.one("SELECT * FROM media WHERE media_id = ?", (media_id,))
    if row is not None:
        return Found(row, pending=False)
    row = await projection.one("SELECT * FROM requests WHERE media_id = ?", (media_id,))
    return Found(row, pending=True) if row is not None else None


def render(found: Found, base: str) -> dict[str, Any]:
    row = found.row
    media_id = row["media_id"]
    # The id carries the moment it was granted, so createdAt stays put from pending to ready.
    created = media_id_time(media_id) or row["created_at"]
    body: dict[str, Any] = {
        "id": media_id,
        "filename": row["filename"] or "",
        "contentType": row["content_type"],
        "size": None,
        "width": None,
        "height": None,
        "status": PENDING,
        "publicDownloadUrl": None,
        "blurHash": None,
        "canonicalUri": None,
        "createdAt": iso(created),
    }
    if found.pending:
        return body
    body.update(size=row["size"], width=row["width"], height=row["height"], status=row["status"])
    if row["status"] == READY:
        original = msgspec.json.decode(row["original"], type=RenditionInfo)
        body.update(
            publicDownloadUrl=file_url(base, row["blob"], row["version"], original),
            blurHash=row["blurhash"],
            canonicalUri=f"{base}/media/sha256/{row['blob']}",
        )
    elif row["status"] == FAILED:
        body["failure"] = row["failure"] or "processing failed"
    return body


async def get_media(request: web.Request) -> web.Response:
    user = await require(request, "read:media", "write:media")
    found = await lookup(request.app, request.match_info["id"])
    # Somebody else's media is answered exactly like one that does not exist.
    if found is None or found.row["owner_id"] != user.user_id:
        raise not_found()
    return web.json_response(render(found, request.app[SERVICES].config.base_url))
