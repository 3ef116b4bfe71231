"""Who is calling with a bearer token: one resolver for every gateway that takes Mastodon-style tokens.

Tokens are looked up by hash in the local projection. A request with an unknown token waits briefly for
the projection to reach the head of the log, so a token created a moment ago (by `mediaplex token
create`, or through another replica) works at once.

The site's own pages call the same endpoints without a token: the login cookie counts, but only together
with an `X-CSRF-Token` header equal to that login's CSRF token. A page on another site can make a browser
send the cookie, never that header (it cannot read the token, and a custom header on a cross-origin
request needs a CORS preflight nobody here answers), so the cookie alone never acts.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from core.ids import token_hash

# Re-exported for the gateways that import them from here.
from gateways.kit.catchup import caught_up as caught_up
from gateways.kit.catchup import once_caught_up as once_caught_up
from gateways.kit.grants import Grant
from gateways.kit.login import Login
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.tokens import bearer_token

TOKEN_INVALID = "The access token is invalid"
OUT_OF_SCOPE = "This action is outside the authorized scopes"
# Kit codes; a gateway's error style may rename them (the presigned API says unauthorized/forbidden).
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
# Mastodon's words for an app's own token on an endpoint that acts for a user.
USER_REQUIRED = "This method requires an authenticated user"
USER_REQUIRED_CODE = "user_required"

CSRF_HEADER = "X-CSRF-Token"
# What a signed-in visitor of the site's pages may do there: anything they could with a token of their own.
SITE_SCOPES = frozenset({"read", "write"})


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    scopes: frozenset[str]
    # The app the user signed in to; "" for a token the operator made, or for the site's own pages.
    client_id: str = ""
    # Signed in on the site's own pages (the login cookie and its CSRF token), not an app holding a token:
    # what the operator allows apps (presigned video, say) need not bind the site itself.
    site_login: bool = False

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


# The token of a request is looked up once, however many of its steps (rate limits, the handler) ask.
GRANT: web.RequestKey[Grant | None] = web.RequestKey("bearer_grant")


async def grant(request: web.Request) -> Grant | None:
    """The issued token the request carries; None without a token or with one nobody issued."""
    if GRANT in request:
        return request[GRANT]
    found = await _lookup(request)
    request[GRANT] = found
    return found


async def resolve(request: web.Request) -> Principal | None:
    """The user behind the request's token, else behind its login cookie and CSRF header; None without
    either, with a token nobody issued, or with an app's own token.

    A token wins when both came: whatever it says (unknown, an app's own) is the answer, so a page's cookie
    never turns a refused token into a user.
    """
    if bearer(request) is None:
        return await _site_login(request)
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


async def _site_login(request: web.Request) -> Principal | None:
    sent = request.headers.get(CSRF_HEADER)
    # Without the header the cookie is not even read: it must never act on its own. The token is hex, so
    # anything else (a header read as Latin-1, say) cannot match.
    if not sent or not sent.isascii():
        return None
    login = await Login.of(request)
    user_id = login.signed_in()
    if not user_id or not login.csrf_matches(sent):
        return None
    return Principal(user_id=user_id, scopes=SITE_SCOPES, site_login=True)


async def _lookup(request: web.Request) -> Grant | None:
    token = bearer(request)
    # Tokens are issued in URL-safe ASCII; anything else (a header read as Latin-1, say) names no token.
    if token is None or not token.isascii():
        return None
    services = request.app[SERVICES]
    hashed = token_hash(token)
    grants = services.grants
    if grants is not None and (kept := grants.get(hashed)) is not None:
        return kept
    since = grants.since if grants is not None else 0
    projection = services.projection
    # The first miss may have raced the very event that issued this token.
    row = await once_caught_up(request.app, lambda: bearer_token(projection, hashed))
    if row is None:
        return None
    found = Grant(token_hash=hashed, user_id=row["user_id"], scopes=tuple(row["scopes"].split()),
                  client_id=row["client_id"] or "", cli=bool(row["cli"]))
    if grants is not None:
        grants.keep(hashed, found, since=since)
    return found
