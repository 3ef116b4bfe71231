"""The posts and identity API's routes on the shared gateway app."""

from __future__ import annotations

from aiohttp import web

from gateways.posts import identity, posts


def add_routes(app: web.Application) -> None:
    for module in (posts, identity):
        module.add_routes(app)
