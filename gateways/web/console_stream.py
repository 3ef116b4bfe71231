"""`/console/events`: the log's events as they are appended, as server-sent events for the console page."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from aiohttp import web

from core.log import EventLog, LogUnavailable, Record
from core.tasks import stop
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.web.console_access import admin
from gateways.web.console_events import event_row

# A comment this often lets a proxy (and the server) notice a reader that went away.
KEEP_ALIVE = 15.0
# What a browser waits before connecting again, in milliseconds; it then sends Last-Event-ID.
RETRY_MS = 2000
# Events read ahead of a slow reader; the reader then holds the log's reading back, not memory.
AHEAD = 256


class Closing(msgspec.Struct, frozen=True):
    """Set as the server shuts down, so open streams end at once rather than hold the shutdown up."""

    event: asyncio.Event


CLOSING = web.AppKey("console_closing", Closing)


def _after(request: web.Request, head: int) -> int:
    """The last sequence the reader has: Last-Event-ID on a reconnect, `after` from the page, else the head."""
    given = request.headers.get("Last-Event-ID") or request.query.get("after")
    if given is None:
        return head
    if not given.isascii() or not given.isdigit() or len(given) > 19:
        raise Refusal(400, "after must be a stream sequence: a whole number")
    return int(given)


async def _pump(events: EventLog, start: int, queue: asyncio.Queue[Record]) -> None:
    async for record in events.read(start, follow=True):
        await queue.put(record)


def _frame(record: Record) -> bytes:
    return b"id: %d\nevent: logged\ndata: %s\n\n" % (record.seq, msgspec.json.encode(event_row(record)))


async def stream(request: web.Request) -> web.StreamResponse:
    await admin(request)
    services = request.app[SERVICES]
    start = _after(request, await services.events.last_seq()) + 1
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=AHEAD)
    pump = asyncio.create_task(_pump(services.events, start, queue))
    closing = asyncio.create_task(request.app[CLOSING].event.wait())
    try:
        await response.write(b"retry: %d\n\n" % RETRY_MS)
        while True:
            take = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({take, pump, closing}, timeout=KEEP_ALIVE,
                                         return_when=asyncio.FIRST_COMPLETED)
            if take not in done:
                await stop(take)
                if pump in done or closing in done:
                    # The log went away or the server is stopping: the browser connects again by itself.
                    break
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(_frame(take.result()))
    except (ConnectionResetError, LogUnavailable):
        pass
    finally:
        await stop(pump)
        await stop(closing)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app[CLOSING] = Closing(asyncio.Event())

    async def close_streams(app: web.Application) -> None:
        app[CLOSING].event.set()

    app.on_shutdown.append(close_streams)
    app.router.add_get("/console/events", stream)
