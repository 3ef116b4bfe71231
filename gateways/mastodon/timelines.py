"""`/api/v1/timelines/public` and `/home`: public posts of everyone, and the caller's own with those of the
accounts the caller follows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from aiohttp import web

from gateways.kit.principal import Principal, resolve
from gateways.kit.services import SERVICES
from gateways.mastodon import paging
from gateways.mastodon.media import requires
from gateways.mastodon.status_form import TRUE
from gateways.mastodon.statuses import FOLLOWED, statuses_json
from store.queries.posts import Timeline, Window, home_page, page


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in TRUE


Page = Callable[[sqlite3.Connection, Window], list[sqlite3.Row]]


async def _answer(request: web.Request, read: Page, viewer: str | None) -> web.Response:
    base = request.app[SERVICES].config.base_url
    window = paging.window(request)

    def load(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[dict[str, object]]]:
        rows = read(conn, window)
        return rows, statuses_json(conn, rows, base, viewer)

    rows, body = await request.app[SERVICES].projection.read(load)
    return web.json_response(body, headers=paging.link(request, base, rows))


async def public(request: web.Request) -> web.StreamResponse:
    principal = await resolve(request)
    # Every post here is local: `local` and `remote` narrow nothing, except `remote` to nothing at all.
    if flag(request, "remote"):
        return web.json_response([])
    timeline = Timeline(visibilities=("public",), only_media=flag(request, "only_media"))
    return await _answer(request, lambda conn, window: page(conn, timeline, window),
                         principal.user_id if principal else None)


@requires("read", "read:statuses")
async def home(request: web.Request, principal: Principal) -> web.StreamResponse:
    """The caller's own statuses of every visibility, and those the caller's follows show to followers."""
    viewer = principal.user_id
    timeline = Timeline(visibilities=FOLLOWED, only_media=flag(request, "only_media"))
    return await _answer(request, lambda conn, window: home_page(conn, viewer, timeline, window), viewer)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/timelines/public", public),
        web.get("/api/v1/timelines/home", home),
    ]
