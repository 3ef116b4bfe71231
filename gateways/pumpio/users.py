"""pump.io users: `GET /api/whoami`, `/api/user/<u>` and `/api/user/<u>/profile`, all behind OAuth."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.pumpio import render
from gateways.pumpio.oauth import PumpPrincipal, authenticate
from gateways.pumpio.render import Site
from store.queries.users import user_by_id

NOT_YOUR_FEED = "Not able to post to another users feed."


async def find_user(request: web.Request, name: str) -> sqlite3.Row:
    row = await user_by_id(request.app[SERVICES].projection, name)
    if row is None:
        raise Refusal(404, f"No such user: {name}")
    return row


async def poster(request: web.Request) -> PumpPrincipal:
    """The signed-in user, who must be the one the path names: only they post to their feed and uploads."""
    principal = await authenticate(request)
    name = (await find_user(request, request.match_info["user"]))["user_id"]
    if name != principal.user_id:
        raise Refusal(403, NOT_YOUR_FEED)
    return principal


async def whoami(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    location = f"{Site.of(request.app[SERVICES].config).user(principal.user_id)}/profile"
    raise web.HTTPFound(location)


async def get_user(request: web.Request) -> web.Response:
    await authenticate(request)
    row = await find_user(request, request.match_info["user"])
    return web.json_response(render.user(row, Site.of(request.app[SERVICES].config)))


async def get_profile(request: web.Request) -> web.Response:
    await authenticate(request)
    row = await find_user(request, request.match_info["user"])
    return web.json_response(render.person(row, Site.of(request.app[SERVICES].config)))


def add_routes(app: web.Application) -> None:
    for path, handler in (
        ("/api/whoami", whoami),
        ("/api/user/{user}", get_user),
        ("/api/user/{user}/profile", get_profile),
    ):
        app.router.add_get(path, handler)
        app.router.add_get(path + "/", handler)
