"""`PUT /media/{id}/upload`: the bytes of a granted upload, authorized by the URL's signature alone.

Every check that needs no body runs before a byte is read: signature, expiry, Content-Type,
Content-Length, the pending request, the single-use claim. The body then streams into a staged
blob, capped, sniffed and checked from its header; only when all of that passed does the blob
become visible and the upload event go into the log. A refusal leaves no file, blob or event.
"""

from __future__ import annotations

import contextlib
import time

import aiohttp
from aiohttp import web

from core.kinds import AV_CONTAINERS
from core.log import Conflict
from core.ports import TooLarge
from core.probe import Limits, MediaRejected
from gateways.kit.boundary import BROKER_AWAY
from gateways.kit.ingest import Checked, record, stage
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.presigned.claims import open_claims
from gateways.presigned.requests import SIGNER
from gateways.presigned.signing import grant_from
from gateways.presigned.status import Found, lookup, render, view

# Cloudflare Images' limits for direct uploads.
LIMITS = Limits(max_pixels=100_000_000, max_side=12_000)
CHUNK = 256 * 1024
VIA = "presigned"


def _signature_mismatch() -> Refusal:
    # S3's words, so that apps and people who know S3 recognise the situation.
    return Refusal(403, "The request signature we calculated does not match the signature you provided",
                   code="signature_mismatch")


def _already_used() -> Refusal:
    return Refusal(409, "This upload URL has already been used", code="already_used")


def _too_large(cap: int) -> Refusal:
    return Refusal(413, f"The upload must be at most {cap} bytes", code="too_large")


def _rejection(exc: MediaRejected, content_type: str) -> Refusal:
    match exc.kind:
        case "unidentified" | "unsupported":
            return Refusal(415, f"The uploaded bytes are not {content_type}", code="type_mismatch")
        case "too_many_pixels":
            return Refusal(422, f"The {exc.media} is too large: {exc}", code="too_many_pixels")
        case "corrupt":
            return Refusal(422, f"The {exc.media} is truncated or corrupt: {exc}", code="corrupt_image")
        case _:
            # Video and audio past a limit of theirs: the reason names it.
            return Refusal(422, f"The {exc.media} is refused: {exc}", code="refused_media")


async def put_upload(request: web.Request) -> web.Response:
    app = request.app
    media_id = request.match_info["id"]
    grant = grant_from(media_id, request.query)
    if grant is None or not app[SIGNER].verify(grant, request.query.get("sig", "")):
        raise _signature_mismatch()
    if time.time() > grant.expires:
        raise Refusal(403, "Request has expired", code="request_expired")
    if request.content_type != grant.content_type:
        raise Refusal(415, f"Content-Type must be {grant.content_type}",
                      code="content_type_mismatch", parameter="Content-Type")
    if request.content_length is not None and request.content_length > grant.max_bytes:
        raise _too_large(grant.max_bytes)

    found = await lookup(app, media_id)
    if found is None:
        raise Refusal(404, "No upload is pending for this media", code="not_found")
    if not found.pending:
        raise _already_used()
    claims = await open_claims(app)
    revision = await claims.claim(media_id)
    if revision is None:
        raise _already_used()
    try:
        requested = await app[SERVICES].events.last_on(f"mx.media.{media_id}.requested")
        await _receive(request, found, grant.content_type, grant.max_bytes, requested)
    except BaseException:
        # Nothing was recorded: the URL stays good for another try until it expires. A broker
        # that cannot take the release back leaves the claim to age out; the refusal still stands.
        with contextlib.suppress(*BROKER_AWAY):
            await claims.release(media_id, revision)
        raise
    uploaded = await lookup(app, media_id)
    if uploaded is None:
        # Deleted between its upload and this answer.
        raise Refusal(404, "Media not found", code="not_found")
    return web.json_response(render(view(uploaded, app[SERVICES].config.base_url)))


async def _receive(request: web.Request, found: Found, content_type: str, cap: int, requested: int) -> None:
    app = request.app
    blobs = app[SERVICES].blobs
    try:
        # The signed URL is the permission: POST /media granted a video or audio type only to whom it may
        # (apps under --presigned-av, the site's own upload page always), and the bytes must be of that type.
        takes_av = content_type in AV_CONTAINERS
        checked: Checked = await stage(blobs, request.content.iter_chunked(CHUNK), max_bytes=cap, limits=LIMITS,
                                       expect=content_type, whole=True, max_av_bytes=cap if takes_av else None)
    except TooLarge:
        raise _too_large(cap) from None
    except MediaRejected as exc:
        raise _rejection(exc, content_type) from None
    except (aiohttp.ClientPayloadError, ConnectionError):
        raise Refusal(400, "The request body ended early", code="incomplete_body") from None
    try:
        await record(checked, events=app[SERVICES].events, blobs=blobs, projection=app[SERVICES].projection,
                     owner_id=found.row["owner_id"], via=VIA, filename=found.row["filename"],
                     media_id=found.row["media_id"], expected_last=requested)
    except Conflict:
        # Another upload of this media landed first, or it was deleted (its URL expired) meanwhile.
        raise _already_used() from None

