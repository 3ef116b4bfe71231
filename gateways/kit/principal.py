"""Who is calling with a bearer token: one resolver for every gateway that takes Mastodon-style tokens.

Tokens are looked up by hash in the local projection. A request with an unknown token waits briefly for
the projection to reach the head of the log, so a token created a moment ago (by `mediaplex token
create`, or through another replica) works at once.
"""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from core.ids import token_hash
from core.log import EventLog
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.tokens import bearer_token
from store.reader import ProjectionReader

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
    """Waits until the projection holds everything the log had a moment ago; False when it did not in time."""
    async with asyncio.timeout(timeout):
        head = await events.last_seq()
    return await projection.wait_for(head, timeout)


async def resolve(request: web.Request) -> Principal | None:
    """The token's principal, or None without a token or with one nobody issued."""
    token = bearer(request)
    # Tokens are issued in URL-safe ASCII; anything else (a header read as Latin-1, say) names no token.
    if token is None or not token.isascii():
        return None
    app = request.app
    projection = app[SERVICES].projection
    hashed = token_hash(token)
    found = await _lookup(projection, hashed)
    # The first miss may have raced the very event that issued this token.
    if found is None and await caught_up(app[SERVICES].events, projection):
        found = await _lookup(projection, hashed)
    return found


async def require(request: web.Request, *scopes: str) -> Principal:
    """The caller when the token grants one of `scopes`: 401 without a known token, 403 without the scope."""
    found = await resolve(request)
    if found is None:
        if await _app_only(request):
            raise Refusal(422, USER_REQUIRED, code=USER_REQUIRED_CODE)
        raise Refusal(401, TOKEN_INVALID, code=INVALID_TOKEN)
    if not found.allows(*scopes):
        raise Refusal(403, OUT_OF_SCOPE, code=INSUFFICIENT_SCOPE)
    return found


async def _app_only(request: web.Request) -> bool:
    """Whether the token is an app's own (client credentials): known, but acting for no user."""
    token = bearer(request)
    if token is None or not token.isascii():
        return False
    row = await bearer_token(request.app[SERVICES].projection, token_hash(token))
    return row is not None and not row["user_id"]


async def _lookup(projection: ProjectionReader, hashed: str) -> Principal | None:
    row = await bearer_token(projection, hashed)
    # An app's own token (client credentials) acts for no user, so it passes no user's check.
    if row is None or not row["user_id"]:
        return None
    return Principal(user_id=row["user_id"], scopes=frozenset(row["scopes"].split()), client_id=row["client_id"] or "")
