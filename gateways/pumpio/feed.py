"""pump.io feeds: `POST /api/user/<u>/feed` (activities) and the outbox and inbox collections.

Pages are read newest first straight off the (actor, seq) and (user_id, ...) indexes with the stream
sequence as the cursor: `before=<id>` reads `seq < ?` downwards and `since=<id>` reads `seq > ?`
upwards, each `LIMIT count`, so a page deep in a long feed costs what the first one does. `links.next`
is `before=<last id on the page>` and only present while older items exist; `links.prev` is
`since=<first id>`. `offset` is honoured as pump.io does, at the cost of skipping that many index
entries; the links never use it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from core.log import LogUnavailable
from gateways.kit import bodies
from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.pumpio import notes, paging, render
from gateways.pumpio.activities import Activities, activity_of, msg_id
from gateways.pumpio.oauth import PumpPrincipal, authenticate
from gateways.pumpio.objects import Rows, View, activity_json, gather_activities
from gateways.pumpio.render import Site
from gateways.pumpio.settings import PumpSettings
from gateways.pumpio.users import find_user, poster
from store.queries import feeds
from store.queries.activities import activities_in_order, activity_seq
from store.queries.clients import client_by_id
from store.queries.feeds import Cursor, Page, page_sql, read_page

__all__ = ["STREAMS", "Cursor", "Stream", "add_routes", "page_sql", "read_page"]

BAD_JSON = "Could not decode the JSON body"
NOT_YOUR_INBOX = "Only the owner can read an inbox."
UNAVAILABLE = "The media service is temporarily unavailable, try again in a moment"
NOT_VISIBLE_YET = "The activity was recorded but is not readable yet; try again in a moment"
ONLY_MAJOR = "Only major activities to this feed."
ONLY_MINOR = "Only minor activities to this feed."

# An activity's content is capped by the description limit; this leaves room for JSON escapes around it.
ACTIVITY_LIMIT = 256 * 1024
ACTIVITY = msgspec.json.Decoder()


class Stream(feeds.Stream, frozen=True):
    """A feed as pump.io names it and routes it."""

    def name(self, user: str) -> str:
        kind = {None: "Activities", 1: "Major activities", 0: "Minor activities"}[self.major]
        if self.direct:
            kind = "Direct " + kind[0].lower() + kind[1:]
        return f"{kind} {'for' if self.inbox else 'by'} {user}"

    def path(self) -> str:
        parts = ["inbox" if self.inbox else "feed"]
        if self.direct:
            parts.append("direct")
        if self.major is not None:
            parts.append("major" if self.major else "minor")
        return "/".join(parts)


def _activity_key(value: str, site: Site) -> str:
    """`before` and `since` take activity ids; PyPump sends the full URL, the bare id is accepted too."""
    prefix = site.object_id("activity", "")
    return value[len(prefix):].rstrip("/") if value.startswith(prefix) else value


async def _cursor(request: web.Request, site: Site) -> Cursor:
    projection = request.app[SERVICES].projection
    return await paging.cursor(request.query, lambda value: activity_seq(projection, _activity_key(value, site)),
                               "activity")


def _links(url: str, query: Mapping[str, str], page: Page, site: Site) -> dict[str, dict[str, str]]:
    ids = [site.object_id("activity", activity_id) for _, activity_id in page.entries]
    return paging.cursor_links(url, query, ids, page.older)


def _stream_handler(stream: Stream) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        principal = await authenticate(request)
        user = await find_user(request, request.match_info["user"])
        owner = user["user_id"]
        if stream.inbox and owner != principal.user_id:
            raise Refusal(403, NOT_YOUR_INBOX)
        site = Site.of(request.app[SERVICES].config)
        cursor = await _cursor(request, site)

        def load(conn: sqlite3.Connection) -> tuple[Page, list[sqlite3.Row], Rows]:
            page = read_page(conn, stream, owner, cursor)
            activities = activities_in_order(conn, [aid for _, aid in page.entries])
            rows = gather_activities(conn, activities, principal.user_id)
            rows.users.setdefault(owner, user)
            return page, activities, rows

        page, activities, rows = await request.app[SERVICES].projection.read(load)
        view = View(rows, site)
        url = f"{site.user(owner)}/{stream.path()}"
        body = render.collection(
            display_name=stream.name(owner), url=url, object_type="activity",
            items=[view.activity(a) for a in activities], total=page.total,
            links=_links(url, request.query, page, site), author=view.person(owner),
        )
        return json_page(body)

    return handler


async def json_body(request: web.Request) -> Any:
    try:
        return await bodies.read_json(request, ACTIVITY, limit=ACTIVITY_LIMIT, keep=True)
    except Refusal as exc:
        raise Refusal(exc.status, BAD_JSON if exc.message == bodies.NOT_JSON else exc.message) from None


async def _generator(request: web.Request, principal: PumpPrincipal) -> str:
    row = await client_by_id(request.app[SERVICES].projection, principal.client_id)
    return str(row["application_name"] or "") if row else ""


async def perform(request: web.Request, body: Any) -> dict[str, Any]:
    """Interprets one activity of the signed-in user, appends its event and answers the activity's JSON:
    the feed and the REST routes on objects each make their activity through here."""
    principal = await authenticate(request)
    owner = principal.user_id
    app = request.app
    services = app[SERVICES]
    config, projection = services.config, services.projection
    activities = Activities(projection, Site.of(config), actor=owner,
                            generator=await _generator(request, principal),
                            content_limit=config.settings(PumpSettings).content_limit)
    event = await activities.interpret(body)
    await notes.claim(services.buckets, projection, event)
    try:
        seq = await append(request, event, msg_id=msg_id(event))
    except LogUnavailable:
        await notes.release(services.buckets, event, landed=False)
        raise
    await notes.release(services.buckets, event)
    activity = await activity_json(request, activity_of(event, seq), owner)
    if activity is None:
        # Either the log already held this change under the same message id (a racing duplicate), and
        # judged again against what is projected now it gets the refusal a later duplicate would; or
        # the projection has not caught up in time.
        await activities.interpret(body)
        raise Refusal(503, NOT_VISIBLE_YET)
    return activity


def _major(body: Any) -> bool:
    """pump.io's test of a major activity: a share, or a post of anything but a comment or collection."""
    verb = body.get("verb")
    obj = body.get("object")
    object_type = obj.get("objectType") if isinstance(obj, dict) else None
    return verb in ("share", "checkin") or (verb in ("post", "create")
                                             and object_type not in ("comment", "collection"))


