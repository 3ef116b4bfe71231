"""Waiting for the local projection to reach the head of the log, so a lookup that missed can look again.

A row written a moment ago (through another replica, or the CLI) may not be folded here yet; these tell
a missing row from one still on its way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from core.log import EventLog, LogUnavailable
from gateways.kit.services import SERVICES
from store.reader import ProjectionReader

T = TypeVar("T")

# How long a miss waits for the projection to catch up with the log before it counts as unknown.
CATCH_UP = 3.0


async def caught_up(events: EventLog, projection: ProjectionReader, timeout: float = CATCH_UP) -> bool:
    """Waits until the projection holds everything the log had a moment ago; False when it did not in time.

    Raises LogUnavailable when the log does not say where its head is in time: without the head nobody
    can tell a missing row from one not folded yet, so the caller answers 503 rather than "not found".
    """
    try:
        async with asyncio.timeout(timeout):
            head = await events.last_seq()
    except TimeoutError as exc:
        raise LogUnavailable("the log did not say where its head is") from exc
    return await projection.wait_for(head, timeout)


async def once_caught_up(app: web.Application, lookup: Callable[[], Awaitable[T | None]]) -> T | None:
    """`lookup`, and again once the projection reached the head of the log when it found nothing: what it
    looks for may have been written a moment ago, through another replica or the CLI."""
    found = await lookup()
    if found is None:
        services = app[SERVICES]
        if await caught_up(services.events, services.projection):
            found = await lookup()
    return found
