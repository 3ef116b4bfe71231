"""Transformations on public image URLs, and the content-addressed URL of a blob's original.

`GET /media/sha256/{blob}` serves the original rendition of a blob that some processed media names.
It and `/media/files/...` answer with the file as it is when the query holds no transformation
parameter, and with a variant otherwise. Unknown parameter names are ignored, as imgix does,
so tracking parameters and cache busters never break a URL; `s` is the exception: it is
checked whenever a transformation key is configured, and refused when none is.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiMapping

from core.ports import SHA256
from gateways.kit.ranges import UNIT, ranged
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.transform import params, signing
from gateways.transform.cache import Answer, AnswerKey, Key
from gateways.transform.owners import may_fetch
from gateways.transform.settings import TransformSettings
from gateways.transform.source import (
    OUTPUT_FORMATS,
    TYPES,
    Source,
    ensure_rendition,
    levels,
    media_focus,
    shown,
)

IMMUTABLE = "public, max-age=31536000, immutable"
# An unposted pump.io upload's files answer its owner alone, and become public once posted: only the
# owner's own cache may keep them, asking again (a new signed request) before each use.
PRIVATE = "private, no-cache"
# The media's focus point can change under the same URL: caches keep the bytes but ask first,
# and the ETag (which covers the focus point) turns the question into a cheap 304.
REVALIDATE = "public, no-cache"


def applies(query: MultiMapping[str]) -> bool:
    """Whether a request for an image file goes through here rather than straight to the file."""
    return params.requested(query.keys()) or params.SIGNATURE in query


def remembered(request: web.Request) -> web.StreamResponse | None:
    """The answer kept for this very request, when there is one: no database, no file, no digest.

    Only public variants are kept, and only once the URL passed every check below, signature included;
    what could change the answer since is taken out by the projection (cache.Answers).
    """
    variants = request.app[SERVICES].variants
    found = variants.answers.get(_answer_key(request))
    if found is None:
        return None
    variants.hit()
    headers = request.headers
    if "If-None-Match" in headers and _not_modified(request, found.headers["ETag"]):
        return web.Response(status=304, headers=found.unchanged)
    if "Range" in headers:
        return ranged(request, found.body, found.headers)
    # What `ranged` answers without a Range header, its Accept-Ranges included (kept with the answer).
    return web.Response(body=found.body, headers=found.ranged)


def _answer_key(request: web.Request) -> AnswerKey:
    return request.raw_path, request.headers.get("Accept", "")


def since(request: web.Request) -> int:
    """What the answers have forgotten so far; taken before a request's first read of the projection, so
    that an answer made from what a change has since replaced is not kept (cache.Answers.keep)."""
    return request.app[SERVICES].variants.answers.forgotten


async def respond(request: web.Request, source: Source, *, read_since: int) -> web.StreamResponse:
    """The variant of `source` the query asks for, or the file itself under a valid signature alone.

    `read_since`: `since(request)` before `source` was looked up."""
    query = request.query
    _check_signature(request)
    if not params.requested(query.keys()) or source.extension not in OUTPUT_FORMATS:
        # A video or audio original is served as it is, whatever the query asks of an image.
        return file_response(source)
    try:
        transform = params.parse(query.items())
    except params.InvalidParameter as exc:
        raise Refusal(400, exc.message, code="invalid_parameter", parameter=exc.parameter) from None
    app = request.app
    focus = await media_focus(app, source.blob) if params.needs_focus(transform) else None
    variant = params.normalize(
        transform,
        source_format=OUTPUT_FORMATS[source.extension],
        accept=request.headers.get("Accept", ""),
        focus=focus,
    )
    key = Key(blob=source.blob, source=source.label, variant=variant)
    digest = key.digest
    headers = {
        "ETag": f'"{digest[:40]}"',
        "Cache-Control": PRIVATE if source.private else REVALIDATE if params.needs_focus(transform) else IMMUTABLE,
    }
    if params.varies_on_accept(transform):
        headers["Vary"] = "Accept"
    if _not_modified(request, headers["ETag"]):
        return web.Response(status=304, headers=headers)
    variants = app[SERVICES].variants
    body = await variants.get(key, source.path, smaller=await levels(app, source), digest=digest)
    full = {**headers, "Content-Type": TYPES[variant.format]}
    if not source.private:
        answer = Answer(blob=source.blob, body=body, unchanged=headers, headers=full,
                        ranged={**full, "Accept-Ranges": UNIT})
        variants.answers.keep(_answer_key(request), answer, since=read_since)
    return ranged(request, body, full)


def _check_signature(request: web.Request) -> None:
    key = request.app[SERVICES].config.settings(TransformSettings).transform_key
    given = request.query.getall(params.SIGNATURE, [])
    if not key:
        if given:
            raise Refusal(400, "this server does not sign URLs", code="invalid_parameter", parameter=params.SIGNATURE)
        return
    if len(given) != 1:
        raise Refusal(403, "a transformation URL must carry one signature, s",
                      code="signature_required", parameter=params.SIGNATURE)
    if not signing.verify(key, request.path, request.query.items(), given[0]):
        raise Refusal(403, "the signature does not match the URL", code="invalid_signature", parameter=params.SIGNATURE)


def _not_modified(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    # If-None-Match compares weakly: a cache may hand back our tag with a W/ in front.
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def file_response(source: Source) -> web.FileResponse:
    """The rendition file as it is; FileResponse answers Range requests (206, 416, Accept-Ranges), which
    players need to seek."""
    return web.FileResponse(
        source.path,
        headers={"Content-Type": TYPES[source.extension], "Cache-Control": PRIVATE if source.private else IMMUTABLE},
    )


async def by_digest(request: web.Request) -> web.StreamResponse:
    blob = request.match_info["blob"]
    if not SHA256.fullmatch(blob):
        raise Refusal(404, "no image has this address", code="not_found")
    hit = remembered(request) if request.query_string else None
    if hit is not None:
        return hit
    app = request.app
    read_since = since(request)
    public = await shown(app, blob)
    found = public.original if public is not None else None
    # An unposted pump.io upload's files are its owner's: to anyone else they do not exist.
    if public is None or found is None or not await may_fetch(request, public):
        raise Refusal(404, "no image has this address", code="not_found")
    path = await ensure_rendition(app, blob, *found, public=public)
    if path is None:
        raise Refusal(404, "no image has this address", code="not_found")
    source = Source(blob=blob, version=found[0], name=found[1], path=path, private=public.owners is not None)
    if applies(request.query):
        return await respond(request, source, read_since=read_since)
    return file_response(source)


def canonical_url(base: str, blob: str) -> str:
    """Where `by_digest` serves the original of a blob: a media's content-addressed URL."""
    return f"{base}/media/sha256/{blob}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/media/sha256/{blob}", by_digest)
