"""`POST /media`: grants an upload URL for one image and records the media as pending."""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec
from aiohttp import web

from core.events import MediaRequested
from core.ids import new_media_id
from gateways.apierrors import ApiError
from gateways.kit.principal import require
from gateways.kit.services import SERVICES
from gateways.presigned import filenames
from gateways.presigned.errors import reachable
from gateways.presigned.settings import PresignedSettings
from gateways.presigned.signing import Grant, Signer

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# A file name and a content type fit in far less; anything bigger is not a request of this kind.
BODY_LIMIT = 16 * 1024

SIGNER = web.AppKey("presigned_signer", Signer)


def _body(data: bytes) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(data)
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise ApiError(400, "missing_parameter", f"{name} is required", parameter=name)
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name} must be a string", parameter=name)
    return value


def _too_large() -> ApiError:
    return ApiError(413, "too_large", f"The request body must be at most {BODY_LIMIT} bytes")


async def _read(request: web.Request) -> bytes:
    data = bytearray()
    async for chunk in request.content.iter_chunked(4096):
        data += chunk
        if len(data) > BODY_LIMIT:
            raise _too_large()
    return bytes(data)


async def request_upload(request: web.Request) -> web.Response:
    user = await require(request, "write:media")
    if request.content_length is not None and request.content_length > BODY_LIMIT:
        raise _too_large()
    body = _body(await _read(request))
    filename = _text(body, "filename")
    try:
        filenames.check(filename)
    except filenames.BadFilename as exc:
        raise ApiError(400, "invalid_parameter", str(exc), parameter="filename") from None
    content_type = _text(body, "contentType").strip().lower()
    if content_type not in IMAGE_TYPES:
        raise ApiError(415, "unsupported_media_type", f"contentType must be one of {', '.join(IMAGE_TYPES)}",
                       parameter="contentType")

    app = request.app
    config = app[SERVICES].config
    settings = config.settings(PresignedSettings)
    now = time.time()
    grant = Grant(media_id=new_media_id(), content_type=content_type, max_bytes=settings.presigned_size_limit,
                  # Whole seconds in the URL, rounded up so a URL is never shorter-lived than configured.
                  expires=math.ceil(now + settings.upload_url_ttl))
    event = MediaRequested(at=now, media_id=grant.media_id, owner_id=user.user_id, filename=filename,
                           content_type=content_type, max_bytes=grant.max_bytes, expires_at=float(grant.expires))
    with reachable():
        seq = await app[SERVICES].events.append(event, msg_id=f"{grant.media_id}.requested")
    # Read-your-writes: the app's next GET /media/{id} on this replica already sees the request.
    await app[SERVICES].projection.wait_for(seq, timeout=10.0)
    return web.json_response({
        "uploadUrl": app[SIGNER].url(config.base_url, grant),
        "contentDispositionHeader": filenames.content_disposition(filename),
        "media": {"id": grant.media_id, "filename": filename, "contentType": content_type},
    })
