"""Appending one event and answering only once the local projection shows it (read-your-writes)."""

from __future__ import annotations

from aiohttp import web

from core.events import AnyEvent
from core.log import LogUnavailable
from gateways import keys
from gateways.apierrors import ApiError
from gateways.posts import errors

WAIT = 10.0


async def append(request: web.Request, event: AnyEvent, *, msg_id: str) -> None:
    app = request.app
    try:
        seq = await app[keys.EVENTS].append(event, msg_id=msg_id)
    except LogUnavailable:
        raise ApiError(503, errors.UNAVAILABLE,
                       "The media service is temporarily unavailable, try again in a moment") from None
    if not await app[keys.PROJECTION].wait_for(seq, timeout=WAIT):
        raise ApiError(503, errors.UNAVAILABLE, "The change was recorded but is not readable yet; "
                                                "try again in a moment")
