"""Client applications: `POST /api/v1/apps` registers one, `GET /api/v1/apps/verify_credentials` names a token's.

The client secret is handed out once and only its hash is recorded; the token endpoint compares hashes.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from core.events import AppRegistered
from core.ids import new_media_id, new_token, token_hash
from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.principal import TOKEN_INVALID, grant, once_caught_up
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.mastodon import scopes as scope_names
from store.queries.apps import app_by_client_id

OOB = "urn:ietf:wg:oauth:2.0:oob"
# Caps that keep every app.registered event far below the broker's payload limit.
MAX_NAME = 200
MAX_WEBSITE = 2000
MAX_URI = 2000
MAX_URIS = 10
BODY = FormCaps(max_bytes=32 * 1024, max_fields=16, max_name=32, max_value=24 * 1024)

NAME_BLANK = "Validation failed: Name can't be blank"
NAME_LONG = f"Validation failed: Name is too long (maximum is {MAX_NAME} characters)"
WEBSITE_LONG = f"Validation failed: Website is too long (maximum is {MAX_WEBSITE} characters)"
WEBSITE_BAD = "Validation failed: Website is invalid"
URI_BLANK = "Validation failed: Redirect URI can't be blank"
URI_BAD = "Validation failed: Redirect URI must be an absolute URI."
URI_MANY = f"Validation failed: Redirect URI can name at most {MAX_URIS} URIs"
SCOPES_BAD = "Validation failed: Scopes must be known scopes"


class AppBody(msgspec.Struct, frozen=True):
    client_name: str = ""
    redirect_uris: str | list[str] = ""
    scopes: str = ""
    website: str | None = None


DECODER = msgspec.json.Decoder(AppBody)


class App(msgspec.Struct, frozen=True):
    app_id: str
    client_id: str
    secret_hash: str
    name: str
    website: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]


def from_row(row: Any) -> App:
    return App(app_id=row["app_id"], client_id=row["client_id"], secret_hash=row["secret_hash"], name=row["name"],
               website=row["website"], redirect_uris=tuple(row["redirect_uris"].split("\n")) if row["redirect_uris"]
               else (), scopes=tuple(row["scopes"].split()))


def secret_matches(app: App | None, secret: str) -> bool:
    """Whether `secret` is the app's: hashes compared in constant time."""
    if app is None or not secret:
        return False
    return hmac.compare_digest(token_hash(secret).encode(), app.secret_hash.encode())


async def find_app(request: web.Request, client_id: str) -> App | None:
    """The app, waiting briefly for the projection when it may have been registered a moment ago."""
    if not client_id or len(client_id) > 128 or not client_id.isascii():
        return None
    projection = request.app[SERVICES].projection
    row = await once_caught_up(request.app, lambda: app_by_client_id(projection, client_id))
    return None if row is None else from_row(row)


def entity(app: App, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": app.app_id, "name": app.name, "website": app.website or None, "scopes": list(app.scopes),
        "redirect_uri": "\n".join(app.redirect_uris), "redirect_uris": list(app.redirect_uris),
    }
    if secret is not None:
        body.update(client_id=app.client_id, client_secret=secret, client_secret_expires_at=0)
    return body


async def _body(request: web.Request) -> AppBody:
    if request.content_type == "application/json":
        return await bodies.read_json(request, DECODER, limit=BODY.max_bytes)
    form = await bodies.read_form(request, BODY)
    return AppBody(client_name=form.get("client_name", ""),
                   redirect_uris=form.get("redirect_uris", "") or form.get("redirect_uris[]", ""),
                   scopes=form.get("scopes", ""), website=form.get("website"))


def _absolute(uri: str) -> bool:
    if uri == OOB:
        return True
    parts = urlsplit(uri)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and uri.isprintable()


def redirect_uris(value: str | list[str]) -> tuple[str, ...]:
    listed = value.split() if isinstance(value, str) else [u.strip() for u in value]
    uris = tuple(dict.fromkeys(u for u in listed if u))
    if not uris:
        raise Refusal(422, URI_BLANK)
    if len(uris) > MAX_URIS:
        raise Refusal(422, URI_MANY)
    if any(len(u) > MAX_URI or not _absolute(u) for u in uris):
        raise Refusal(422, URI_BAD)
    return uris


def validated(body: AppBody) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    name = body.client_name.strip()
    if not name:
        raise Refusal(422, NAME_BLANK)
    if len(name) > MAX_NAME:
        raise Refusal(422, NAME_LONG)
    website = (body.website or "").strip()
    if len(website) > MAX_WEBSITE:
        raise Refusal(422, WEBSITE_LONG)
    if website and urlsplit(website).scheme not in ("http", "https"):
        raise Refusal(422, WEBSITE_BAD)
    uris = redirect_uris(body.redirect_uris)
    granted = scope_names.parse(body.scopes) or scope_names.DEFAULT
    if scope_names.unknown(granted):
        raise Refusal(422, SCOPES_BAD)
    return name, website, uris, granted


async def create_app(request: web.Request) -> web.StreamResponse:
    name, website, uris, granted = validated(await _body(request))
    client_id, secret = new_token(), new_token()
    event = AppRegistered(at=time.time(), app_id=new_media_id(), client_id=client_id, secret_hash=token_hash(secret),
                          name=name, website=website, redirect_uris=uris, scopes=granted)
    await append(request, event, msg_id=f"app.{client_id}")
    app = App(app_id=event.app_id, client_id=client_id, secret_hash=event.secret_hash, name=name, website=website,
              redirect_uris=uris, scopes=granted)
    return web.json_response(entity(app, secret))


async def verify_app(request: web.Request) -> web.StreamResponse:
    """The app a token (a user's or the app's own) was issued to."""
    found = await grant(request)
    if found is None:
        raise Refusal(401, TOKEN_INVALID)
    app = await find_app(request, found.client_id)
    if app is None:
        # A token the operator made with `mediaplex token create` belongs to no registered app.
        return web.json_response({"id": "0", "name": "mediaplex", "website": None,
                                  "scopes": list(found.scopes), "redirect_uri": "", "redirect_uris": []})
    return web.json_response(entity(app))


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/apps", create_app),
        web.get("/api/v1/apps/verify_credentials", verify_app),
    ]
