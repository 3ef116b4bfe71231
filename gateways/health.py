"""Liveness and readiness, on the gateways' port and on the small server of a processor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from gateways.kit.openapi import Fragment, answer

# What is not ready yet, by part ("nats", "projection", "processor"); empty when ready.
Readiness = Callable[[], Awaitable[Mapping[str, str]]]
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: answering at all means the event loop turns; nothing else is checked."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    waiting = await request.app[READINESS]()
    if waiting:
        return web.json_response({"status": "not ready", "waiting": dict(waiting)}, status=503)
    return web.json_response({"status": "ready"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


def fragment() -> Fragment:
    ok = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
    waiting = {"type": "object", "required": ["status", "waiting"], "properties": {
        "status": {"const": "not ready"}, "waiting": {"type": "object", "additionalProperties": {"type": "string"}}}}
    return Fragment(
        paths={
            "/healthz": {"get": {"operationId": "healthz", "tags": ["meta"], "summary": "Liveness",
                                 "responses": {"200": answer("The event loop turns", ok)}}},
            "/readyz": {"get": {"operationId": "readyz", "tags": ["meta"], "summary": "Readiness",
                                "responses": {"200": answer("Ready", ok),
                                              "503": answer("Not ready: what it waits for", waiting)}}},
        },
    )


def create_app() -> web.Application:
    """Only the health routes, for a process that runs no gateway."""
    app = web.Application()
    add_routes(app)
    return app
