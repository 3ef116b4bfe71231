"""pump.io objects: loading everything a page of them shows in one reader call, and the object endpoints.

`GET /api/image/<id>`, `/api/image/<id>/replies`, `/api/comment/<id>`, `/api/note/<id>`,
`/api/note/<id>/replies` and `/api/activity/<id>` need an OAuth access token. An image nobody has posted
yet is seen only by its owner; to anyone else it does not exist (404), just as on pump.io an upload stays
private until a `post` activity shares it. Notes come from the posts API, which posts the images they
attach along with them; images and notes carry their comments as `replies`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp import web

from gateways.kit.media import media_view
from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.pumpio import render
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.paging import Window
from gateways.pumpio.render import Site
from store.queries.activities import activity_by_id, deleted_types, posted_note, posted_notes
from store.queries.collections import collections_by_ids, member_count, object_types
from store.queries.comments import comments_by_ids, newest_replies, reply_count, reply_ids
from store.queries.media import media_by_id, media_by_ids
from store.queries.reactions import reacted, reaction_counts
from store.queries.users import users_by_ids

# How many of an image's or note's newest comments its `replies` embeds; the rest are a link away.
REPLIES_SHOWN = 4

NO_IMAGE = "No such image"
NO_COMMENT = "No such comment"
NO_NOTE = "No such note"
NO_ACTIVITY = "No such activity"


class Rows(msgspec.Struct):
    """The read-model rows behind a page of objects, keyed by id."""

    users: dict[str, sqlite3.Row] = {}
    media: dict[str, sqlite3.Row] = {}
    comments: dict[str, sqlite3.Row] = {}
    # A note lives in the activity that posted it: note id -> that activity's row.
    notes: dict[str, sqlite3.Row] = {}
    # By the id of the image or note they are on.
    reply_totals: dict[str, int] = {}
    reply_rows: dict[str, list[sqlite3.Row]] = {}
    # What the gathered comments were on that is gone since: its id -> its objectType.
    gone: dict[str, str] = {}
    collections: dict[str, sqlite3.Row] = {}
    member_totals: dict[str, int] = {}
    # Who is reading, and the favorites and shares of every object gathered: (object id, kind) -> how
    # many, and which of them are the reader's own.
    viewer: str = ""
    reactions: dict[tuple[str, str], int] = {}
    reacted: set[tuple[str, str]] = set()


def attachment_ids(post: sqlite3.Row) -> list[str]:
    return list(msgspec.json.decode(post["attachments"], type=list[str])) if post["attachments"] else []


def gather(conn: sqlite3.Connection, *, media_ids: Iterable[str] = (), comment_ids: Iterable[str] = (),
           note_ids: Iterable[str] = (), user_ids: Iterable[str] = (), collection_ids: Iterable[str] = (),
           viewer: str = "") -> Rows:
    """Everything rendering these objects needs: their rows, their authors, each image's and note's newest
    replies, what each comment is on, and how often each was favorited and shared, by `viewer` too; a
    collection's count of members is of those `viewer` may see."""
    collections = collections_by_ids(conn, collection_ids)
    member_totals = {cid: member_count(conn, cid, viewer) for cid in collections}
    comments = comments_by_ids(conn, comment_ids)
    # A comment is on an image or a note: which, the rows found say.
    parents = [c["in_reply_to"] for c in comments.values()]
    notes = posted_notes(conn, [*note_ids, *parents])
    attached = [media_id for post in notes.values() for media_id in attachment_ids(post)]
    media = media_by_ids(conn, [*media_ids, *attached, *parents])
    gone = deleted_types(conn, [p for p in parents if p not in media and p not in notes])
    totals: dict[str, int] = {}
    shown: dict[str, list[sqlite3.Row]] = {}
    for object_id in [*media, *notes]:
        # Both off the (in_reply_to, published) index: the newest few, and how many there are.
        totals[object_id] = reply_count(conn, object_id)
        shown[object_id] = newest_replies(conn, object_id, REPLIES_SHOWN)
    # Comments shown under an image or note are looked up like any other.
    comments.update((c["comment_id"], c) for rows in shown.values() for c in rows)
    people = {*user_ids, *(m["owner_id"] for m in media.values()), *(c["author"] for c in comments.values()),
              *(n["actor"] for n in notes.values()), *(c["owner"] for c in collections.values())}
    users = users_by_ids(conn, people)
    objects = [*media, *comments, *notes]
    return Rows(users=users, media=media, comments=comments, notes=notes, reply_totals=totals, reply_rows=shown,
                gone=gone, collections=collections, member_totals=member_totals, viewer=viewer,
                reactions=reaction_counts(conn, objects), reacted=reacted(conn, viewer, objects) if viewer else set())


