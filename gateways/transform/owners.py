"""Who may fetch the files of a pump.io upload nothing has posted yet: its owner, and nobody else.

On pump.io an upload is private until a `post` activity shares it (pump.io serves its file to the author
and to the post's recipients only). Here anyone else is answered as if the files did not exist, whatever
they send. The owner signs the file request like any other pump.io call: in the Authorization header, or
in the query (`oauth_*` parameters), which makes a URL a browser can open once, the nonce being spent on
the first use. In the gallery the owner's browser sends the site's login cookie instead; the cookie is
`SameSite=Lax`, so another site's `<img>` never carries it.
"""

from __future__ import annotations

from aiohttp import web

from gateways.kit.login import COOKIE, Login
from gateways.kit.refusal import Refusal
from gateways.pumpio.oauth import authenticate
from gateways.transform.source import Shown

UNAVAILABLE = 503


def _signed(request: web.Request) -> bool:
    return (request.headers.get("Authorization", "")[:6].lower() == "oauth "
            or any(name.startswith("oauth_") for name in request.query))


async def may_fetch(request: web.Request, found: Shown) -> bool:
    """Whether the request may have the files of a blob `shown` found."""
    if found.owners is None:
        return True
    if not _signed(request):
        return await _signed_in_owner(request, found.owners)
    try:
        principal = await authenticate(request)
    except Refusal as refusal:
        if refusal.status == UNAVAILABLE:
            # The nonces are out of reach: the owner should try again rather than be told there is nothing.
            raise
        return False
    return principal.user_id in found.owners


async def _signed_in_owner(request: web.Request, owners: frozenset[str]) -> bool:
    if COOKIE not in request.cookies:
        return False
    return (await Login.of(request)).signed_in() in owners
