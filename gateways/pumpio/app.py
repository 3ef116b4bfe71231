"""The pump.io / MediaGoblin client-to-server API, on the shared gateway app."""

from __future__ import annotations

from aiohttp import web

from gateways.pumpio import clients, discovery, feed, oauth, objects, uploads, users


def add_routes(app: web.Application) -> None:
    for module in (discovery, clients, oauth, users, uploads, feed, objects):
        module.add_routes(app)