def gather_objects(conn: sqlite3.Connection, named: Iterable[tuple[str, str]], *, user_ids: Iterable[str] = (),
                   collection_ids: Iterable[str] = (), viewer: str = "") -> Rows:
    """`gather` for objects named by (object type, local id), as activities, members and favorites name them."""
    pairs = list(named)

    def of(*types: str) -> list[str]:
        return [object_id for object_type, object_id in pairs if object_type in types]

    return gather(conn, media_ids=of(*render.MEDIA_OBJECT_TYPES), comment_ids=of("comment"), note_ids=of("note"),
                  user_ids=[*user_ids, *of("person")], collection_ids=[*collection_ids, *of("collection")],
                  viewer=viewer)


def gather_activities(conn: sqlite3.Connection, activities: Iterable[sqlite3.Row], viewer: str = "") -> Rows:
    rows = list(activities)
    # A collection is an activity's object (post, update) or its target (add, remove).
    return gather_objects(conn, [(a["object_type"], a["object_id"]) for a in rows],
                          user_ids=[a["actor"] for a in rows],
                          collection_ids=[a["target"] for a in rows if a["target"]], viewer=viewer)


class View:
    """Turns gathered rows into pump.io JSON."""

    def __init__(self, rows: Rows, site: Site) -> None:
        self.rows = rows
        self.site = site
        # A page names the same few people hundreds of times (authors, actors, commenters): each is
        # rendered once and shared, as nothing changes a person's JSON once it is made.
        self._people: dict[str, dict[str, Any]] = {}

    def person(self, user_id: str) -> dict[str, Any]:
        known = self._people.get(user_id)
        if known is not None:
            return known
        row = self.rows.users.get(user_id)
        if row is None:
            made = {"id": f"acct:{user_id}@{self.site.host}", "objectType": "person", "preferredUsername": user_id}
        else:
            made = render.person(row, self.site)
        self._people[user_id] = made
        return made

    def image(self, media_id: str) -> dict[str, Any]:
        row = self.rows.media.get(media_id)
        if row is None:
            return render.reference("image", media_id, self.site)
        replies = self._replies(self.site.object_id(render.media_type(row["kind"]), media_id), media_id)
        body = render.image(media_view(row, self.site.base), self.person(row["owner_id"]), replies, self.site)
        return self._reactions(body, media_id)

    def _replies(self, url: str, object_id: str) -> dict[str, Any]:
        shown = [self.comment(c["comment_id"], nested=True) for c in self.rows.reply_rows.get(object_id, [])]
        return render.replies(url, self.rows.reply_totals.get(object_id, 0), shown)

    def parent_type(self, parent: str) -> str:
        """The objectType of what a comment is on: an image (or video, or audio file) or a note."""
        media = self.rows.media.get(parent)
        if media is not None:
            return render.media_type(media["kind"])
        if parent in self.rows.notes:
            return "note"
        # Comments were only ever on images before notes took them; a note gone says so in its delete.
        return self.rows.gone.get(parent, "image")

    def comment(self, comment_id: str, *, nested: bool = False) -> dict[str, Any]:
        """A comment inside its image's or note's replies names that object by id only, which ends the
        recursion."""
        row = self.rows.comments.get(comment_id)
        if row is None:
            return render.reference("comment", comment_id, self.site)
        parent = row["in_reply_to"]
        parent_type = self.parent_type(parent)
        in_reply_to = render.reference(parent_type, parent, self.site) if nested else self.object(parent_type, parent)
        return self._reactions(render.comment(row, self.person(row["author"]), in_reply_to, self.site), comment_id)

    def note(self, note_id: str) -> dict[str, Any]:
        post = self.rows.notes.get(note_id)
        if post is None:
            return render.reference("note", note_id, self.site)
        attachments = [self.image(media_id) for media_id in attachment_ids(post)]
        replies = self._replies(self.site.object_id("note", note_id), note_id)
        body = render.note(post, self.person(post["actor"]), attachments, replies, self.site)
        return self._reactions(body, note_id)

    def _reactions(self, body: dict[str, Any], object_id: str) -> dict[str, Any]:
        """The object's `likes` and `shares`, and whether the reader favorited or shared it."""
        counts, mine = self.rows.reactions, self.rows.reacted
        return render.reactions(body, likes=counts.get((object_id, "favorite"), 0),
                                shares=counts.get((object_id, "share"), 0), liked=(object_id, "favorite") in mine,
                                shared=(object_id, "share") in mine)

    def title(self, activity: sqlite3.Row) -> str | None:
        media = self.rows.media.get(activity["object_id"])
        if activity["object_type"] in render.MEDIA_OBJECT_TYPES and media is not None:
            return (render.title(media["title"], media["filename"], media["via"])
                    or render.ARTICLES[render.media_type(media["kind"])])
        if activity["object_type"] == "person":
            return str(activity["object_id"])
        return None

    def collection(self, collection_id: str) -> dict[str, Any]:
        row = self.rows.collections.get(collection_id)
        if row is None:
            return render.reference("collection", collection_id, self.site)
        return render.album(row, self.person(row["owner"]), self.rows.member_totals.get(collection_id, 0),
                            object_types(row), self.site)

    def object(self, object_type: str, object_id: str) -> dict[str, Any]:
        """Any object an activity names, whole as far as its rows were gathered."""
        if object_type in render.MEDIA_OBJECT_TYPES:
            return self.image(object_id)
        if object_type == "note":
            return self.note(object_id)
        if object_type == "comment":
            return self.comment(object_id)
        if object_type == "person":
            return self.person(object_id)
        if object_type == "collection":
            return self.collection(object_id)
        return render.reference(object_type, object_id, self.site)

    def activity(self, row: sqlite3.Row) -> dict[str, Any]:
        object_type, object_id = row["object_type"], row["object_id"]
        if row["verb"] == "delete":
            obj = render.reference(object_type, object_id, self.site, deleted=row["published"])
        else:
            obj = self.object(object_type, object_id)
        content = render.activity_content(row, self.title(row))
        body = render.activity(row, self.person(row["actor"]), obj, content, self.site)
        if row["target"]:
            body["target"] = self.collection(row["target"])
        return body


