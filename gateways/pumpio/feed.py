"""pump.io client API: feed (not built yet)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """No routes yet."""
