"""The one error boundary: every failure leaves as JSON in the shape of the gateway whose route it was.

- a Refusal: its status, in the route's error style;
- the log or broker away (LogUnavailable, a NATS request that got no answer): 503 with the protocol's text;
- an HTTP error aiohttp raised (no such route, wrong method): the same shapes, the Allow header kept;
- anything else: 500 with an error id, logged with its traceback; no internals in the answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from html import escape

import nats.errors
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractResource
from nats.js import errors as js_errors

from core.log import LogUnavailable
from gateways.kit.refusal import PLAIN, ErrorStyle, Refusal

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A NATS request that found no server to answer is the broker being away, as LogUnavailable is.
BROKER_AWAY = (LogUnavailable, nats.errors.TimeoutError, nats.errors.NoRespondersError,
               nats.errors.ConnectionClosedError, js_errors.ServiceUnavailableError)
KEPT_HEADERS = ("Allow",)
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status}</title></head>
<body><h1>{status}</h1><p id="error">{message}</p><p><a href="/">Back to the gallery</a></p></body>
</html>
"""


class Styles:
    """Which error style each route answers in: filled as gateways are mounted, read by the boundary."""

    def __init__(self, default: ErrorStyle = PLAIN) -> None:
        self._by_resource: dict[AbstractResource, ErrorStyle] = {}
        # The gateway that mounted each route, by name; routes of no gateway (health, OpenAPI) are "meta".
        self._owners: dict[AbstractResource, str] = {}
        # The static folder of each route ("/media/" of "/media/{id}"), longest first.
        self._by_folder: list[tuple[str, ErrorStyle]] = []
        self.default = default

    def add(self, resource: AbstractResource, style: ErrorStyle, owner: str = "meta") -> None:
        self._by_resource[resource] = style
        self._owners[resource] = owner
        folder = _folder(resource.canonical)
        if folder != "/":
            self._by_folder.append((folder, style))
            self._by_folder.sort(key=lambda entry: len(entry[0]), reverse=True)

    def owner(self, resource: AbstractResource | None) -> str:
        return self._owners.get(resource, "meta") if resource is not None else "unmatched"

    async def of(self, request: web.Request) -> ErrorStyle:
        resource = request.match_info.route.resource
        if resource is not None:
            return self._by_resource.get(resource, self.default)
        # No route took the request: a wrong method on a gateway's path still answers in that gateway's shape,
        # and so does a path under one of its folders that names nothing.
        for candidate, style in self._by_resource.items():
            match, allowed = await candidate.resolve(request)
            if match is not None or allowed:
                return style
        path = request.path
        for folder, style in self._by_folder:
            if path.startswith(folder):
                return style
        return self.default


def _folder(canonical: str) -> str:
    """The part of a route's path before its first variable, up to the last slash."""
    static = canonical.split("{", 1)[0]
    return static[: static.rfind("/") + 1]


def render(style: ErrorStyle, refusal: Refusal) -> web.Response:
    if style.html:
        return web.Response(text=_PAGE.format(status=refusal.status, message=escape(refusal.message)),
                            status=refusal.status, content_type="text/html", charset="utf-8",
                            headers=refusal.headers or None)
    return web.json_response(style.body(refusal), status=refusal.status, headers=refusal.headers or None)


def error_boundary(styles: Styles) -> Middleware:
    @web.middleware
    async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refusal as refusal:
            return render(await styles.of(request), refusal)
        except BROKER_AWAY:
            style = await styles.of(request)
            return render(style, Refusal(503, style.unavailable, code="unavailable"))
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type == "application/json":
                raise
            style = await styles.of(request)
            message = style.not_found if exc.status == 404 else exc.reason
            headers = {k: v for k, v in exc.headers.items() if k in KEPT_HEADERS}
            return render(style, Refusal(exc.status, message, headers=headers))
        except Exception:
            error_id = secrets.token_hex(8)
            log.exception("error %s on %s %s", error_id, request.method, request.path)
            crash = Refusal(500, f"Internal server error (error id {error_id})", code="internal_error")
            return render(await styles.of(request), crash)

    return boundary
