"""`/api/v1/timelines/public` and `/home`: public posts of everyone, and the caller's own (no follows yet)."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from gateways.kit.principal import Principal, resolve
from gateways.kit.services import SERVICES
from gateways.mastodon import paging
from gateways.mastodon.media import requires
from gateways.mastodon.status_form import TRUE
from gateways.mastodon.statuses import VISIBILITIES, statuses_json
from store.queries.posts import Timeline, page


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in TRUE


async def _answer(request: web.Request, timeline: Timeline, viewer: str | None) -> web.Response:
    base = request.app[SERVICES].config.base_url
    window = paging.window(request)

    def load(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[dict[str, object]]]:
        rows = page(conn, timeline, window)
        return rows, statuses_json(conn, rows, base, viewer)

    rows, body = await request.app[SERVICES].projection.read(load)
    return web.json_response(body, headers=paging.link(request, base, rows))


async def public(request: web.Request) -> web.StreamResponse:
    principal = await resolve(request)
    # Every post here is local: `local` and `remote` narrow nothing, except `remote` to nothing at all.
    if flag(request, "remote"):
        return web.json_response([])
    timeline = Timeline(visibilities=("public",), only_media=flag(request, "only_media"))
    return await _answer(request, timeline, principal.user_id if principal else None)


@requires("read", "read:statuses")
async def home(request: web.Request, principal: Principal) -> web.StreamResponse:
    timeline = Timeline(visibilities=VISIBILITIES, author=principal.user_id)
    return await _answer(request, timeline, principal.user_id)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/timelines/public", public),
        web.get("/api/v1/timelines/home", home),
    ]
