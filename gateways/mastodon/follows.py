"""Follows between accounts: `/api/v1/accounts/:id/follow` and `/unfollow`, the caller's relationships, and
an account's followers and following.

A follow here is pump.io's follow, the same events: whom a Mastodon client follows, pump.io shows among
the followers, and the reverse. Accounts are never locked, so a follow needs no request to be accepted.
As in Mastodon, following twice or unfollowing someone not followed is no error, and following oneself is
refused (403).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateways.kit import writes
from gateways.kit.principal import Principal
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.social import Standing, follow_change, follow_standing, msg_id
from gateways.mastodon import errors
from gateways.mastodon.account_pages import account_page
from gateways.mastodon.media import requires
from gateways.mastodon.render import account_id
from gateways.mastodon.statuses import app_name
from store.queries.follows import among, people_page
from store.queries.posts import Window
from store.queries.users import user_by_account

# Mastodon.py sends a list as `id[]`; one id may come as `id`.
ID_PARAMS = ("id[]", "id")


def relationship(user_id: str, *, following: bool, followed_by: bool) -> dict[str, Any]:
    """Mastodon's Relationship entity: blocks, mutes, notes and follow requests are never made here."""
    return {
        "id": account_id(user_id),
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": None,
        "followed_by": followed_by,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def _relationships(conn: sqlite3.Connection, viewer: str, users: list[str]) -> list[dict[str, Any]]:
    following, followed_by = among(conn, viewer, "following", users), among(conn, viewer, "followers", users)
    return [relationship(u, following=u in following, followed_by=u in followed_by) for u in users]


def _change_handler(adds: bool) -> Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request, principal: Principal) -> web.StreamResponse:
        account, follower = request.match_info["id"], principal.user_id

        def look(conn: sqlite3.Connection) -> tuple[str, Standing] | None:
            user = user_by_account(conn, account)
            if user is None:
                return None
            return str(user["user_id"]), follow_standing(conn, follower, str(user["user_id"]))

        found = await request.app[SERVICES].projection.read(look)
        if found is None:
            raise Refusal(404, errors.NOT_FOUND)
        followee, standing = found
        if adds and followee == follower:
            raise Refusal(403, errors.SELF_FOLLOW)
        if standing.present != adds and followee != follower:
            event = follow_change(adds=adds, follower=follower, followee=followee, standing=standing,
                                  via="mastodon", app=await app_name(request, principal))
            await writes.append(request, event, msg_id=msg_id(event))
        shown = await request.app[SERVICES].projection.read(lambda conn: _relationships(conn, follower, [followee]))
        return web.json_response(shown[0])

    return handler


follow = requires("follow", "write", "write:follows")(_change_handler(True))
unfollow = requires("follow", "write", "write:follows")(_change_handler(False))


@requires("read", "read:follows")
async def relationships(request: web.Request, principal: Principal) -> web.StreamResponse:
    """The caller's relationship to each account asked for, in the order asked; unknown ids are left out."""
    asked = [value for name in ID_PARAMS for value in request.query.getall(name, [])]

    def load(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        users: list[str] = []
        for value in dict.fromkeys(asked):
            user = user_by_account(conn, value)
            if user is not None:
                users.append(str(user["user_id"]))
        return _relationships(conn, principal.user_id, users)

    return web.json_response(await request.app[SERVICES].projection.read(load))


def _people_handler(side: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`followers` and `following`: accounts, the latest follow first, paged on the follows themselves."""

    async def handler(request: web.Request) -> web.StreamResponse:
        account = request.match_info["id"]

        def people(conn: sqlite3.Connection, window: Window) -> list[tuple[str, int]] | None:
            user = user_by_account(conn, account)
            return None if user is None else people_page(conn, str(user["user_id"]), side, window)

        return await account_page(request, people)

    return handler


def routes() -> list[web.RouteDef]:
    # Before the accounts' own routes, so that `relationships` is not read as an account id.
    return [
        web.get("/api/v1/accounts/relationships", relationships),
        web.post("/api/v1/accounts/{id}/follow", follow),
        web.post("/api/v1/accounts/{id}/unfollow", unfollow),
        web.get("/api/v1/accounts/{id}/followers", _people_handler("followers")),
        web.get("/api/v1/accounts/{id}/following", _people_handler("following")),
    ]
