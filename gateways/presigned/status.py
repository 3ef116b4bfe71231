"""`GET /media/{id}`: where a media is, from granted upload to ready image, for its uploader only."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from aiohttp import web

from core.ids import media_id_time
from core.kinds import kind_of_type
from gateways.kit.media import PENDING, MediaView, media_view, requested_view
from gateways.kit.principal import once_caught_up, require
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.timestamps import iso
from store.queries.media import media_by_id
from store.queries.requests import request_by_id
from store.readmodel import FAILED, READY


class Found(msgspec.Struct, frozen=True):
    """A media's read-model row: from `requests` while its bytes have not come, else from `media`."""

    row: sqlite3.Row
    pending: bool


def not_found() -> Refusal:
    return Refusal(404, "Media not found", code="not_found")


async def lookup(app: web.Application, media_id: str) -> Found | None:
    # Granted or uploaded through another replica a moment ago: look again once this one has folded it.
    return await once_caught_up(app, lambda: _lookup(app, media_id))


async def _lookup(app: web.Application, media_id: str) -> Found | None:
    projection = app[SERVICES].projection
    row = await media_by_id(projection, media_id)
    if row is not None:
        return Found(row, pending=False)
    row = await request_by_id(projection, media_id)
    return Found(row, pending=True) if row is not None else None


def view(found: Found, base: str) -> MediaView:
    return requested_view(found.row) if found.pending else media_view(found.row, base)


def render(media: MediaView) -> dict[str, Any]:
    # The id carries the moment it was granted, so createdAt stays put from pending to ready.
    created = media_id_time(media.id) or media.created_at
    body: dict[str, Any] = {
        "id": media.id,
        "filename": media.filename or "",
        "contentType": media.content_type,
        # image, gifv, video or audio: from the bytes once they came, from the granted type until then.
        "kind": media.kind if not media.pending else kind_of_type(media.content_type or ""),
        "size": None,
        "width": None,
        "height": None,
        "status": PENDING,
        "publicDownloadUrl": None,
        "blurHash": None,
        "canonicalUri": None,
        "createdAt": iso(created),
    }
    if media.pending:
        return body
    body.update(size=media.size, width=media.width, height=media.height, status=media.status)
    if media.status == READY:
        body.update(publicDownloadUrl=media.url("original"), blurHash=media.blurhash,
                    canonicalUri=media.canonical_url)
    elif media.status == FAILED:
        body["failure"] = media.failure or "processing failed"
    return body


async def get_media(request: web.Request) -> web.Response:
    user = await require(request, "read:media", "write:media")
    found = await lookup(request.app, request.match_info["id"])
    # Somebody else's media is answered exactly like one that does not exist.
    if found is None or found.row["owner_id"] != user.user_id:
        raise not_found()
    return web.json_response(render(view(found, request.app[SERVICES].config.base_url)))
