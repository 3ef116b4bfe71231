"""The pump.io / MediaGoblin client-to-server API as a gateway."""

from __future__ import annotations

from aiohttp import web

from core.probe import Limits
from gateways.kit.descriptor import Flag, Gateway
from gateways.kit.refusal import ErrorStyle
from gateways.pumpio import (
    clients,
    collections,
    discovery,
    feed,
    follows,
    oauth,
    objects,
    openapi,
    reactions,
    rest,
    upload_list,
    uploads,
    users,
)
from gateways.pumpio.settings import PumpSettings


def add_routes(app: web.Application) -> None:
    before = set(app.router.resources())
    for module in (discovery, clients, oauth, users, uploads, upload_list, feed, objects, reactions, follows,
                   collections, rest):
        module.add_routes(app)
    rest.add_options(app, [resource for resource in app.router.resources() if resource not in before])


GATEWAY = Gateway(
    name="pumpio",
    openapi=openapi.fragment,
    routes=add_routes,
    errors=ErrorStyle(codes=False, unavailable=feed.UNAVAILABLE),
    settings=PumpSettings,
    flags=(
        Flag("upload_size_limit", "--pumpio-size-limit", "largest pump.io upload in bytes, plus one"),
        Flag("av_upload_size_limit", "--pumpio-av-size-limit",
             "largest pump.io video or audio upload in bytes, plus one"),
        Flag("pumpio_upload_wait", "--pumpio-upload-wait",
             "seconds a pump.io upload waits for processing before answering with what is known"),
    ),
    limits=Limits(),
    sweeps_unattached=True,
    via="pumpio",
    authorize=oauth.FLOW,
)
