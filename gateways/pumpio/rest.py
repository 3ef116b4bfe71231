"""REST on pump.io objects: `PUT` and `DELETE /api/<objectType>/<id>`, and `OPTIONS` on every API path.

A PUT or DELETE is the same activity as the feed's `update` or `delete` of that object: the body is made
into `{"verb": ..., "object": {..., "id", "objectType"}}` and performed as if posted to the author's
feed, so it is refused, appended and delivered alike. As on pump.io, a PUT answers the object as it now
is and a DELETE answers the JSON string "Deleted". Every object type with a post, update and delete
interpreter of its own (activities.BY_TYPE) gets these routes with the uploads and comments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.pumpio.activities import BY_TYPE, MEDIA_OBJECT_TYPES
from gateways.pumpio.feed import json_body, perform
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.render import Site

NOT_AN_OBJECT = "The body must be a JSON object."
DELETED = "Deleted"


def _object(request: web.Request, object_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    site = Site.of(request.app[SERVICES].config)
    # The path names the object: an id or type in the body cannot point the change elsewhere.
    return {**fields, "id": site.object_id(object_type, request.match_info["id"]), "objectType": object_type}


def _changer(verb: str, object_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        await authenticate(request)
        fields: Any = {}
        if verb == "update":
            fields = await json_body(request)
            if not isinstance(fields, dict):
                raise Refusal(400, NOT_AN_OBJECT)
        activity = await perform(request, {"verb": verb, "object": _object(request, object_type, fields)})
        return web.json_response(activity["object"] if verb == "update" else DELETED)

    return handler


def object_types() -> tuple[str, ...]:
    return (*MEDIA_OBJECT_TYPES, "comment", *BY_TYPE)


def add_routes(app: web.Application) -> None:
    for object_type in object_types():
        put, delete = _changer("update", object_type), _changer("delete", object_type)
        for path in (f"/api/{object_type}/{{id}}", f"/api/{object_type}/{{id}}/"):
            app.router.add_put(path, put)
            app.router.add_delete(path, delete)


def _allowing(methods: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200, headers={"Allow": methods})

    return handler


def add_options(app: web.Application, resources: Iterable[web.AbstractResource]) -> None:
    """`OPTIONS` on each API path answers the methods its routes take; a path may span several resources,
    as when PUT and DELETE are added to a path another module routes GET on."""
    by_path: dict[str, list[web.Resource]] = {}
    for resource in resources:
        if isinstance(resource, web.Resource) and resource.canonical.startswith("/api/"):
            by_path.setdefault(resource.canonical, []).append(resource)
    for group in by_path.values():
        methods = {route.method for resource in group for route in resource} | {"OPTIONS"}
        group[0].add_route("OPTIONS", _allowing(", ".join(sorted(methods))))
