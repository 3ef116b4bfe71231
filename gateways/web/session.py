"""Who is looking at a page: the login session every authorize page shares, read once per request."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlsplit

import msgspec
from aiohttp import web

from gateways.kit.login import Login
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.users import is_admin

LOGIN: web.RequestKey[Login] = web.RequestKey("web_login")
SIGN_IN_FIRST = "Sign in first"


class Viewer(msgspec.Struct, frozen=True):
    # "" when nobody is signed in.
    user_id: str
    csrf: str
    # Whether the pages show them the way to the operator console.
    admin: bool = False


async def login(request: web.Request) -> Login:
    """The request's login session, read once: a page and its forms must agree on one session's CSRF token."""
    if LOGIN not in request:
        request[LOGIN] = await Login.of(request)
    return request[LOGIN]


async def viewer(request: web.Request) -> Viewer:
    """The signed-in user (or nobody) and the CSRF token this page's forms carry."""
    found = await login(request)
    user_id = found.signed_in()
    admin = bool(user_id) and await is_admin(request.app[SERVICES].projection, user_id)
    return Viewer(user_id, found.csrf, admin)


async def signed_in(request: web.Request) -> Viewer:
    """The viewer, when someone is signed in; otherwise a redirect to the login page that comes back here."""
    found = await viewer(request)
    if not found.user_id:
        raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe=""))
    return found


async def checked_form(request: web.Request, form: Mapping[str, str]) -> Viewer:
    """The signed-in user posting a form this server showed them: 403 for a missing or wrong CSRF token."""
    found = await login(request)
    found.check_csrf(form)
    if not found.signed_in():
        raise Refusal(401, SIGN_IN_FIRST)
    return Viewer(found.signed_in(), found.csrf)


def see_other(target: str) -> web.Response:
    """After a form: the browser goes to `target` with a GET, so reloading does not post again."""
    return web.Response(status=303, headers={"Location": target})


def local(target: str, default: str = "/") -> str:
    """`target` when it is a path on this site; a login form's `next` must not send anyone elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
