"""The Mastodon media API as an aiohttp sub-application's routes."""

from __future__ import annotations

from aiohttp import web

from gateways.mastodon import instance, media


def add_routes(app: web.Application) -> None:
    app.add_routes(instance.routes())
    app.add_routes(media.routes())
