"""pump.io follows: the `follow` and `stop-following` verbs on a person, and a person's `followers` and
`following` collections.

The person is named by `acct:<user>@<host>` (what PyPump sends) or by their profile URL. This server does no
federation: a person of another host is refused (400) rather than looked up, where pump.io would follow
them over OStatus; an unknown local user is 404.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.events import Followed, Unfollowed
from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.kit.social import follow_change, follow_standing
from gateways.pumpio import render
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.objects import View, gather
from gateways.pumpio.paging import Window
from gateways.pumpio.render import Site
from gateways.pumpio.users import find_user
from gateways.pumpio.verbs import LOCAL_ID, Context, Posted, object_id
from store.queries.follows import people, people_count
from store.queries.users import user_by_id

ONLY_PEOPLE = "Only people can be followed."
NOT_A_PERSON = "The person's id must be acct:<user>@<host> or their profile URL."
REMOTE = "Only people on this server can be followed: it does not federate."
YOURSELF = "You cannot follow yourself."
ALREADY = "Already following."
NOT_YET = "Not following."


def person_name(value: object, site: Site) -> str:
    """The local user a person id names; refused when it is no id of a person, or one of another server."""
    if not isinstance(value, str) or not value:
        raise Refusal(400, NOT_A_PERSON)
    if value.startswith("acct:"):
        name, at, host = value[len("acct:"):].rpartition("@")
        if not at or not name:
            raise Refusal(400, NOT_A_PERSON)
        if host.lower() != site.host.lower():
            raise Refusal(400, REMOTE)
        return name
    prefix = site.user("")
    if value.startswith(prefix):
        name, _, rest = value[len(prefix):].partition("/")
        if name and rest.rstrip("/") in ("", "profile"):
            return name
        raise Refusal(400, NOT_A_PERSON)
    if value.startswith(("http://", "https://")):
        raise Refusal(400, REMOTE)
    raise Refusal(400, NOT_A_PERSON)


async def follow_person(context: Context, posted: Posted) -> Followed | Unfollowed:
    adds = posted.verb == "follow"
    if posted.object_type != "person":
        raise Refusal(400, ONLY_PEOPLE)
    name = person_name(object_id(posted.obj), context.site)
    user = await user_by_id(context.projection, name) if LOCAL_ID.fullmatch(name) else None
    if user is None:
        raise Refusal(404, f"No such user: {name}")
    followee, follower = str(user["user_id"]), context.actor
    if adds and followee == follower:
        raise Refusal(400, YOURSELF)

    standing = await context.projection.read(lambda conn: follow_standing(conn, follower, followee))
    if adds and standing.present:
        raise Refusal(400, ALREADY)
    if not adds and not standing.present:
        raise Refusal(400, NOT_YET)
    return follow_change(adds=adds, follower=follower, followee=followee, standing=standing, via="pumpio",
                         app=context.generator)


BY_VERB: dict[str, Callable[[Context, Posted], Awaitable[Followed | Unfollowed]]] = {
    "follow": follow_person, "stop-following": follow_person}

def _people_handler(side: str, title: Callable[[str], str]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        await authenticate(request)
        owner = (await find_user(request, request.match_info["user"]))["user_id"]
        site = Site.of(request.app[SERVICES].config)
        window = Window(request.query)

        def load(conn: sqlite3.Connection) -> tuple[int, list[str], View]:
            ids = people(conn, owner, side, window.count, window.offset)
            return people_count(conn, owner, side), ids, View(gather(conn, user_ids=[owner, *ids]), site)

        total, ids, view = await request.app[SERVICES].projection.read(load)
        url = f"{site.user(owner)}/{side}"
        body: dict[str, Any] = render.collection(
            display_name=title(owner), url=url, object_type="person", items=[view.person(u) for u in ids],
            total=total, links=window.links(url, len(ids), total), author=view.person(owner))
        return json_page(body)

    return handler


def add_routes(app: web.Application) -> None:
    for path, handler in (
        ("followers", _people_handler("followers", lambda u: f"Followers for {u}")),
        ("following", _people_handler("following", lambda u: f"Persons followed by {u}")),
    ):
        app.router.add_get(f"/api/user/{{user}}/{path}", handler)
        app.router.add_get(f"/api/user/{{user}}/{path}/", handler)
