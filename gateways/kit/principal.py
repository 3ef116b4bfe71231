"""Who is calling with a bearer token: one resolver for every gateway that takes Mastodon-style tokens.

Tokens are looked up by hash in the local projection. A request with an unknown token waits briefly for
the projection to reach the head of the log, so a token created a moment ago (by `mediaplex token
create`, or through another replica) works at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from aiohttp import web

from core.ids import token_hash
from core.log import EventLog, LogUnavailable
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.tokens import bearer_token
from store.reader import ProjectionReader

T = TypeVar("T")

# How long a miss waits for the projection to catch up with the log before it counts as unknown.
CATCH_UP = 3.0

TOKEN_INVALID = "The access token is invalid"
OUT_OF_SCOPE = "This action is outside the authorized scopes"
# Kit codes; a gateway's error style may rename them (the presigned API says unauthorized/forbidden).
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
# Mastodon's words for an app's own token on an endpoint that acts for a user.
USER_REQUIRED = "This method requires an authenticated user"
USER_REQUIRED_CODE = "user_required"


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    scopes: frozenset[str]
    # The app the user signed in to; "" for a token the operator made.
    client_id: str = ""

    def allows(self, *wanted: str) -> bool:
        # "write" grants every "write:*"; "read" every "read:*".
        return any(w in self.scopes or w.split(":")[0] in self.scopes for w in wanted)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Mastodon also takes the token as a parameter, which some clients use for media URLs.
    return request.query.get("access_token") or None


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


class Grant(msgspec.Struct, frozen=True):
    """An issued bearer token, as the read model holds it."""

    token_hash: str
    # "" for an app's own token (client credentials), which acts for no user.
    user_id: str
    # As issued, in order.
    scopes: tuple[str, ...]
    client_id: str
    # Made by `mediaplex token create`.
    cli: bool


# The token of a request is looked up once, however many of its steps (rate limits, the handler) ask.
GRANT: web.RequestKey[Grant | None] = web.RequestKey("bearer_grant")


async def grant(request: web.Request) -> Grant | None:
    """The issued token the request carries; None without a token or with one nobody issued."""
    if GRANT in request:
        return request[GRANT]
    found = await _lookup(request)
    request[GRANT] = found
    return found


async def once_caught_up(app: web.Application, lookup: Callable[[], Awaitable[T | None]]) -> T | None:
    """`lookup`, and again once the projection reached the head of the log when it found nothing: what it
    looks for may have been written a moment ago, through another replica or the CLI."""
    found = await lookup()
    if found is None:
        services = app[SERVICES]
        if await caught_up(services.events, services.projection):
            found = await lookup()
    return found


async def resolve(request: web.Request) -> Principal | None:
    """The user behind the request's token; None without a token, with one nobody issued, or an app's own."""
    found = await grant(request)
    if found is None or not found.user_id:
        return None
    return Principal(user_id=found.user_id, scopes=frozenset(found.scopes), client_id=found.client_id)


async def require(request: web.Request, *scopes: str) -> Principal:
    """The caller when the token grants one of `scopes`: 401 without a known token, 403 without the scope."""
    found = await resolve(request)
    if found is None:
        if await grant(request) is not None:
            # An app's own token on an endpoint that acts for a user.
            raise Refusal(422, USER_REQUIRED, code=USER_REQUIRED_CODE)
        raise Refusal(401, TOKEN_INVALID, code=INVALID_TOKEN)
    if not found.allows(*scopes):
        raise Refusal(403, OUT_OF_SCOPE, code=INSUFFICIENT_SCOPE)
    return found


async def _lookup(request: web.Request) -> Grant | None:
    token = bearer(request)
    # Tokens are issued in URL-safe ASCII; anything else (a header read as Latin-1, say) names no token.
    if token is None or not token.isascii():
        return None
    projection = request.app[SERVICES].projection
    hashed = token_hash(token)
    # The first miss may have raced the very event that issued this token.
    row = await once_caught_up(request.app, lambda: bearer_token(projection, hashed))
    if row is None:
        return None
    return Grant(token_hash=hashed, user_id=row["user_id"], scopes=tuple(row["scopes"].split()),
                 client_id=row["client_id"] or "", cli=bool(row["cli"]))
