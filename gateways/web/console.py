"""`/console`: the operator's view of the pipeline, and the buttons that send failed media round again.

Processing queues come from JetStream's consumers, failures and checkpoints from the read model, events
from the log, storage from the directories the files live in. Reprocessing appends the very request
`mediaplex reprocess` appends (core/reprocess.py).
"""

from __future__ import annotations

import asyncio
import sqlite3

import msgspec
from aiohttp import web

from core.reprocess import MediaState, request_reprocess
from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.principal import caught_up
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES, Services
from gateways.web import console_stream
from gateways.web.console_access import admin, admin_form
from gateways.web.console_events import last_events, utc
from gateways.web.console_queue import backlogs
from gateways.web.session import see_other
from gateways.web.templating import page
from store.queries.failures import all_failed, failed_count, failed_media, failure
from store.rebuilds import rebuilds
from store.usage import Usage, usage

FORM = FormCaps(max_bytes=4 * 1024, max_fields=4, max_name=32, max_value=256)
# Failures listed on the page; "reprocess all" takes every one, listed or not.
SHOWN_FAILURES = 100
NOT_FAILED = "That media has not failed, or is gone"


class Lag(msgspec.Struct, frozen=True):
    name: str
    applied: int
    head: int

    @property
    def behind(self) -> int:
        """What this server's projection has still to fold."""
        return max(0, self.head - self.applied)

    @property
    def percent(self) -> int:
        """How much of the log is folded, for a rebuild's progress."""
        return min(100, self.applied * 100 // self.head) if self.head else 100


class Failed(msgspec.Struct, frozen=True):
    media_id: str
    owner_id: str
    filename: str
    kind: str
    reason: str
    # UTC, to the second.
    failed_at: str


def _failed(row: sqlite3.Row) -> Failed:
    return Failed(row["media_id"], row["owner_id"], row["filename"] or "", row["kind"] or "image",
                  row["failure"] or "", utc(row["updated_at"]))


class Storage(msgspec.Struct, frozen=True):
    name: str
    usage: Usage


def _storage(services: Services) -> list[Storage]:
    config = services.config
    return [Storage(name, usage(path)) for name, path in
            (("Blobs", config.blobs), ("Renditions", config.renditions), ("Variants", config.variants))]


async def show(request: web.Request) -> web.StreamResponse:
    await admin(request)
    services = request.app[SERVICES]
    head = await services.events.last_seq()
    projection = services.projection
    live = Lag(projection.path.name, projection.applied, head)
    building = await asyncio.to_thread(rebuilds, services.config.projection_dir)
    return await page(request, "console.html", {
        "requested": _requested(request),
        "backlogs": await backlogs(services.events),
        "failures": [_failed(row) for row in await failed_media(projection, SHOWN_FAILURES)],
        "failures_total": await failed_count(projection),
        "live": live,
        "rebuilds": [Lag(rebuild.name, rebuild.applied, head) for rebuild in building],
        "events": await last_events(services.events, head),
        "head": head,
        "storage": await asyncio.to_thread(_storage, services),
    })


def _requested(request: web.Request) -> int | None:
    """How many reprocessing requests the form before this page made, when it says so."""
    given = request.query.get("requested", "")
    return int(given) if given.isascii() and given.isdigit() and len(given) < 10 else None


async def _ask(services: Services, media_id: str, blob: str, kind: str) -> None:
    await request_reprocess(services.events, media_id, MediaState(blob, failed=True, kind=kind))


async def reprocess_one(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    await admin_form(request, form)
    services = request.app[SERVICES]
    row = await failure(services.projection, form.get("media_id", ""))
    if row is None:
        raise Refusal(404, NOT_FAILED)
    await _ask(services, row["media_id"], row["blob"], row["kind"])
    # The page after shows the media as processing again, not as still failed.
    await caught_up(services.events, services.projection)
    return see_other("/console?requested=1#failures")


async def reprocess_all(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    await admin_form(request, form)
    services = request.app[SERVICES]
    rows = await all_failed(services.projection)
    for row in rows:
        await _ask(services, row["media_id"], row["blob"], row["kind"])
    await caught_up(services.events, services.projection)
    return see_other(f"/console?requested={len(rows)}#failures")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", show)
    app.router.add_post("/console/reprocess", reprocess_one)
    app.router.add_post("/console/reprocess-failed", reprocess_all)
    console_stream.add_routes(app)
