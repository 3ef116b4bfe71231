"""Instance discovery and the account behind a token."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from gateways.kit.principal import Principal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors
from gateways.mastodon.media import requires
from gateways.mastodon.render import account, instance_v1, instance_v2


def package_version() -> str:
    try:
        return version("mediaplex")
    except PackageNotFoundError:
        return "0"


async def _user_count(request: web.Request) -> int:
    row = await request.app[SERVICES].projection.one("SELECT count(*) AS n FROM users")
    return int(row["n"]) if row else 0


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
    user = await request.app[SERVICES].projection.one("SELECT * FROM users WHERE user_id = ?", (principal.user_id,))
    if user is None:
        return errors.error(404, errors.NOT_FOUND)
    return web.json_response(account(user, request.app[SERVICES].config.base_url))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/instance", get_instance_v1),
        web.get("/api/v1/instance/", get_instance_v1),
        web.get("/api/v2/instance", get_instance_v2),
        web.get("/api/v2/instance/", get_instance_v2),
        web.get("/api/v1/accounts/verify_credentials", verify_credentials),
    ]
