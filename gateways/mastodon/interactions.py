"""Favourites and reblogs of statuses: `/api/v1/statuses/:id/favourite`, `/unfavourite`, `/reblog`,
`/unreblog`, who favourited or reblogged a status, and the caller's `/api/v1/favourites`.

A favourite is pump.io's favorite and a reblog its share, of the note (or comment) the status is: the
same reaction events, so each protocol shows what the other made. As in Mastodon, favouriting twice or
taking back what is not there is no error: the status is answered as it now stands. A reblog answers a
Status wrapping the reblogged one; that wrapper is not a post of its own here, so it has no status
of its own to fetch by its id, and reblogs show in no timeline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from gateways.kit import writes
from gateways.kit.principal import Principal, resolve
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.social import Standing, msg_id, reaction_change, reaction_standing
from gateways.mastodon import errors, paging
from gateways.mastodon.account_pages import account_page
from gateways.mastodon.media import requires
from gateways.mastodon.render import reblog
from gateways.mastodon.statuses import (
    account_json,
    app_name,
    gather,
    readable,
    status_json,
    statuses_json,
)
from store.queries.comments import comments_by_ids
from store.queries.posts import Window, post_by_id, posts_by_notes
from store.queries.reactions import reaction, reactions_page, reactors_page

FAVOURITE, REBLOG = "favorite", "share"
STATUS_TYPES = ("note", "comment")


class Found(msgspec.Struct, frozen=True):
    """A status as the caller's favourite or reblog of it is judged: the post, whether the caller may see it,
    the reaction's object type, and the caller's standing reaction to it."""

    post: sqlite3.Row | None
    seen: bool
    object_type: str
    standing: Standing


def _find(conn: sqlite3.Connection, post_id: str, viewer: str, kind: str) -> Found:
    post = post_by_id(conn, post_id)
    if post is None:
        return Found(post=None, seen=False, object_type="note", standing=Standing(present=False, last_seq=0))
    # A status that is a pump.io comment is favorited as the comment, so pump.io counts it among its likes.
    object_type = "comment" if comments_by_ids(conn, [post["note_id"]]) else "note"
    return Found(post=post, seen=readable(conn, post, viewer), object_type=object_type,
                 standing=reaction_standing(conn, kind, viewer, post["note_id"]))


async def _change(request: web.Request, principal: Principal, kind: str, adds: bool,
                  check: Callable[[Found], None] = lambda found: None) -> sqlite3.Row:
    """Makes the caller's favourite (or reblog) of the status stand, or not; the post it is of."""
    post_id, viewer = request.match_info["id"], principal.user_id
    found = await request.app[SERVICES].projection.read(lambda conn: _find(conn, post_id, viewer, kind))
    # Taking one back needs only that it is there, as in Mastodon; anything else needs the status in sight.
    if found.post is None or not (found.seen or (not adds and found.standing.present)):
        raise Refusal(404, errors.NOT_FOUND)
    if adds:
        check(found)
    if found.standing.present != adds:
        post = found.post
        event = reaction_change(kind=kind, adds=adds, actor=viewer, object_type=found.object_type,
                                object_id=post["note_id"], owner=post["author"], standing=found.standing,
                                via="mastodon", app=await app_name(request, principal))
        await writes.append(request, event, msg_id=msg_id(event))
    return found.post


async def _status(request: web.Request, post_id: str, viewer: str) -> dict[str, Any]:
    """The status as the caller now sees it, even when only a favourite taken back let them reach it."""
    base = request.app[SERVICES].config.base_url

    def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
        post = post_by_id(conn, post_id)
        return None if post is None else statuses_json(conn, [post], base, viewer)[0]

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    return found


