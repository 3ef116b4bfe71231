"""Liveness and readiness, on the gateways' port and on the small server of a processor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from core.metrics import Metrics
from gateways.kit.access import access
from gateways.kit.boundary import Styles, error_boundary
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


METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
# The Prometheus text exposition format, version 0.0.4.
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].scrape()
    return web.Response(body=body, headers={"Content-Type": EXPOSITION})


def add_routes(app: web.Application, metered: Metrics | None = None) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metered is not None:
        app[METRICS] = metered
        app.router.add_get("/metrics", metrics)


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


def create_app(metered: Metrics | None = None) -> web.Application:
    """Only the health routes (and the metrics), for a process that runs no gateway: its requests are
    logged and counted like a gateway's, and its errors take the same plain shape."""
    styles = Styles()
    app = web.Application(middlewares=[access(styles, metered), error_boundary(styles)])
    add_routes(app, metered)
    return app
