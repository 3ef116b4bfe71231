"""pump.io favorites and shares: the `favorite`/`like`, `unfavorite`/`unlike`, `share` and `unshare` verbs on
images (and video and audio), notes and comments, each object's `likes` and `shares` collections, and a
person's `favorites`.

A favorite or share of something already favorited or shared, and taking back one that is not there, are
refused (400), as pump.io's databank refuses the duplicate edge. One's own objects may be favorited and
shared, as pump.io allows. An upload nobody posted cannot be: its activity would show it to followers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.events import Reacted, Unreacted
from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.kit.social import reaction_change, reaction_standing
from gateways.pumpio import render
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.objects import View, gather, gather_objects
from gateways.pumpio.paging import Window
from gateways.pumpio.render import Site
from gateways.pumpio.targets import TARGET_TYPES, target
from gateways.pumpio.users import find_user
from gateways.pumpio.verbs import Context, Posted
from store.queries.reactions import reaction_total, reactions_by, reactions_by_total, reactors

# What each verb does: which reaction, and whether it adds or takes back.
KINDS = {"favorite": ("favorite", True), "like": ("favorite", True), "unfavorite": ("favorite", False),
         "unlike": ("favorite", False), "share": ("share", True), "unshare": ("share", False)}
REACTABLE = TARGET_TYPES
ALREADY = {"favorite": "Already favorited.", "share": "Already shared."}
NOT_YET = {"favorite": "Not favorited.", "share": "Not shared."}
PARTICIPLES = {"favorite": "favorited", "share": "shared"}
COLLECTIONS = {"favorite": "likes", "share": "shares"}


def cannot(verb: str, object_type: str) -> str:
    return f"Cannot {verb} a {object_type}."


def only_posted(kind: str) -> str:
    return f"Only posted images can be {PARTICIPLES[kind]}."


async def react(context: Context, posted: Posted) -> Reacted | Unreacted:
    kind, adds = KINDS[posted.verb]
    if posted.object_type not in REACTABLE:
        raise Refusal(400, cannot(posted.verb, posted.object_type))
    found = await target(context, posted.obj, posted.object_type)
    # The activity would show an upload nobody posted to the actor's followers.
    if not found.posted:
        raise Refusal(400, only_posted(kind))
    target_id, owner = found.object_id, found.owner
    actor = context.actor
    standing = await context.projection.read(lambda conn: reaction_standing(conn, kind, actor, target_id))
    if adds and standing.present:
        raise Refusal(400, ALREADY[kind])
    if not adds and not standing.present:
        raise Refusal(400, NOT_YET[kind])
    return reaction_change(kind=kind, adds=adds, actor=actor, object_type=posted.object_type, object_id=target_id,
                           owner=owner, standing=standing, via="pumpio", app=context.generator)


BY_VERB: dict[str, Callable[[Context, Posted], Awaitable[Reacted | Unreacted]]] = dict.fromkeys(KINDS, react)


def _reactors_handler(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /api/<type>/<id>/likes` (or `/shares`): the people who favorited (or shared) it, latest first."""

    async def handler(request: web.Request) -> web.Response:
        principal = await authenticate(request)
        object_type = request.path.split("/")[2]
        site = Site.of(request.app[SERVICES].config)
        context = Context(projection=request.app[SERVICES].projection, site=site, actor=principal.user_id,
                          generator="", content_limit=0)
        named = {"id": site.object_id(object_type, request.match_info["id"])}
        object_id = (await target(context, named, object_type)).object_id
        window = Window(request.query)

        def load(conn: sqlite3.Connection) -> tuple[int, list[str], View]:
            ids = reactors(conn, kind, object_id, window.count, window.offset)
            return reaction_total(conn, kind, object_id), ids, View(gather(conn, user_ids=ids), site)

        total, ids, view = await request.app[SERVICES].projection.read(load)
        url = f"{site.object_id(object_type, object_id)}/{COLLECTIONS[kind]}"
        body = render.collection(
            display_name=f"People who {PARTICIPLES[kind]} {site.object_id(object_type, object_id)}", url=url,
            object_type="person", items=[view.person(u) for u in ids], total=total,
            links=window.links(url, len(ids), total))
        return json_page(body)

    return handler


async def get_favorites(request: web.Request) -> web.Response:
    """`GET /api/user/<u>/favorites`: what the user favorited, latest first, as the reader sees it."""
    principal = await authenticate(request)
    owner = (await find_user(request, request.match_info["user"]))["user_id"]
    site = Site.of(request.app[SERVICES].config)
    window = Window(request.query)

    def load(conn: sqlite3.Connection) -> tuple[int, list[tuple[str, str]], View]:
        page = reactions_by(conn, "favorite", owner, window.count, window.offset)
        rows = gather_objects(conn, page, user_ids=[owner], viewer=principal.user_id)
        return reactions_by_total(conn, "favorite", owner), page, View(rows, site)

    total, page, view = await request.app[SERVICES].projection.read(load)
    url = f"{site.user(owner)}/favorites"
    body = render.collection(
        display_name=f"Things that {owner} has favorited", url=url, object_type="object",
        items=[view.object(t, o) for t, o in page], total=total, links=window.links(url, len(page), total),
        author=view.person(owner))
    return json_page(body)


def add_routes(app: web.Application) -> None:
    routes: list[tuple[str, Callable[[web.Request], Awaitable[web.Response]]]] = [
        ("/api/user/{user}/favorites", get_favorites)]
    for kind, name in COLLECTIONS.items():
        handler = _reactors_handler(kind)
        routes.extend((f"/api/{object_type}/{{id}}/{name}", handler) for object_type in REACTABLE)
    for path, route in routes:
        app.router.add_get(path, route)
        app.router.add_get(path + "/", route)
