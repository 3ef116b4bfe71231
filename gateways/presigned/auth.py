"""Bearer tokens as the Mastodon API takes them, refused in this API's JSON shape."""

from __future__ import annotations

from aiohttp import web

from gateways import keys
from gateways.apierrors import ApiError
from gateways.mastodon.auth import Principal, authenticate


async def principal(request: web.Request, *scopes: str) -> Principal:
    app = request.app
    found = await authenticate(request, app[keys.EVENTS], app[keys.PROJECTION])
    if found is None:
        raise ApiError(401, "unauthorized", "The access token is invalid")
    if not found.allows(*scopes):
        raise ApiError(403, "forbidden", "This action is outside the authorized scopes")
    return found
