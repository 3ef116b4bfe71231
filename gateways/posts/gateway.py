"""The posts and identity API as a gateway."""

from __future__ import annotations

from aiohttp import web

from gateways.kit.descriptor import Gateway
from gateways.kit.refusal import CODED
from gateways.posts import identity, openapi, posts


def add_routes(app: web.Application) -> None:
    for module in (posts, identity):
        module.add_routes(app)


GATEWAY = Gateway(name="posts", routes=add_routes, errors=CODED, openapi=openapi.fragment)
