"""8. Feed paging (pump.io): a 200-item outbox page for a user with 100,000 activities against one with 1,000.

Over HTTP with OAuth 1.0a signatures, on a real server whose projection folded the activities from
the log, so the figure includes everything a client waits for: authentication, the page query,
loading the objects on the page and rendering them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yarl
from aiohttp import web

from bench import servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, not_built, verdict
from bench.eventlog import in_flight
from core.events import AccessGranted, ActivityPosted, AnyEvent, ClientRegistered, MediaUploaded
from gateways.pumpio import feed
from mediaplex.admin import add_user

PAGE = 200
GOAL = 1.5
HEAVY = "heavy"
LIGHT = "light"
READER = "reader"
CLIENT = ("benchclient", "bench-client-secret")
ACCESS = ("benchtoken", "bench-token-secret")
IN_FLIGHT = 64


def feed_is_built() -> bool:
    app = web.Application()
    feed.add_routes(app)
    return any(route.method == "GET" for route in app.router.routes())


def activity_id(user: str, n: int) -> str:
    return f"{user}-act{n:06d}"


def user_activity(user: str, n: int, at: float) -> list[AnyEvent]:
    """Every fourth activity posts a new image, the others comment on the user's latest one.

    Comments spread over many images, as on a real instance; piling them on one image would
    measure that image's reply count instead of the feed.
    """
    image = f"{user}-img{n - n % 4:06d}"
    if n % 4 == 0:
        return [
            MediaUploaded(at=at, media_id=image, owner_id=user, blob=hashlib.sha256(image.encode()).hexdigest(),
                          size=100_000, content_type="image/jpeg", width=640, height=480, via="pumpio"),
            ActivityPosted(at=at, activity_id=activity_id(user, n), actor=user, verb="post", object_type="image",
                           object_id=image, display_name=f"Picture {n}", content="A picture", generator="bench"),
        ]
    return [ActivityPosted(at=at, activity_id=activity_id(user, n), actor=user, verb="post", object_type="comment",
                           object_id=f"{user}-note{n:06d}", content=f"Comment {n}", in_reply_to=image,
                           reply_owner=user, generator="bench")]


def activity_log(heavy: int, light: int) -> list[AnyEvent]:
    """Both users' activities interleaved, as many users' activity is in one log."""
    every = max(heavy // light, 1)
    events: list[AnyEvent] = []
    done_light = 0
    for n in range(heavy):
        events += user_activity(HEAVY, n, 1_700_000_000.0 + n)
        if n % every == every - 1 and done_light < light:
            events += user_activity(LIGHT, done_light, 1_700_000_000.0 + n)
            done_light += 1
    return events


def signed(url: str) -> tuple[yarl.URL, dict[str, str]]:
    from oauthlib.oauth1 import Client  # the pump.io gateway's own dependency, needed only here

    signer = Client(CLIENT[0], client_secret=CLIENT[1], resource_owner_key=ACCESS[0],
                    resource_owner_secret=ACCESS[1])
    uri, headers, _body = signer.sign(url, http_method="GET")
    # Sent exactly as signed: the server recomputes the signature over the raw path and query.
    return yarl.URL(uri, encoded=True), dict(headers)


async def get_page(session: aiohttp.ClientSession, url: str) -> tuple[float, dict[str, Any]]:
    target, headers = signed(url)
    started = time.perf_counter()
    async with session.get(target, headers=headers) as response:
        body = await response.json()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise CouldNotMeasure(f"GET {url} answered {response.status} {body}")
    if len(body.get("items", [])) != PAGE:
        raise CouldNotMeasure(f"GET {url} gave {len(body.get('items', []))} items, not {PAGE}")
    return elapsed, body


async def populate(events: Any, heavy: int, light: int) -> int:
    for user in (HEAVY, LIGHT, READER):
        await add_user(events, user, f"{user}-password")
    now = time.time()
    await events.append(ClientRegistered(at=now, client_id=CLIENT[0], client_secret=CLIENT[1],
                                         application_name="bench"), msg_id="bench.client")
    await events.append(AccessGranted(at=now, token=ACCESS[0], secret=ACCESS[1], client_id=CLIENT[0],
                                      user_id=READER), msg_id="bench.access")
    log = activity_log(heavy, light)
    await in_flight((functools.partial(events.append, e, msg_id=f"bench.{i}") for i, e in enumerate(log)),
                    IN_FLIGHT)
    last: int = await events.last_seq()
    return last


def count_seconds(path: Path, user: str, repeat: int) -> float:
    conn = sqlite3.connect(path)
    try:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM activities WHERE actor = ?", (user,)).fetchone()
            times.append(time.perf_counter() - started)
        return stats.median(times)
    finally:
        conn.close()


async def measure(settings: Settings) -> Outcome:
    heavy = settings.scaled(100_000, 10_000)
    light = 1_000
    repeat = settings.scaled(20, 5)
    figures: dict[str, list[float]] = {f"{page}_{user}": [] for page in ("first", "deep") for user in (HEAVY, LIGHT)}
    async with (
        servers.in_process(settings.work / "data", processor=False) as (server, _endpoint),
        aiohttp.ClientSession() as session,
    ):
        assert server.events is not None and server.projection is not None
        last = await populate(server.events, heavy, light)
        if not await server.projection.wait_for(last, timeout=900):
            raise CouldNotMeasure("the projection did not fold the activities within 15 minutes")
        urls: dict[str, str] = {}
        for user, count in ((HEAVY, heavy), (LIGHT, light)):
            base = f"{server.url}/api/user/{user}/feed"
            first = f"{base}?{urlencode({'count': PAGE})}"
            _elapsed, body = await get_page(session, first)
            # Cursors are activity ids as the server writes them; take the form from the newest one.
            newest = body["items"][0]["id"]
            prefix = newest.removesuffix(activity_id(user, count - 1))
            deep = f"{base}?{urlencode({'count': PAGE, 'before': prefix + activity_id(user, PAGE)})}"
            urls[f"first_{user}"], urls[f"deep_{user}"] = first, deep
        for _run in range(settings.runs):
            for name, url in urls.items():
                times = [(await get_page(session, url))[0] for _ in range(repeat)]
                figures[name].append(stats.median(times))
        counts = {user: count_seconds(server.projection.path, user, repeat) for user in (HEAVY, LIGHT)}
    rows = []
    for key, page, label in (("8a", "first", "first page"), ("8b", "deep", "oldest page (before=)")):
        mine, theirs = figures[f"{page}_{HEAVY}"], figures[f"{page}_{LIGHT}"]
        ratio = stats.median([a / b for a, b in zip(mine, theirs, strict=True)])
        rows.append(Row(
            key=key,
            what=f"Feed paging: GET /api/user/:u/feed?count={PAGE}, {label}, user with {heavy:,} activities "
                 f"(OAuth 1.0a, {repeat} requests per run)",
            result=stats.seconds(stats.median(mine)),
            reference=f"user with {light:,} activities: {stats.seconds(stats.median(theirs))}",
            ratio=stats.ratio(ratio),
            goal=f"≤ {GOAL}",
            verdict=verdict(ratio <= GOAL),
        ))
    note = (f"Feed paging: counting a user's activities (`SELECT count(*) FROM activities WHERE actor = ?`, "
            f"what a collection's totalItems needs) takes {stats.seconds(counts[HEAVY])} at {heavy:,} "
            f"activities and {stats.seconds(counts[LIGHT])} at {light:,}.")
    return Outcome(rows=rows, notes=[note])


def run(settings: Settings) -> Outcome:
    if not feed_is_built():
        return Outcome(rows=[not_built("8", f"Feed paging: {PAGE}-item pages at 100,000 vs 1,000 activities (pump.io)",
                                       "gateways/pumpio/feed.py has no routes yet")])
    return asyncio.run(measure(settings))