@requires("write", "write:favourites")
async def favourite(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _change(request, principal, FAVOURITE, True)
    return web.json_response(await _status(request, post["post_id"], principal.user_id))


@requires("write", "write:favourites")
async def unfavourite(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _change(request, principal, FAVOURITE, False)
    return web.json_response(await _status(request, post["post_id"], principal.user_id))


def _rebloggable(viewer: str) -> Callable[[Found], None]:
    def check(found: Found) -> None:
        # Mastodon's policy: a direct status is never reblogged, a private one only by its author.
        assert found.post is not None
        visibility = found.post["visibility"]
        if visibility == "direct" or (visibility == "private" and found.post["author"] != viewer):
            raise Refusal(403, errors.NOT_PERMITTED)

    return check


@requires("write", "write:statuses")
async def reblog_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    viewer = principal.user_id
    post = await _change(request, principal, REBLOG, True, _rebloggable(viewer))
    base = request.app[SERVICES].config.base_url

    def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
        share = reaction(conn, REBLOG, viewer, post["note_id"])
        current = post_by_id(conn, post["post_id"])
        if share is None or current is None:
            return None
        rendered = gather(conn, [current], viewer=viewer, accounts=(viewer,))
        original = status_json(current, rendered, base)
        me = account_json(rendered.users[viewer], rendered, base) if viewer in rendered.users else {}
        # Mastodon keeps a private status's reblog private; any other is public.
        visibility = "private" if current["visibility"] == "private" else "public"
        return reblog(original, me, status_id=wrapper_id(share), at=float(share["at"]), visibility=visibility,
                      base=base)

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        # Taken back, or the status deleted, between the reblog and this answer.
        raise Refusal(404, errors.NOT_FOUND)
    return web.json_response(found)


def wrapper_id(share: sqlite3.Row) -> str:
    """A numeric, time-ordered id for the Status wrapping a reblog, as Mastodon's are, made from the share."""
    return str((int(float(share["at"]) * 1000) << 16) | int(str(share["reaction_id"])[:4], 16))


@requires("write", "write:statuses")
async def unreblog(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _change(request, principal, REBLOG, False)
    return web.json_response(await _status(request, post["post_id"], principal.user_id))


def _reactors_handler(kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`favourited_by` and `reblogged_by`: the accounts, latest first, of a status the caller can see."""

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = await resolve(request)
        viewer = principal.user_id if principal else None
        post_id = request.match_info["id"]

        def people(conn: sqlite3.Connection, window: Window) -> list[tuple[str, int]] | None:
            post = post_by_id(conn, post_id)
            if not readable(conn, post, viewer):
                return None
            assert post is not None
            return [(str(row["actor"]), int(row["seq"])) for row in reactors_page(conn, kind, post["note_id"], window)]

        return await account_page(request, people, viewer)

    return handler


@requires("read", "read:favourites")
async def favourites(request: web.Request, principal: Principal) -> web.StreamResponse:
    """The caller's favourited statuses, the latest favourited first, paged on the favourites themselves as
    Mastodon does (a status id as `max_id` is not a favourite's)."""
    viewer = principal.user_id
    base = request.app[SERVICES].config.base_url
    window = paging.window(request)

    def load(conn: sqlite3.Connection) -> tuple[list[int], list[dict[str, Any]]]:
        rows = reactions_page(conn, FAVOURITE, viewer, STATUS_TYPES, window)
        posts = posts_by_notes(conn, [str(row["object_id"]) for row in rows])
        shown = [posts[row["object_id"]] for row in rows if row["object_id"] in posts]
        # A private status favourited while following its author is gone from sight once unfollowed.
        shown = [post for post in shown if readable(conn, post, viewer)]
        return [int(row["seq"]) for row in rows], statuses_json(conn, shown, base, viewer)

    cursors, body = await request.app[SERVICES].projection.read(load)
    return web.json_response(body, headers=paging.link_on(request, base, list(cursors)))


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/statuses/{id}/favourite", favourite),
        web.post("/api/v1/statuses/{id}/unfavourite", unfavourite),
        web.post("/api/v1/statuses/{id}/reblog", reblog_status),
        web.post("/api/v1/statuses/{id}/unreblog", unreblog),
        web.get("/api/v1/statuses/{id}/favourited_by", _reactors_handler(FAVOURITE)),
        web.get("/api/v1/statuses/{id}/reblogged_by", _reactors_handler(REBLOG)),
        web.get("/api/v1/favourites", favourites),
    ]
