"""The gateway application: every registered gateway's routes on one app, behind one error boundary."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from core.metrics import Metrics
from gateways import authorize, health
from gateways.kit import openapi
from gateways.kit.access import access
from gateways.kit.boundary import Handler, Styles, error_boundary
from gateways.kit.descriptor import Gateway
from gateways.registry import GATEWAYS

__all__ = ["Handler", "create_app", "mount"]


def mount(app: web.Application, styles: Styles, gateway: Gateway) -> None:
    """Adds the gateway's routes; each route it added answers its errors in the gateway's style."""
    before = set(app.router.resources())
    gateway.routes(app)
    for resource in app.router.resources():
        if resource not in before:
            styles.add(resource, gateway.errors, gateway.name)


def create_app(gateways: Iterable[Gateway] = GATEWAYS, metrics: Metrics | None = None) -> web.Application:
    """Routes only; the composition root fills in the keys from gateways.keys and runs each gateway's start.

    With `metrics`, requests are counted and timed and `/metrics` serves them.
    """
    gateways = tuple(gateways)
    styles = Styles()
    app = web.Application(middlewares=[access(styles, metrics), error_boundary(styles)])
    for gateway in gateways:
        mount(app, styles, gateway)
    flows = [g.authorize for g in gateways if g.authorize is not None]
    if flows:
        authorize.add_routes(app, flows)
    health.add_routes(app, metrics)
    described = [*(g.openapi for g in gateways if g.openapi is not None), health.fragment]
    if flows:
        described.append(authorize.fragment)
    openapi.add_routes(app, described)
    return app
