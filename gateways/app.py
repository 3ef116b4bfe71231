"""The gateway application: every protocol's routes on one aiohttp app, JSON errors everywhere."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateways import files, health
from gateways.apierrors import ApiError
from gateways.kit import openapi
from gateways.mastodon import app as mastodon
from gateways.mastodon import openapi as mastodon_api
from gateways.posts import app as posts
from gateways.posts import openapi as posts_api
from gateways.presigned import app as presigned
from gateways.presigned import openapi as presigned_api
from gateways.pumpio import app as pumpio
from gateways.pumpio import openapi as pumpio_api
from gateways.pumpio.errors import PumpError
from gateways.transform import openapi as transform_api
from gateways.transform import routes as transform

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Routing misses and crashes answer in JSON too, and the server keeps serving."""
    try:
        return await handler(request)
    except PumpError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        message = "Record not found" if exc.status == 404 else exc.reason
        return web.json_response({"error": message}, status=exc.status, headers=_keep(exc))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal server error"}, status=500)


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow",)}


def create_app() -> web.Application:
    """Routes only; the composition root fills in the keys from gateways.keys before it starts."""
    app = web.Application(middlewares=[json_errors])
    mastodon.add_routes(app)
    pumpio.add_routes(app)
    presigned.add_routes(app)
    posts.add_routes(app)
    files.add_routes(app)
    transform.add_routes(app)
    health.add_routes(app)
    openapi.add_routes(app, [m.fragment for m in (mastodon_api, pumpio_api, presigned_api, posts_api, transform_api,
                                                  health)])
    return app
