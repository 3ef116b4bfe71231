"""Append one event, then answer only once the local projection shows it (read-your-writes)."""

from __future__ import annotations

from aiohttp import web

from core.events import AnyEvent
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES

WAIT = 10.0
NOT_READABLE = "The change was recorded but is not readable yet; try again in a moment"


async def append(request: web.Request, event: AnyEvent, *, msg_id: str, expected_last: int | None = None,
                 expected_on: str | None = None) -> int:
    """The event's stream sequence, once this replica's projection has applied it.

    LogUnavailable passes through to the error boundary (the protocol's 503); a projection that does not
    catch up in time is a 503 too, saying the change is in the log.
    """
    app = request.app
    seq = await app[SERVICES].events.append(event, msg_id=msg_id, expected_last=expected_last, expected_on=expected_on)
    if not await app[SERVICES].projection.wait_for(seq, timeout=WAIT):
        raise Refusal(503, NOT_READABLE, code="unavailable")
    return seq
