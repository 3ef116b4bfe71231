"""Discovery: `HEAD /`, host-meta (XRD and JSON) and WebFinger for local users.

`/.well-known/host-meta` answers JSON when the Accept header names `application/json` (at a q no lower
than XRD's), as pump.io and MediaGoblin do; XRD otherwise, since RFC 6415 makes XRD the default: a
wildcard alone (`*/*`, what most HTTP libraries send) keeps XRD.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from aiohttp import web

from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.users import user_by_id

XRD = "application/xrd+xml"
JRD = "application/jrd+json"
APINAMESPACE = "http://apinamespace.org"

Link = dict[str, str]


def host_links(base: str) -> list[Link]:
    return [
        {"rel": "lrdd", "type": "application/json", "template": f"{base}/.well-known/webfinger?resource={{uri}}"},
        {"rel": "registration_endpoint", "href": f"{base}/api/client/register"},
        {"rel": f"{APINAMESPACE}/oauth/request_token", "href": f"{base}/oauth/request_token"},
        {"rel": f"{APINAMESPACE}/oauth/authorize", "href": f"{base}/oauth/authorize"},
        {"rel": f"{APINAMESPACE}/oauth/access_token", "href": f"{base}/oauth/access_token"},
        {"rel": f"{APINAMESPACE}/activitypub/whoami", "href": f"{base}/api/whoami"},
    ]


def user_links(base: str, user: str) -> list[Link]:
    api = f"{base}/api/user/{user}"
    return [
        # There is no HTML profile; the profile page is the API's person object.
        {"rel": "http://webfinger.net/rel/profile-page", "type": "application/json", "href": f"{api}/profile"},
        {"rel": "self", "href": f"{api}/profile"},
        {"rel": "activity-inbox", "href": f"{api}/inbox"},
        {"rel": "activity-outbox", "href": f"{api}/feed"},
    ]


def xrd(links: list[Link]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">']
    for link in links:
        attributes = " ".join(f"{name}={quoteattr(value)}" for name, value in link.items())
        lines.append(f"  <Link {attributes}/>")
    lines.append("</XRD>")
    return "\n".join(lines) + "\n"


def _base(request: web.Request) -> str:
    return request.app[SERVICES].config.base_url


async def root(request: web.Request) -> web.StreamResponse:
    # PyPump sends HEAD / to learn the server's URL before building the authorize URL.
    return web.Response()


def _qualities(accept: str) -> dict[str, float]:
    """The q of each media type an Accept header names explicitly; wildcards name none."""
    found: dict[str, float] = {}
    for item in accept.split(","):
        kind, *options = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind:
            found[kind] = max(quality, found.get(kind, 0.0))
    return found


def wants_json(accept: str) -> bool:
    qualities = _qualities(accept)
    json_quality = qualities.get("application/json", 0.0)
    return json_quality > 0.0 and json_quality >= qualities.get(XRD, 0.0)


async def host_meta(request: web.Request) -> web.StreamResponse:
    if wants_json(request.headers.get("Accept", "")):
        response: web.StreamResponse = await host_meta_json(request)
    else:
        response = web.Response(text=xrd(host_links(_base(request))), content_type=XRD, charset="utf-8")
    # The same URL answers two ways: caches must keep them apart.
    response.headers["Vary"] = "Accept"
    return response


async def host_meta_json(request: web.Request) -> web.StreamResponse:
    return web.json_response({"links": host_links(_base(request))})


async def webfinger(request: web.Request) -> web.StreamResponse:
    # As pump.io and MediaGoblin: no parameter is a bad request, an empty one names nothing here.
    if "resource" not in request.query:
        raise Refusal(400, "No resource parameter")
    resource = request.query["resource"]
    if not resource:
        raise Refusal(404, "Unrecognized resource parameter")
    base = _base(request)
    account = resource.removeprefix("acct:")
    user, at, host = account.rpartition("@")
    if not at or not user:
        raise Refusal(404, f"Unrecognized resource {resource}")
    if host.lower() != urlsplit(base).netloc.lower():
        raise Refusal(404, f"No such host: {host}")
    row = await user_by_id(request.app[SERVICES].projection, user)
    if row is None:
        raise Refusal(404, f"No such user: {user}")
    body = {"subject": f"acct:{row['user_id']}@{host}", "links": user_links(base, row["user_id"])}
    return web.json_response(body, content_type=JRD)


def add_routes(app: web.Application) -> None:
    app.router.add_route("HEAD", "/", root)
    for path, handler in (
        ("/.well-known/host-meta", host_meta),
        ("/.well-known/host-meta.json", host_meta_json),
        ("/.well-known/webfinger", webfinger),
    ):
        app.router.add_get(path, handler)
        app.router.add_get(path + "/", handler)
