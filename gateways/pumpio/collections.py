"""pump.io collections (MediaGoblin albums, pump.io lists): their activities and their endpoints.

`post` of a `collection` makes one, `update` renames or redescribes it and `delete` removes it, the owner
only. `add` and `remove` with a `target` collection the actor owns put any local object in it or take it
out: an image, video or audio file the actor may see (posted: an album is public to the server's users),
a note, a comment, a person or another collection, never one that would end up inside itself. An object
may be in many collections; when it is deleted it leaves them all.

`GET /api/collection/<id>` and `/api/collection/<id>/members` (newest first) are for any signed-in user,
as every collection is public; so is `GET /api/user/<u>/lists/<type>`, the user's collections meant for
objects of that type.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from aiohttp import web

from core.events import (
    CollectionCreated,
    CollectionDeleted,
    CollectionEdited,
    CollectionItemAdded,
    CollectionItemRemoved,
)
from core.sanitize import safe_html, title_text
from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.kit.social import change_id
from gateways.pumpio import paging, render
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.objects import (
    Rows,
    View,
    gather,
    gather_objects,
)
from gateways.pumpio.render import Site
from gateways.pumpio.targets import TARGET_TYPES, target
from gateways.pumpio.users import find_user
from gateways.pumpio.verbs import TITLE_LIMIT, Context, Posted, local_id, object_id, only_author, text
from store.queries import collections as queries
from store.queries.collections import Page
from store.queries.users import user_by_id

NO_COLLECTION = "No such collection"
NO_PERSON = "No such person"
NO_TARGET = "An add or remove activity needs a target object."
NOT_A_COLLECTION = "The target of an add or remove must be a collection."
NOT_YOUR_COLLECTION = "Only the owner of a collection can add to it or remove from it."
ALREADY_IN = "That object is already in this collection."
NOT_IN = "That object is not in this collection."
CYCLE = "A collection cannot end up inside itself."
UNPOSTED = "Post the image before adding it to a collection."
BAD_OBJECT_TYPES = "'objectTypes' must be a list of at most 20 strings of at most 100 characters"

OBJECT_TYPES_LIMIT = 20
OBJECT_TYPE_LIMIT = 100


def _object_types(obj: dict[str, Any]) -> tuple[str, ...]:
    value = obj.get("objectTypes")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > OBJECT_TYPES_LIMIT or not all(
            isinstance(item, str) and 0 < len(item) <= OBJECT_TYPE_LIMIT for item in value):
        raise Refusal(400, BAD_OBJECT_TYPES)
    return tuple(dict.fromkeys(value))


async def _collection(ctx: Context, obj: dict[str, Any]) -> sqlite3.Row:
    collection_id = local_id(object_id(obj), "collection", ctx.site)
    row = await queries.collection_by_id(ctx.projection, collection_id) if collection_id else None
    if row is None:
        raise Refusal(404, NO_COLLECTION)
    return row


Changed = CollectionCreated | CollectionEdited | CollectionDeleted


async def interpret_collection(ctx: Context, posted: Posted) -> Changed:
    """`post`, `update` and `delete` of a collection."""
    obj = posted.obj
    name = text(obj, "displayName", TITLE_LIMIT, title_text)
    content = text(obj, "content", ctx.content_limit, safe_html)
    if posted.verb == "post":
        return CollectionCreated(at=time.time(), collection_id=uuid.uuid4().hex, owner=ctx.actor, name=name or "",
                                 content=content or "", object_types=_object_types(obj), via="pumpio",
                                 app=ctx.generator)
    row = await _collection(ctx, obj)
    if row["owner"] != ctx.actor:
        raise Refusal(403, only_author(posted.verb, "collection"))
    collection_id = row["collection_id"]
    if posted.verb == "delete":
        return CollectionDeleted(at=time.time(), change_id=change_id("delete", collection_id),
                                 collection_id=collection_id, owner=ctx.actor, via="pumpio", app=ctx.generator)
    seen = await queries.last_change(ctx.projection, collection_id)
    return CollectionEdited(at=time.time(), change_id=change_id("update", ctx.actor, collection_id, seen, name,
                                                                 content),
                            collection_id=collection_id, owner=ctx.actor, name=name, content=content,
                            via="pumpio", app=ctx.generator)


async def _member(ctx: Context, posted: Posted) -> tuple[str, str]:
    """The object an add or remove names, as its type and local id; refused when there is no such object."""
    obj, object_type = posted.obj, posted.object_type
    value = object_id(obj)
    if object_type == "person":
        prefix, suffix = "acct:", f"@{ctx.site.host}"
        name = value[len(prefix):-len(suffix)] if isinstance(value, str) and value.startswith(prefix) \
            and value.endswith(suffix) else None
        if not name or await user_by_id(ctx.projection, name) is None:
            raise Refusal(404, NO_PERSON)
        return "person", name
    if object_type in TARGET_TYPES:
        found = await target(ctx, obj, object_type)
        # An album is public to the server's users, and so is the outbox telling of the add.
        if posted.verb == "add" and not found.posted:
            raise Refusal(400, UNPOSTED)
        return object_type, found.object_id
    row = await _collection(ctx, obj)
    return "collection", row["collection_id"]


async def interpret_membership(ctx: Context, posted: Posted) -> CollectionItemAdded | CollectionItemRemoved:
    """`add` and `remove`: refused in pump.io's order, the target before the object."""
    target = posted.body.get("target")
    if not isinstance(target, dict):
        raise Refusal(400, NO_TARGET)
    if target.get("objectType") != "collection":
        raise Refusal(400, NOT_A_COLLECTION)
    collection = await _collection(ctx, target)
    if collection["owner"] != ctx.actor:
        raise Refusal(403, NOT_YOUR_COLLECTION)
    collection_id = collection["collection_id"]
    object_type, member_id = await _member(ctx, posted)
    present, seen = await queries.standing(ctx.projection, collection_id, member_id)
    fields = {"collection_id": collection_id, "owner": ctx.actor, "object_type": object_type,
              "object_id": member_id, "via": "pumpio", "app": ctx.generator}
    if posted.verb == "remove":
        if present is None:
            raise Refusal(400, NOT_IN)
        return CollectionItemRemoved(at=time.time(), change_id=change_id(
            "remove", collection_id, member_id, present["seq"]), **fields)
    if present is not None:
        raise Refusal(400, ALREADY_IN)
    if object_type == "collection" and await queries.contains(ctx.projection, member_id, collection_id):
        raise Refusal(400, CYCLE)
    return CollectionItemAdded(at=time.time(), change_id=change_id("add", collection_id, member_id, seen),
                               **fields)


