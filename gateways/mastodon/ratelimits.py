"""Mastodon's rate limits on the gateway's /api/ routes: per token, and for media uploads per user.

Every answer to a request with an issued token carries X-RateLimit-Limit / -Remaining / -Reset (the reset as
ISO 8601, as Mastodon sends it) for the per-token window; once over, the answer is 429
`{"error": "Too many requests"}` with the headers of the window that was exceeded. Requests without a
token, or with one nobody issued, are not counted here (Mastodon counts those per address; that belongs
to the proxy in front, which knows the client's address). Counts are keyed by hashes, never by the token itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractResource

from gateways.kit.boundary import Handler
from gateways.kit.principal import grant
from gateways.kit.ratelimit import Count, Counter, Window
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon.settings import MastodonSettings

TOO_MANY = "Too many requests"
UPLOADS = frozenset({"/api/v1/media", "/api/v2/media"})
# What a request's answer carries, set before the handler runs so that refusals rendered by the error
# boundary carry it too.
HEADERS = web.RequestKey("mastodon_rate_limit_headers", dict)


def headers(count: Count) -> dict[str, str]:
    reset = dt.datetime.fromtimestamp(count.reset, dt.UTC)
    return {
        "X-RateLimit-Limit": str(count.window.limit),
        "X-RateLimit-Remaining": str(count.remaining),
        "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }


def _subject(kind: str, value: str) -> str:
    # The token hash is already a hash, but it is also the token's key in the read model: hash again.
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def limiter(resources: frozenset[AbstractResource]) -> Middleware:
    """A middleware counting the requests of `resources` (the gateway's routes) under /api/."""
    # Made on the first request: the services (and their buckets) are set after the routes are mounted.
    made: list[Counter] = []

    def counter(app: web.Application) -> Counter:
        if not made:
            made.append(Counter(app[SERVICES].buckets))
        return made[0]

    @web.middleware
    async def rate_limited(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route.resource not in resources or not request.path.startswith("/api/"):
            return await handler(request)
        settings = request.app[SERVICES].config.settings(MastodonSettings)
        holder = await grant(request)
        # A token nobody issued is refused by the route (or ignored by a public one); counting it would
        # let made-up tokens fill the bucket with keys.
        if holder is None or (holder.cli and not settings.rate_limit_cli_tokens):
            return await handler(request)
        counts = counter(request.app)
        if settings.api_rate_limit > 0:
            window = Window("api", settings.api_rate_limit, settings.api_rate_period)
            api = await counts.hit(window, _subject("token", holder.token_hash))
            request[HEADERS] = headers(api)
            if api.over:
                raise Refusal(429, TOO_MANY, headers=headers(api))
        if settings.media_rate_limit > 0 and request.method == "POST" and request.path in UPLOADS:
            window = Window("media", settings.media_rate_limit, settings.media_rate_period)
            media = await counts.hit(window, _subject("user", holder.user_id))
            if media.over:
                raise Refusal(429, TOO_MANY, headers=headers(media))
        return await handler(request)

    return rate_limited


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, the error boundary's included, carries the request's window."""
    for name, value in request.get(HEADERS, {}).items():
        response.headers.setdefault(name, value)


def limit(app: web.Application, resources: frozenset[AbstractResource]) -> None:
    """Counts the requests of the gateway's `resources`; runs inside the error boundary, which renders its 429."""
    app.middlewares.append(limiter(resources))
    app.on_response_prepare.append(add_headers)
