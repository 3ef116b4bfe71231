"""Instance discovery and the account behind a token."""

from __future__ import annotations

import sqlite3
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from gateways.kit.principal import Principal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors
from gateways.mastodon.accounts import account_of
from gateways.mastodon.media import requires
from gateways.mastodon.render import instance_v1, instance_v2
from store.queries.users import user_count, user_row


def package_version() -> str:
    try:
        return version("mediaplex")
    except PackageNotFoundError:
        return "0"


async def _user_count(request: web.Request) -> int:
    return await user_count(request.app[SERVICES].projection)


async def get_instance_v1(request: web.Request) -> web.Response:
    app = request.app
    body = instance_v1(app[SERVICES].config, app[SERVICES].limits, await _user_count(request), package_version())
    return web.json_response(body)


async def get_instance_v2(request: web.Request) -> web.Response:
    app = request.app
    body = instance_v2(app[SERVICES].config, app[SERVICES].limits, await _user_count(request), package_version())
    return web.json_response(body)


@requires("read", "read:accounts", "profile")
async def verify_credentials(request: web.Request, principal: Principal) -> web.StreamResponse:
    base = request.app[SERVICES].config.base_url
    viewer = principal.user_id

    def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
        user = user_row(conn, viewer)
        return None if user is None else account_of(conn, user, base, viewer)

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        return errors.error(404, errors.NOT_FOUND)
    return web.json_response(found)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/instance", get_instance_v1),
        web.get("/api/v1/instance/", get_instance_v1),
        web.get("/api/v2/instance", get_instance_v2),
        web.get("/api/v2/instance/", get_instance_v2),
        web.get("/api/v1/accounts/verify_credentials", verify_credentials),
    ]