def _poster(major: int | None) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`/feed` takes any activity; `/feed/major` and `/feed/minor` only their own kind, as on pump.io."""
    async def handler(request: web.Request) -> web.Response:
        await poster(request)
        body = await json_body(request)
        if major is not None and isinstance(body, dict) and _major(body) != bool(major):
            raise Refusal(400, ONLY_MAJOR if major else ONLY_MINOR)
        return web.json_response(await perform(request, body))

    return handler


post_activity = _poster(None)


STREAMS = (
    Stream(inbox=False), Stream(inbox=False, major=1), Stream(inbox=False, major=0),
    Stream(inbox=True), Stream(inbox=True, major=1), Stream(inbox=True, major=0),
    Stream(inbox=True, direct=True), Stream(inbox=True, direct=True, major=1),
    Stream(inbox=True, direct=True, major=0),
)


def add_routes(app: web.Application) -> None:
    for feed, major in (("feed", None), ("feed/major", 1), ("feed/minor", 0)):
        handler = _poster(major)
        app.router.add_post(f"/api/user/{{user}}/{feed}", handler)
        app.router.add_post(f"/api/user/{{user}}/{feed}/", handler)
    for stream in STREAMS:
        handler = _stream_handler(stream)
        path = f"/api/user/{{user}}/{stream.path()}"
        app.router.add_get(path, handler)
        app.router.add_get(path + "/", handler)
