"""OAuth 2.0's token and revoke endpoints and the server metadata.

Issued and revoked tokens are events; only a token's hash is ever recorded.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlencode

import msgspec
from aiohttp import web
from oauthlib.oauth2 import OAuth2Error

from core.events import TokenIssued, TokenRevoked
from core.ids import token_hash
from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.keyvalue import WrongRevision
from gateways.kit.login import check_login
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.mastodon import scopes as scope_names
from gateways.mastodon.apps import App, find_app, secret_matches
from gateways.mastodon.oauth2_server import (
    Code,
    Endpoints,
    Loaded,
    Validator,
    codes,
    from_oauthlib,
    oauth_error,
    oauth_token_id,
    oauthlib_answer,
    public_uri,
)
from store.queries.tokens import token_grant

TOKEN_FORM = FormCaps(max_bytes=16 * 1024, max_fields=32, max_name=32, max_value=4096)


def _client_credentials(request: web.Request, form: Mapping[str, str]) -> tuple[str, str]:
    """client_id and client_secret from the form (client_secret_post) or HTTP Basic (client_secret_basic)."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except ValueError:
            return "", ""
        return user, password
    return form.get("client_id", ""), form.get("client_secret", "")


async def _token_form(request: web.Request) -> dict[str, str] | web.Response:
    """The form (or JSON object) of a token or revoke request; a body that cannot be read is RFC 6749's
    invalid_request, as every other refusal of these endpoints."""
    try:
        return await _read_token_form(request)
    except Refusal as exc:
        return oauth_error("invalid_request", exc.message, exc.status)


class ClientRequest(NamedTuple):
    """A token or revoke request: its fields, the client credentials it carries, and the app they name."""

    form: dict[str, str]
    client_id: str
    secret: str
    app: App | None

    def oauthlib_body(self) -> str:
        # oauthlib reads the client's credentials from the body: hand it the form with those we found.
        found = {"client_id": self.client_id, "client_secret": self.secret} if self.client_id else {}
        return urlencode({**self.form, **found})


OAUTHLIB_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


async def _client_request(request: web.Request) -> ClientRequest | web.Response:
    """What both endpoints read first; an unreadable body answers as RFC 6749's invalid_request."""
    form = await _token_form(request)
    if isinstance(form, web.Response):
        return form
    client_id, secret = _client_credentials(request, form)
    return ClientRequest(form=form, client_id=client_id, secret=secret, app=await find_app(request, client_id))


async def _read_token_form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        raw = await bodies.read_json(request, msgspec.json.Decoder(dict[str, str | int | bool | None]),
                                     limit=TOKEN_FORM.max_bytes)
        return {k: str(v) for k, v in raw.items() if v is not None}
    return await bodies.read_form(request, TOKEN_FORM)


# ---- the token endpoint -------------------------------------------------------------------------------------


async def token(request: web.Request) -> web.StreamResponse:
    asked = await _client_request(request)
    if isinstance(asked, web.Response):
        return asked
    form, _, secret, app = asked
    grant_type = form.get("grant_type", "")
    code: Code | None = None
    revision = 0
    key = ""
    if grant_type == "authorization_code" and form.get("code"):
        key = token_hash(form["code"])
        entry = await (await codes(request)).get(key)
        if entry is not None:
            code, revision = msgspec.json.decode(entry.value, type=Code), entry.revision
    user_id = None
    # The password is checked (slowly) only for an app that authenticated.
    if grant_type == "password" and secret_matches(app, secret):
        user_id = await check_login(request, form.get("username", ""), form.get("password", ""))
    validator = Validator(Loaded(app=app, secret=secret, code=code, user_id=user_id))
    try:
        _, answer, status = Endpoints(validator).create_token_response(
            public_uri(request, "/oauth/token"), http_method="POST", body=asked.oauthlib_body(),
            headers=OAUTHLIB_HEADERS)
    except OAuth2Error as exc:
        return from_oauthlib(exc)
    if status != 200 or validator.saved is None or app is None:
        return oauthlib_answer(answer, status if status != 200 else 400)
    if code is not None:
        try:
            await (await codes(request)).delete(key, last=revision)
        except WrongRevision:
            return oauth_error("invalid_grant", "The authorization code was already used")
    issued = validator.saved
    access = str(issued["access_token"])
    granted = tuple(str(issued.get("scope", "")).split()) or scope_names.DEFAULT
    hashed = token_hash(access)
    event = TokenIssued(at=time.time(), token_id=oauth_token_id(hashed), user_id=validator.user_id, token_hash=hashed,
                        scopes=granted, client_id=app.client_id)
    await append(request, event, msg_id=f"token.{event.token_id}")
    return web.json_response({"access_token": access, "token_type": "Bearer", "scope": " ".join(granted),
                              "created_at": int(event.at)}, headers={"Cache-Control": "no-store"})


async def revoke(request: web.Request) -> web.StreamResponse:
    asked = await _client_request(request)
    if isinstance(asked, web.Response):
        return asked
    form, _, secret, app = asked
    value = form.get("token", "")
    hashed = token_hash(value) if value.isascii() else ""
    grant = await token_grant(request.app[SERVICES].projection, hashed) if hashed else None
    validator = Validator(Loaded(app=app, secret=secret, token_hash=hashed,
                                 token_client=grant["client_id"] if grant is not None else None))
    try:
        _, answer, status = Endpoints(validator).create_revocation_response(
            public_uri(request, "/oauth/revoke"), http_method="POST", body=asked.oauthlib_body(),
            headers=OAUTHLIB_HEADERS)
    except OAuth2Error as exc:
        return from_oauthlib(exc)
    if status != 200:
        # Mastodon answers a client it cannot authenticate with 403 unauthorized_client.
        if status == 401:
            return oauth_error("unauthorized_client", "You are not authorized to revoke this token", 403)
        return oauthlib_answer(answer, status)
    if validator.revoke and grant is not None:
        event = TokenRevoked(at=time.time(), token_id=grant["token_id"], token_hash=hashed)
        await append(request, event, msg_id=f"token.{event.token_id}.revoked")
    return web.json_response({})


# ---- server metadata ----------------------------------------------------------------------------------------


async def metadata(request: web.Request) -> web.StreamResponse:
    base = request.app[SERVICES].config.base_url
    return web.json_response({
        "issuer": base + "/",
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "revocation_endpoint": base + "/oauth/revoke",
        "app_registration_endpoint": base + "/api/v1/apps",
        "scopes_supported": sorted(scope_names.KNOWN),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    })


def routes() -> list[web.RouteDef]:
    return [
        web.post("/oauth/token", token),
        web.post("/oauth/revoke", revoke),
        web.get("/.well-known/oauth-authorization-server", metadata),
    ]