def visible(media: sqlite3.Row, viewer: str) -> bool:
    return media["published_at"] is not None or media["owner_id"] == viewer


async def image_json(request: web.Request, media_id: str, viewer: str = "") -> dict[str, Any]:
    rows = await request.app[SERVICES].projection.read(lambda c: gather(c, media_ids=[media_id], viewer=viewer))
    return View(rows, Site.of(request.app[SERVICES].config)).image(media_id)


async def _visible_image(request: web.Request, viewer: str) -> sqlite3.Row:
    media_id = request.match_info["id"]
    row = await media_by_id(request.app[SERVICES].projection, media_id)
    # A media is found under its own type's path only: /api/video/<id> names no image.
    # The path is /api/<type>/<id>: the route says which type it was registered for.
    if row is None or not visible(row, viewer) or render.media_type(row["kind"]) != request.path.split("/")[2]:
        raise Refusal(404, NO_IMAGE)
    return row


async def get_image(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    row = await _visible_image(request, principal.user_id)
    return web.json_response(await image_json(request, row["media_id"], principal.user_id))


async def _replies_page(request: web.Request, object_url: str, object_id: str, viewer: str) -> web.Response:
    """A page of the comments on an object, newest first, each naming that object by id."""
    window = Window(request.query)

    def page(conn: sqlite3.Connection) -> tuple[int, list[str], Rows]:
        ids = reply_ids(conn, object_id, window.count, window.offset)
        return reply_count(conn, object_id), ids, gather(conn, comment_ids=ids, viewer=viewer)

    total, ids, rows = await request.app[SERVICES].projection.read(page)
    view = View(rows, Site.of(request.app[SERVICES].config))
    url = f"{object_url}/replies"
    body = render.collection(
        display_name=f"Replies to {object_url}", url=url, object_type="comment",
        items=[view.comment(c, nested=True) for c in ids], total=total, links=window.links(url, len(ids), total),
    )
    return json_page(body)


async def get_replies(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    row = await _visible_image(request, principal.user_id)
    url = Site.of(request.app[SERVICES].config).object_id(render.media_type(row["kind"]), row["media_id"])
    return await _replies_page(request, url, row["media_id"], principal.user_id)


async def get_note_replies(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    note_id = request.match_info["id"]
    # Only a note pump.io shows has replies to show: a status only some may read is no note here.
    if await request.app[SERVICES].projection.read(lambda conn: posted_note(conn, note_id)) is None:
        raise Refusal(404, NO_NOTE)
    url = Site.of(request.app[SERVICES].config).object_id("note", note_id)
    return await _replies_page(request, url, note_id, principal.user_id)


async def get_comment(request: web.Request) -> web.Response:
    viewer = (await authenticate(request)).user_id
    comment_id = request.match_info["id"]
    rows = await request.app[SERVICES].projection.read(lambda c: gather(c, comment_ids=[comment_id], viewer=viewer))
    if comment_id not in rows.comments:
        raise Refusal(404, NO_COMMENT)
    return web.json_response(View(rows, Site.of(request.app[SERVICES].config)).comment(comment_id))


async def get_note(request: web.Request) -> web.Response:
    viewer = (await authenticate(request)).user_id
    note_id = request.match_info["id"]
    rows = await request.app[SERVICES].projection.read(lambda c: gather(c, note_ids=[note_id], viewer=viewer))
    if note_id not in rows.notes:
        raise Refusal(404, NO_NOTE)
    return web.json_response(View(rows, Site.of(request.app[SERVICES].config)).note(note_id))


async def activity_json(request: web.Request, activity_id: str, viewer: str = "") -> dict[str, Any] | None:
    def load(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, Rows]:
        row = activity_by_id(conn, activity_id)
        return row, gather_activities(conn, [row] if row else [], viewer)

    row, rows = await request.app[SERVICES].projection.read(load)
    return None if row is None else View(rows, Site.of(request.app[SERVICES].config)).activity(row)


async def get_activity(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await activity_json(request, request.match_info["id"], principal.user_id)
    if body is None:
        raise Refusal(404, NO_ACTIVITY)
    return json_page(body)


def add_routes(app: web.Application) -> None:
    for path, handler in (
        *((f"/api/{kind}/{{id}}", get_image) for kind in ("image", "video", "audio")),
        *((f"/api/{kind}/{{id}}/replies", get_replies) for kind in ("image", "video", "audio")),
        ("/api/comment/{id}", get_comment),
        ("/api/note/{id}", get_note),
        ("/api/note/{id}/replies", get_note_replies),
        ("/api/activity/{id}", get_activity),
    ):
        app.router.add_get(path, handler)
        app.router.add_get(path + "/", handler)
