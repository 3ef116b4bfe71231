"""`POST /posts` and `GET /posts/{id}`: a note with a body, in a space, attaching the author's media.

A post is a protocol-neutral PostCreated, folded into a pump.io `post` activity of a `note`, so it
shows in the author's pump.io outbox and inbox with its images, and as a Mastodon status. Posts are
public: anyone may read one by id, as its media's rendition URLs are too.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec
from aiohttp import web

from core.events import PostCreated
from core.ids import new_media_id
from gateways.kit import attachments, post_events
from gateways.kit.media import MediaView, media_view
from gateways.kit.principal import require
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.timestamps import iso
from gateways.kit.writes import append
from gateways.posts import bodies, errors, limits
from gateways.posts.media import check_usable, media_json
from store.queries.activities import posted_note
from store.queries.comments import commented
from store.queries.media import media_by_ids
from store.queries.posts import post_by_note

GENERATOR = "Mediaplex posts API"
SCOPES = ("write", "write:statuses")


class Stored(msgspec.Struct, frozen=True):
    """A post as the read model holds it: the activity that posted it, and its media as they are now."""

    post: sqlite3.Row
    media: dict[str, sqlite3.Row]


def _attachment_ids(post: sqlite3.Row) -> list[str]:
    return list(msgspec.json.decode(post["attachments"], type=list[str])) if post["attachments"] else []


async def _load(request: web.Request, post_id: str) -> Stored | None:
    def load(conn: sqlite3.Connection) -> Stored | None:
        post = posted_note(conn, post_id)
        if post is None:
            return None
        return Stored(post=post, media=media_by_ids(conn, _attachment_ids(post)))

    return await request.app[SERVICES].projection.read(load)


def _view(row: sqlite3.Row | None, base: str) -> MediaView | None:
    return None if row is None else media_view(row, base)


def post_json(stored: Stored, base: str) -> dict[str, Any]:
    post = stored.post
    ids = _attachment_ids(post)
    return {
        "id": post["object_id"],
        "spaceDID": post["space"] or "",
        "body": post["content"] or "",
        "attachmentIds": ids,
        "author": post["actor"],
        "createdAt": iso(post["published"]),
        "url": f"{base}/posts/{post['object_id']}",
        "attachments": [media_json(media_id, _view(stored.media.get(media_id), base)) for media_id in ids],
    }


async def create_post(request: web.Request) -> web.Response:
    principal = await require(request, *SCOPES)
    new = await bodies.decode(request, bodies.POST)
    space = limits.space(new.space_did)
    ids = limits.attachment_ids(new.attachment_ids)
    body = limits.body(new.body, attachments=len(ids))
    app = request.app
    await check_usable(app[SERVICES].projection, principal.user_id, ids, "attachmentIds", unattached=True)
    post_id = new_media_id()
    if taken := await attachments.claim(app[SERVICES].buckets, app[SERVICES].projection, ids, post_id):
        raise Refusal(422, f"Media already attached to a post: {', '.join(taken)}", code=errors.MEDIA_ATTACHED,
                      parameter="attachmentIds")
    event = PostCreated(at=time.time(), post_id=post_id, author=principal.user_id, text=body, attachments=ids,
                        space=space, via="posts", app=GENERATOR)
    await append(request, event, msg_id=f"post.{post_id}.created")
    stored = await _load(request, post_id)
    assert stored is not None, "the projection reached the post's sequence"
    base = app[SERVICES].config.base_url
    return web.json_response(post_json(stored, base), status=201, headers={"Location": f"{base}/posts/{post_id}"})


async def get_post(request: web.Request) -> web.Response:
    stored = await _load(request, request.match_info["id"])
    if stored is None:
        raise Refusal(404, "No such post", code=errors.NOT_FOUND)
    return web.json_response(post_json(stored, request.app[SERVICES].config.base_url))


async def delete_post(request: web.Request) -> web.Response:
    """Deletes the post everywhere: it leaves the pump.io feeds and is no status any more; its media is freed."""
    principal = await require(request, *SCOPES)
    note_id = request.match_info["id"]
    post = await request.app[SERVICES].projection.read(lambda conn: post_by_note(conn, note_id))
    if post is None or post["author"] != principal.user_id:
        raise Refusal(404, "No such post", code=errors.NOT_FOUND)
    event = post_events.deleted(post, await commented(request.app[SERVICES].projection, post))
    await append(request, event, msg_id=f"post.{post['post_id']}.deleted")
    await attachments.release(request.app[SERVICES].buckets, event.attachments, post["post_id"])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/posts", create_post)
    app.router.add_get("/posts/{id}", get_post)
    app.router.add_delete("/posts/{id}", delete_post)
