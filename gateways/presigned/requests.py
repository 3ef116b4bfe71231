"""`POST /media`: grants an upload URL for one image and records the media as pending."""

from __future__ import annotations

import math
import time

import msgspec
from aiohttp import web

from core.events import MediaRequested
from core.ids import new_media_id
from core.kinds import AV_CONTAINERS
from gateways.kit import bodies
from gateways.kit.principal import Principal, require
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.presigned import filenames
from gateways.presigned.settings import PresignedSettings
from gateways.presigned.signing import Grant, Signer

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# A file name and a content type fit in far less; anything bigger is not a request of this kind.
BODY_LIMIT = 16 * 1024

SIGNER = web.AppKey("presigned_signer", Signer)


class UploadRequest(msgspec.Struct, frozen=True):
    filename: str | None = None
    content_type: str | None = msgspec.field(name="contentType", default=None)


UPLOAD_REQUEST = msgspec.json.Decoder(UploadRequest)


async def _body(request: web.Request) -> UploadRequest:
    try:
        return await bodies.read_json(request, UPLOAD_REQUEST, limit=BODY_LIMIT)
    except Refusal as exc:
        if exc.code == bodies.INVALID_PARAMETER and exc.parameter is not None:
            raise Refusal(400, f"{exc.parameter} must be a string", code=exc.code, parameter=exc.parameter) from None
        message = "The body must be a JSON object" if exc.message == bodies.NOT_AN_OBJECT else exc.message
        raise Refusal(exc.status, message, code=exc.code, parameter=exc.parameter) from None


def _text(value: str | None, name: str) -> str:
    if not value:
        raise Refusal(400, f"{name} is required", code="missing_parameter", parameter=name)
    return value


def granted_types(settings: PresignedSettings, user: Principal) -> tuple[str, ...]:
    """What `user` may be granted: video and audio where the operator lets apps upload them, and always for
    the site's own upload page, since the pipeline processes them; `presigned_av` is about the apps."""
    if settings.presigned_av or user.site_login:
        return (*IMAGE_TYPES, *sorted(AV_CONTAINERS))
    return IMAGE_TYPES


async def request_upload(request: web.Request) -> web.Response:
    user = await require(request, "write:media")
    body = await _body(request)
    filename = _text(body.filename, "filename")
    try:
        filenames.check(filename)
    except filenames.BadFilename as exc:
        raise Refusal(400, str(exc), code="invalid_parameter", parameter="filename") from None
    app = request.app
    config = app[SERVICES].config
    settings = config.settings(PresignedSettings)
    content_type = _text(body.content_type, "contentType").strip().lower()
    granted = granted_types(settings, user)
    if content_type not in granted:
        raise Refusal(415, f"contentType must be one of {', '.join(granted)}",
                      code="unsupported_media_type", parameter="contentType")

    now = time.time()
    grant = Grant(media_id=new_media_id(), content_type=content_type, max_bytes=settings.presigned_size_limit,
                  # Whole seconds in the URL, rounded up so a URL is never shorter-lived than configured.
                  expires=math.ceil(now + settings.upload_url_ttl))
    event = MediaRequested(at=now, media_id=grant.media_id, owner_id=user.user_id, filename=filename,
                           content_type=content_type, max_bytes=grant.max_bytes, expires_at=float(grant.expires))
    # Read-your-writes: the app's next GET /media/{id} on this replica already sees the request.
    await append(request, event, msg_id=f"{grant.media_id}.requested")
    return web.json_response({
        "uploadUrl": app[SIGNER].url(config.base_url, grant),
        "contentDispositionHeader": filenames.content_disposition(filename),
        "media": {"id": grant.media_id, "filename": filename, "contentType": content_type},
    })