def _key(value: str, site: Site) -> str:
    """A member or collection named in `before`/`since` as its JSON id shows it, or by its bare id."""
    if value.startswith("acct:") and value.endswith(f"@{site.host}"):
        return value[len("acct:"):-len(site.host) - 1]
    if value.startswith(f"{site.base}/api/"):
        return value.rstrip("/").rsplit("/", 1)[1]
    return value


async def _found(request: web.Request) -> sqlite3.Row:
    row = await queries.collection_by_id(request.app[SERVICES].projection, request.match_info["id"])
    if row is None:
        raise Refusal(404, NO_COLLECTION)
    return row


async def get_collection(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    row = await _found(request)
    collection_id = row["collection_id"]
    rows = await request.app[SERVICES].projection.read(
        lambda conn: gather(conn, collection_ids=[collection_id], viewer=principal.user_id))
    if collection_id not in rows.collections:
        raise Refusal(404, NO_COLLECTION)
    return web.json_response(View(rows, Site.of(request.app[SERVICES].config)).collection(collection_id))


def _gather_members(conn: sqlite3.Connection, page: Page, collection_id: str, viewer: str) -> Rows:
    return gather_objects(conn, [(m["object_type"], m["object_id"]) for m in page.rows],
                          collection_ids=[collection_id], viewer=viewer)


async def get_members(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    collection = await _found(request)
    collection_id, viewer = collection["collection_id"], principal.user_id
    projection = request.app[SERVICES].projection
    site = Site.of(request.app[SERVICES].config)
    window = await paging.cursor(
        request.query, lambda value: queries.member_seq(projection, collection_id, _key(value, site)), "member")

    def load(conn: sqlite3.Connection) -> tuple[Page, Rows]:
        page = queries.members_page(conn, collection_id, viewer, window)
        return page, _gather_members(conn, page, collection_id, viewer)

    page, rows = await projection.read(load)
    view = View(rows, site)
    items = [view.object(m["object_type"], m["object_id"]) for m in page.rows]
    url = f"{site.object_id('collection', collection_id)}/members"
    body = render.collection(
        display_name=collection["name"] or f"Members of {site.object_id('collection', collection_id)}", url=url,
        object_type="object", items=items, total=page.total,
        links=paging.cursor_links(url, request.query, [item["id"] for item in items], page.older),
        author=view.person(collection["owner"]),
    )
    body["objectTypes"] = queries.object_types(collection)
    return json_page(body)


async def get_lists(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    owner = (await find_user(request, request.match_info["user"]))["user_id"]
    object_type = request.match_info["type"]
    projection = request.app[SERVICES].projection
    site = Site.of(request.app[SERVICES].config)

    async def seq_of(value: str) -> int | None:
        row = await queries.collection_by_id(projection, _key(value, site))
        return int(row["seq"]) if row is not None and row["owner"] == owner else None

    window = await paging.cursor(request.query, seq_of, "collection")

    def load(conn: sqlite3.Connection) -> tuple[Page, Rows]:
        page = queries.lists_page(conn, owner, object_type, window)
        ids = [c["collection_id"] for c in page.rows]
        return page, gather(conn, collection_ids=ids, user_ids=[owner], viewer=principal.user_id)

    page, rows = await projection.read(load)
    view = View(rows, site)
    items = [view.collection(c["collection_id"]) for c in page.rows]
    url = f"{site.user(owner)}/lists/{object_type}"
    body = render.collection(
        display_name=f"Collections of {object_type} for {owner}", url=url, object_type="collection", items=items,
        total=page.total, links=paging.cursor_links(url, request.query, [item["id"] for item in items], page.older),
        author=view.person(owner),
    )
    return json_page(body)


def add_routes(app: web.Application) -> None:
    for path, handler in (
        ("/api/collection/{id}", get_collection),
        ("/api/collection/{id}/members", get_members),
        ("/api/user/{user}/lists/{type}", get_lists),
    ):
        app.router.add_get(path, handler)
        app.router.add_get(path + "/", handler)
