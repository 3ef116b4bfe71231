"""Who is calling: the bearer tokens of the Mastodon API, refused in this API's JSON error shape."""

from __future__ import annotations

from aiohttp import web

from gateways import keys
from gateways.apierrors import ApiError
from gateways.mastodon.auth import Principal, authenticate
from gateways.posts import errors


async def caller(request: web.Request, *scopes: str) -> Principal:
    """The token's user when the token grants one of `scopes`; 401 without a known token, 403 without the scope."""
    app = request.app
    principal = await authenticate(request, app[keys.EVENTS], app[keys.PROJECTION])
    if principal is None:
        raise ApiError(401, errors.INVALID_TOKEN, "The access token is invalid")
    if not principal.allows(*scopes):
        raise ApiError(403, errors.INSUFFICIENT_SCOPE, "This action is outside the authorized scopes")
    return principal
