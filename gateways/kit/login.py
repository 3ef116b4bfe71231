"""One login session for every authorize page (pump.io's OAuth 1.0a and OAuth 2.0) and the web gallery: a signed
cookie and a CSRF token.

The cookie holds a random session id, the user signed in ("" before), and when it ends, signed with an
HMAC key every replica shares (generated once and kept in a key-value bucket). The approve form carries a
CSRF token derived from the session id, so only a page this server showed in that browser can post it.
Signing in once lets later approvals skip the password, unless the client asks for `force_login`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from html import escape
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from core.ids import check_password
from core.log import LogUnavailable
from gateways.kit.catchup import once_caught_up
from gateways.kit.keyvalue import shared_secret
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from store.queries.users import user_by_id

COOKIE = "mediaplex_login"
BUCKET = "login_secret"
KEY = "login-cookie-hmac"
# How long a sign-in is remembered.
SESSION_TTL = 7 * 24 * 3600.0
CSRF_FIELD = "csrf_token"

BAD_CSRF = "The form's CSRF token is missing or wrong: open the authorize page again"
WRONG_LOGIN = "Wrong username or password"
UNAVAILABLE = "The sign-in service is temporarily unavailable, try again in a moment"


class Session(msgspec.Struct, frozen=True, array_like=True):
    sid: str
    user_id: str
    expires: float


class Login:
    """The login state of one request: its verified session (or a fresh one) and the key that signs it."""

    def __init__(self, key: bytes, session: Session | None) -> None:
        self._key = key
        self.fresh = session is None
        self.session = session or Session(secrets.token_urlsafe(18), "", time.time() + SESSION_TTL)

    @classmethod
    async def of(cls, request: web.Request) -> Login:
        key = await _shared_key(request)
        return cls(key, _verify(key, request.cookies.get(COOKIE, "")))

    @property
    def csrf(self) -> str:
        return hmac.new(self._key, b"csrf:" + self.session.sid.encode(), hashlib.sha256).hexdigest()

    def signed_in(self) -> str:
        return self.session.user_id

    def csrf_matches(self, sent: str) -> bool:
        """Whether `sent` is this session's token: a fresh session means the cookie never came back."""
        return not self.fresh and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def check_csrf(self, form: Mapping[str, str]) -> None:
        """403 unless the form carries this session's token."""
        if not self.csrf_matches(form.get(CSRF_FIELD, "")):
            raise Refusal(403, BAD_CSRF)

    def remember(self, response: web.StreamResponse, request: web.Request, user_id: str | None = None) -> None:
        """Sets the cookie on `response`: the same session, now signed in as `user_id` when given."""
        if user_id is not None:
            # A new id on signing in: a session id planted in the browser beforehand learns nothing.
            self.session = Session(secrets.token_urlsafe(18), user_id, time.time() + SESSION_TTL)
        value = _sign(self._key, self.session)
        base = urlsplit(request.app[SERVICES].config.base_url)
        # The whole site: the web gallery's pages share the sign-in of the authorize pages.
        response.set_cookie(COOKIE, value, path=base.path.rstrip("/") + "/", httponly=True, samesite="Lax",
                            secure=base.scheme == "https", max_age=int(SESSION_TTL))

    async def sign_in(self, request: web.Request, form: Mapping[str, str], *, force: bool = False) -> str | None:
        """The user this form signs in as: checks the CSRF token, then the password given, else the session's
        user (unless `force`). None for a wrong name or password."""
        self.check_csrf(form)
        username, password = form.get("username", ""), form.get("password", "")
        if not username and not force and self.session.user_id:
            return self.session.user_id
        return await check_login(request, username, password)


async def check_login(request: web.Request, username: str, password: str) -> str | None:
    """The user id when the password is theirs. `name@host` names the user `name`, as clients that ask for an
    email address send it."""
    name = username.rpartition("@")[0] if "@" in username else username
    if not name or not password:
        return None
    projection = request.app[SERVICES].projection
    # A user added a moment ago (another replica, the CLI) may not be folded here yet.
    user = await once_caught_up(request.app, lambda: user_by_id(projection, name))
    if user is None:
        return None
    # scrypt is deliberately slow: keep it off the event loop.
    if not await asyncio.to_thread(check_password, password, user["password_hash"]):
        return None
    return str(user["user_id"])


def _sign(key: bytes, session: Session) -> str:
    payload = base64.urlsafe_b64encode(msgspec.json.encode(session)).decode().rstrip("=")
    mac = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def _verify(key: bytes, value: str) -> Session | None:
    payload, _, mac = value.partition(".")
    if not payload or len(value) > 1024:
        return None
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    try:
        session = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)), type=Session)
    except (ValueError, msgspec.DecodeError):
        return None
    return session if session.expires > time.time() else None


async def _shared_key(request: web.Request) -> bytes:
    # Every replica must verify cookies another one signed; replicas racing to create the key agree on the winner's.
    try:
        return await shared_secret(request.app[SERVICES].buckets, BUCKET, KEY)
    except LogUnavailable as exc:
        raise Refusal(503, UNAVAILABLE) from exc


# ---- the pages --------------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }}
label {{ display: block; margin: 0.8rem 0 0.2rem; }}
input[type=text], input[type=password] {{ width: 100%; padding: 0.4rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: 0.5rem 1.2rem; }}
.error {{ color: #a00; }}
#verifier, #code {{ font-size: 1.4rem; user-select: all; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def login_page(action: str, client_name: str, fields: Mapping[str, str], *, csrf: str, asks: str,
               signed_in: str = "", error: str = "") -> str:
    """Logging in and approving are one step: the form posts the flow's fields, the credentials and the approval.

    `signed_in`: the session's user, who approves without typing the password again.
    """
    notice = f'<p class="error" id="error">{escape(error)}</p>\n' if error else ""
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">\n' for k, v in fields.items())
    if signed_in:
        credentials = f'<p id="signed-in">Signed in as <strong>{escape(signed_in)}</strong>.</p>\n'
    else:
        credentials = (
            '<label for="username">Username</label>\n'
            '<input type="text" id="username" name="username" autocomplete="username" required autofocus>\n'
            '<label for="password">Password</label>\n'
            '<input type="password" id="password" name="password" autocomplete="current-password" required>\n'
        )
    body = (
        f"<h1>Authorize {escape(client_name)}</h1>\n"
        f"<p><strong>{escape(client_name)}</strong> asks to act on your behalf: {escape(asks)}.</p>\n"
        f"{notice}"
        f'<form method="post" action="{escape(action)}">\n'
        f"{hidden}"
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">\n'
        f"{credentials}"
        '<button type="submit" name="approve" value="1">Approve</button>\n'
        "</form>"
    )
    return _PAGE.format(title="Authorize an application", body=body)


def code_page(code: str, *, element: str = "code", what: str = "code") -> str:
    """The out-of-band answer: a code (or verifier) for the user to copy into the application."""
    body = (
        "<h1>Application authorized</h1>\n"
        f"<p>Copy this {escape(what)} into the application:</p>\n"
        f'<p><code id="{escape(element)}">{escape(code)}</code></p>'
    )
    return _PAGE.format(title="Application authorized", body=body)


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
