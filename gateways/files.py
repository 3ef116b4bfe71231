"""Serves renditions at the URLs the JSON gives, re-rendering any that went missing, and their
transformations (gateways.transform) when the query asks for one."""

from __future__ import annotations

import re

from aiohttp import web

from core.events import RenditionInfo
from core.ports import SHA256
from gateways.kit import numbers
from gateways.transform import routes as transform
from gateways.transform.owners import may_fetch
from gateways.transform.source import EXTENSIONS, Source, ensure_rendition, shown

RENDITION = re.compile(r"(original|small|thumb)\.(jpg|png|gif|webp|mp4|mp3)")
# Processing versions count reprocessings of one media; a longer number would not even make a file name.
MAX_VERSION = 10**9


async def rendition(request: web.Request) -> web.StreamResponse:
    # A variant answered before for this very request, made after every check below.
    hit = transform.remembered(request) if request.query_string else None
    if hit is not None:
        return hit
    read_since = transform.since(request)
    blob = request.match_info["blob"]
    name = request.match_info["name"]
    version = numbers.whole(request.match_info["version"], MAX_VERSION)
    if version is None:
        raise web.HTTPNotFound()
    found = RENDITION.fullmatch(name)
    if not SHA256.fullmatch(blob) or found is None:
        raise web.HTTPNotFound()
    public = await shown(request.app, blob)
    # An unposted pump.io upload's files are its owner's: to anyone else they do not exist.
    if public is None or not await may_fetch(request, public):
        raise web.HTTPNotFound()
    path = await ensure_rendition(request.app, blob, version, name, public=public)
    if path is None:
        raise web.HTTPNotFound()
    source = Source(blob=blob, version=version, name=name, path=path, private=public.owners is not None)
    if transform.applies(request.query):
        return await transform.respond(request, source, read_since=read_since)
    return transform.file_response(source)


def file_url(base: str, blob: str, version: int, info: RenditionInfo) -> str:
    """Where `rendition` below serves a rendition."""
    return f"{base}/media/files/{blob}/v{version}/{info.style}.{EXTENSIONS[info.content_type]}"


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/media/files/{blob}/v{version:\d+}/{name}", rendition)
