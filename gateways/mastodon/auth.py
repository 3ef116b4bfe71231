"""Bearer tokens, looked up by hash in the local projection."""

from __future__ import annotations

import msgspec
from aiohttp import web

from core.ids import token_hash
from core.log import EventLog
from store.reader import ProjectionReader

# How long a request with an unknown token waits for the projection to catch up with the log,
# so that a token created a moment ago by `mediaplex token create` works at once.
CATCH_UP = 3.0


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    scopes: frozenset[str]

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


async def authenticate(request: web.Request, events: EventLog, projection: ProjectionReader) -> Principal | None:
    token = bearer(request)
    if token is None:
        return None
    hashed = token_hash(token)
    principal = await _lookup(projection, hashed)
    if principal is None:
        # Look again once the projection holds everything the log had a moment ago; the first
        # miss may have raced the very event that issued this token.
        if await projection.wait_for(await events.last_seq(), CATCH_UP):
            principal = await _lookup(projection, hashed)
    return principal


async def _lookup(projection: ProjectionReader, hashed: str) -> Principal | None:
    row = await projection.one("SELECT user_id, scopes FROM tokens WHERE token_hash = ?", (hashed,))
    if row is None:
        return None
    return Principal(user_id=row["user_id"], scopes=frozenset(row["scopes"].split()))
