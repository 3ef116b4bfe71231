"""Public image URLs and their transformations as a gateway."""

from __future__ import annotations

from aiohttp import web

from gateways import files
from gateways.kit.descriptor import Flag, Gateway
from gateways.kit.refusal import CODED
from gateways.transform import openapi, routes
from gateways.transform.settings import TransformSettings


def add_routes(app: web.Application) -> None:
    files.add_routes(app)
    routes.add_routes(app)


GATEWAY = Gateway(
    name="transform",
    openapi=openapi.fragment,
    routes=add_routes,
    errors=CODED,
    settings=TransformSettings,
    flags=(Flag("transform_key", "--transform-key",
                "when set, every image transformation URL must carry a valid s= signature"),
           Flag("variant_memory", "--variant-memory",
                "bytes of recent image transformation answers kept in memory, 0 for none")),
)
