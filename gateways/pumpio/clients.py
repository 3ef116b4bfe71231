"""Dynamic client registration: `POST /api/client/register`, client_associate and client_update.

Field names follow pump.io and MediaGoblin, plus the spellings PyPump sends (`logo_url`,
`redirect_uri`). client_update proves the client either with `client_id` and `client_secret` in the
body, as PyPump and pump.io do, or by signing the request as the OAuth consumer (two-legged).
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aiohttp import web
from oauthlib.common import generate_token

from core.events import ClientRegistered, ClientUpdated
from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.refusal import Refusal
from gateways.pumpio.oauth import find_client, record, signed_client

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
APPLICATION_TYPES = ("web", "native")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

UNKNOWN_CONTENT_TYPE = "Unknown Content-Type: send application/json or application/x-www-form-urlencoded"
BAD_JSON = "Could not decode the JSON body"
NO_TYPE = "No registration type provided"
BAD_TYPE = "Invalid registration type"
BAD_APPLICATION_TYPE = "Unknown application_type."
ID_ONLY_FOR_UPDATE = "Only set client_id for update."
SECRET_ONLY_FOR_UPDATE = "Only set client_secret for update."
UPDATE_NEEDS_CREDENTIALS = "client_update needs client_id and client_secret, or an OAuth signature"
UNAUTHORIZED = "Unauthorized"

# Caps that keep a ClientRegistered or ClientUpdated event far below the broker's payload limit
# (1 MiB by default): at most 2 names, 33 URIs and 16 addresses, some 75 KB in all.
TEXT_LIMIT = 256
URI_LIMIT = 2048
EMAIL_LIMIT = 254
MAX_ENTRIES = 16
BODY_LIMIT = 64 * 1024
FORM_LIMITS = FormCaps(max_bytes=BODY_LIMIT, max_fields=16, max_name=32, max_value=BODY_LIMIT)
FIELDS = msgspec.json.Decoder(dict[str, Any])


class Registration(msgspec.Struct, frozen=True):
    """What a registration request says, each field None when it was not sent."""

    application_type: str | None = None
    application_name: str | None = None
    logo_uri: str | None = None
    contacts: tuple[str, ...] | None = None
    redirect_uris: tuple[str, ...] | None = None


async def _fields(request: web.Request) -> dict[str, Any]:
    # keep: a client_update signed as the consumer has its form body read again for the signature.
    try:
        if request.content_type == JSON:
            return await bodies.read_json(request, FIELDS, limit=BODY_LIMIT, keep=True)
        if request.content_type == FORM:
            return await bodies.read_form(request, FORM_LIMITS, keep=True)
    except Refusal as exc:
        message = BAD_JSON if exc.message in (bodies.NOT_JSON, bodies.NOT_AN_OBJECT) else exc.message
        raise Refusal(exc.status, message) from None
    raise Refusal(400, UNKNOWN_CONTENT_TYPE)


def _capped(name: str, value: str, most: int) -> str:
    if len(value) > most:
        raise Refusal(400, f"{name} must be at most {most} characters.")
    return value


def _text(fields: dict[str, Any], *names: str, most: int = TEXT_LIMIT) -> str | None:
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Refusal(400, f"{name} must be a string")
        return _capped(name, value, most)
    return None


def _words(fields: dict[str, Any], *names: str, most: int, each: int) -> tuple[str, ...] | None:
    """A space-separated string or a list of strings, under the first of `names` present."""
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            words = tuple(value.split())
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            words = tuple(w for v in value for w in v.split())
        else:
            raise Refusal(400, f"{name} must be a space-separated string or a list of strings")
        if len(words) > most:
            raise Refusal(400, f"{name} may list at most {most} entries.")
        for word in words:
            _capped(name, word, each)
        return words
    return None


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_redirect(value: str) -> bool:
    # Native clients register custom schemes (myapp://callback) as well as web URLs.
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def _registration(fields: dict[str, Any]) -> Registration:
    application_type = _text(fields, "application_type")
    if application_type is not None and application_type not in APPLICATION_TYPES:
        raise Refusal(400, BAD_APPLICATION_TYPE)
    logo = _text(fields, "logo_uri", "logo_url", most=URI_LIMIT)
    if logo is not None and not _is_url(logo):
        raise Refusal(400, "Invalid logo_uri.")
    contacts = _words(fields, "contacts", most=MAX_ENTRIES, each=EMAIL_LIMIT)
    if contacts is not None and not all(EMAIL.fullmatch(c) for c in contacts):
        raise Refusal(400, "contacts must be space-separated email addresses.")
    redirects = _words(fields, "redirect_uris", "redirect_uri", most=MAX_ENTRIES, each=URI_LIMIT)
    if redirects is not None and not all(_is_redirect(r) for r in redirects):
        raise Refusal(400, "redirect_uris must be space-separated URLs.")
    return Registration(
        application_type=application_type,
        application_name=_text(fields, "application_name"),
        logo_uri=logo,
        contacts=contacts,
        redirect_uris=redirects,
    )


def _answer(client_id: str, secret: str) -> web.Response:
    return web.json_response({"client_id": client_id, "client_secret": secret, "expires_at": 0})


async def _associate(request: web.Request, fields: dict[str, Any]) -> web.Response:
    if "client_id" in fields:
        raise Refusal(400, ID_ONLY_FOR_UPDATE)
    if "client_secret" in fields:
        raise Refusal(400, SECRET_ONLY_FOR_UPDATE)
    wanted = _registration(fields)
    client_id, secret = generate_token(), generate_token(40)
    event = ClientRegistered(
        at=time.time(),
        client_id=client_id,
        client_secret=secret,
        application_type=wanted.application_type or "native",
        application_name=wanted.application_name or "",
        logo_uri=wanted.logo_uri or "",
        contacts=wanted.contacts or (),
        redirect_uris=wanted.redirect_uris or (),
    )
    await record(request, event, msg_id=f"{client_id}.registered")
    return _answer(client_id, secret)


async def _update(request: web.Request, fields: dict[str, Any]) -> web.Response:
    claimed = _text(fields, "client_id")
    given = _text(fields, "client_secret")
    if request.headers.get("Authorization", "")[:6].lower() == "oauth ":
        client_id = await signed_client(request)
        if claimed is not None and claimed != client_id:
            raise Refusal(403, UNAUTHORIZED)
    elif claimed and given:
        client_id = claimed
    else:
        raise Refusal(400, UPDATE_NEEDS_CREDENTIALS)
    client = await find_client(request, client_id)
    secret = str(client["client_secret"]) if client is not None else ""
    # An unknown client and a wrong secret look the same, so ids cannot be probed.
    if client is None or (given is not None and not hmac.compare_digest(secret.encode(), given.encode())):
        raise Refusal(403, UNAUTHORIZED)
    wanted = _registration(fields)
    event = ClientUpdated(at=time.time(), client_id=client_id, **msgspec.structs.asdict(wanted))
    await record(request, event, msg_id=f"{client_id}.updated.{time.time_ns()}")
    return _answer(client_id, secret)


async def register(request: web.Request) -> web.StreamResponse:
    fields = await _fields(request)
    kind = fields.get("type")
    if kind is None:
        raise Refusal(400, NO_TYPE)
    if kind == "client_associate":
        return await _associate(request, fields)
    if kind == "client_update":
        return await _update(request, fields)
    raise Refusal(400, BAD_TYPE)


def add_routes(app: web.Application) -> None:
    for path in ("/api/client/register", "/api/client/register/"):
        app.router.add_post(path, register)
