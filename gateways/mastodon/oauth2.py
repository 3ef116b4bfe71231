"""OAuth 2.0 for Mastodon clients: the authorize page, the token and revoke endpoints, server metadata.

oauthlib checks the requests and is synchronous, while what it asks about lives in async stores: as for
pump.io's OAuth 1.0a, everything a check could ask for is loaded first, oauthlib runs against a validator
answering from that, and the handler writes afterwards (spends the code, records the token).

Authorization codes are short-lived state, not history: they live in an expiring key-value bucket, keyed
by their hash, and an exchange deletes the code at the revision it read, so a code is spent once.
Issued and revoked tokens are events; only a token's hash is ever recorded.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec
from aiohttp import web
from oauthlib.oauth2 import (
    AuthorizationCodeGrant,
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    FatalClientError,
    OAuth2Error,
    RequestValidator,
    ResourceOwnerPasswordCredentialsGrant,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256

from core.events import TokenIssued, TokenRevoked
from core.ids import new_token, token_hash
from core.log import LogUnavailable
from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.descriptor import AuthorizeFlow
from gateways.kit.keyvalue import Bucket, KeyExists, WrongRevision
from gateways.kit.login import WRONG_LOGIN, Login, check_login, code_page, html, login_page
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.mastodon import scopes as scope_names
from gateways.mastodon.apps import OOB, App, find_app
from store.queries.tokens import token_grant

CODES = "oauth2_codes"
# Mastodon's codes last ten minutes.
CODE_TTL = 600.0
TOKEN_FORM = FormCaps(max_bytes=16 * 1024, max_fields=32, max_name=32, max_value=4096)
# The authorize request's parameters, carried through the approve form.
FLOW_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
               "code_challenge_method", "force_login")
UNAVAILABLE = "The sign-in service is temporarily unavailable, try again in a moment"
ASKS = "use your account with the scopes"
# Doorkeeper's texts (what Mastodon answers), for the errors oauthlib gives no description.
UNKNOWN_CLIENT = ("Client authentication failed due to unknown client, no client authentication included, "
                  "or unsupported authentication method.")
DESCRIPTIONS = {
    "invalid_client": UNKNOWN_CLIENT,
    "invalid_grant": ("The provided authorization grant is invalid, expired, revoked, does not match the "
                      "redirection URI used in the authorization request, or was issued to another client."),
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "invalid_request": "The request is missing a required parameter or is otherwise malformed.",
}


class Code(msgspec.Struct, frozen=True):
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str = ""
    method: str = ""
    issued_at: float = 0.0


class Loaded(msgspec.Struct, frozen=True):
    """Everything a validation may ask about, read before oauthlib runs."""

    app: App | None = None
    secret: str = ""
    code: Code | None = None
    # The password grant's user, once the password was checked.
    user_id: str | None = None
    token_hash: str = ""
    token_client: str | None = None


class Validator(RequestValidator):
    def __init__(self, loaded: Loaded) -> None:
        super().__init__()
        self.loaded = loaded
        self.issued_code: Code | None = None
        self.code_value = ""
        self.saved: dict[str, Any] | None = None
        self.user_id = ""
        self.revoke = False

    def _app(self, client_id: str) -> App | None:
        app = self.loaded.app
        return app if app is not None and app.client_id == client_id else None

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        return True

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        app = self.loaded.app
        secret = self.loaded.secret
        if app is None or not secret or token_hash(secret) != app.secret_hash:
            return False
        request.client = app
        request.client_id = app.client_id
        return True

    def authenticate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return False

    def validate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return self._app(client_id) is not None

    def validate_redirect_uri(self, client_id: str, redirect_uri: str, request: Any, *args: Any,
                              **kwargs: Any) -> bool:
        app = self._app(client_id)
        return app is not None and redirect_uri in app.redirect_uris

    def get_default_redirect_uri(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> str | None:
        app = self._app(client_id)
        return app.redirect_uris[0] if app is not None and len(app.redirect_uris) == 1 else None

    def validate_response_type(self, client_id: str, response_type: str, client: Any, request: Any, *args: Any,
                               **kwargs: Any) -> bool:
        return response_type == "code"

    def validate_scopes(self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any,
                        **kwargs: Any) -> bool:
        app = self._app(client_id)
        return (app is not None and not scope_names.unknown(scopes)
                and scope_names.within(scopes, app.scopes))

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        # Mastodon grants "read" when a client names no scope, if the app has it.
        return list(scope_names.DEFAULT)

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        return False

    def save_authorization_code(self, client_id: str, code: dict[str, str], request: Any, *args: Any,
                                **kwargs: Any) -> None:
        # Written by the handler, into the bucket, once this returns.
        self.code_value = code["code"]
        self.issued_code = Code(client_id=client_id, user_id=request.user_id, redirect_uri=request.redirect_uri,
                                scopes=tuple(request.scopes), challenge=request.code_challenge or "",
                                method=request.code_challenge_method or "", issued_at=time.time())

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any,
                      **kwargs: Any) -> bool:
        found = self.loaded.code
        if found is None or found.client_id != client_id or time.time() - found.issued_at > CODE_TTL:
            return False
        request.user = found.user_id
        request.scopes = list(found.scopes)
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        found = self.loaded.code
        return found.challenge or None if found is not None else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        found = self.loaded.code
        return found.method or None if found is not None else None

    def confirm_redirect_uri(self, client_id: str, code: str, redirect_uri: str, client: Any, request: Any,
                             *args: Any, **kwargs: Any) -> bool:
        found = self.loaded.code
        # As Doorkeeper: the exchange names the redirect URI the code was issued for.
        return found is not None and redirect_uri == found.redirect_uri

    def validate_grant_type(self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any,
                            **kwargs: Any) -> bool:
        return grant_type in ("authorization_code", "password", "client_credentials")

    def validate_user(self, username: str, password: str, client: Any, request: Any, *args: Any,
                      **kwargs: Any) -> bool:
        if self.loaded.user_id is None:
            return False
        request.user = self.loaded.user_id
        return True

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> None:
        self.saved = token
        self.user_id = request.user or ""

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any,
                                      **kwargs: Any) -> None:
        """The handler deletes the code from the bucket, at the revision it read, after this returns."""

    def revoke_token(self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any) -> None:
        self.revoke = self.loaded.token_client is not None and self.loaded.token_client == request.client_id


def _token_id(hashed: str) -> str:
    # As `mediaplex token create` names its tokens.
    return hashlib.sha256(hashed.encode()).hexdigest()[:16]


class Endpoints(AuthorizationEndpoint, TokenEndpoint, RevocationEndpoint):
    """The grants Mastodon offers, none with refresh tokens: Mastodon's tokens live until revoked."""

    def __init__(self, validator: Validator) -> None:
        code = AuthorizationCodeGrant(validator, refresh_token=False)
        # Mastodon takes S256 only; a plain challenge would hand the verifier to whoever sees the URL.
        code._code_challenge_methods = {"S256": code_challenge_method_s256}
        password = ResourceOwnerPasswordCredentialsGrant(validator, refresh_token=False)
        bearer = BearerToken(validator, token_generator=lambda request: new_token())
        AuthorizationEndpoint.__init__(self, default_response_type="code", response_types={"code": code},
                                       default_token_type=bearer)
        TokenEndpoint.__init__(self, default_grant_type="authorization_code", default_token_type=bearer,
                               grant_types={"authorization_code": code, "password": password,
                                            "client_credentials": ClientCredentialsGrant(validator)})
        RevocationEndpoint.__init__(self, validator, supported_token_types=("access_token",))


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status,
                             headers={"Cache-Control": "no-store"})


def _from_oauthlib(exc: OAuth2Error) -> web.Response:
    return oauth_error(exc.error, exc.description or DESCRIPTIONS.get(exc.error, exc.error), exc.status_code)


def _answer(body: str | None, status: int) -> web.Response:
    """oauthlib's refusal, always with a description: some of its errors come without one."""
    try:
        decoded = msgspec.json.decode(body or "{}", type=dict[str, str])
    except msgspec.DecodeError:
        decoded = {}
    error = decoded.get("error", "invalid_request")
    return oauth_error(error, decoded.get("error_description") or DESCRIPTIONS.get(error, error), status)


async def _codes(request: web.Request) -> Bucket:
    try:
        return await request.app[SERVICES].buckets.open(CODES, ttl=CODE_TTL)
    except LogUnavailable as exc:
        raise Refusal(503, UNAVAILABLE) from exc


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


async def _read_token_form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        raw = await bodies.read_json(request, msgspec.json.Decoder(dict[str, str | int | bool | None]),
                                     limit=TOKEN_FORM.max_bytes)
        return {k: str(v) for k, v in raw.items() if v is not None}
    return await bodies.read_form(request, TOKEN_FORM)


def _uri(request: web.Request, path: str, params: Mapping[str, str] | None = None) -> str:
    base = request.app[SERVICES].config.base_url + path
    return f"{base}?{urlencode(dict(params))}" if params else base


# ---- the token endpoint -------------------------------------------------------------------------------------


async def token(request: web.Request) -> web.StreamResponse:
    form = await _token_form(request)
    if isinstance(form, web.Response):
        return form
    client_id, secret = _client_credentials(request, form)
    app = await find_app(request, client_id)
    grant_type = form.get("grant_type", "")
    code: Code | None = None
    revision = 0
    key = ""
    if grant_type == "authorization_code" and form.get("code"):
        key = token_hash(form["code"])
        entry = await (await _codes(request)).get(key)
        if entry is not None:
            code, revision = msgspec.json.decode(entry.value, type=Code), entry.revision
    user_id = None
    if grant_type == "password" and app is not None and token_hash(secret) == app.secret_hash:
        user_id = await check_login(request, form.get("username", ""), form.get("password", ""))
    validator = Validator(Loaded(app=app, secret=secret, code=code, user_id=user_id))
    # oauthlib reads the client's credentials from the body: hand it the form with those we found.
    body = urlencode({**form, "client_id": client_id, "client_secret": secret} if client_id else form)
    try:
        _, answer, status = Endpoints(validator).create_token_response(
            _uri(request, "/oauth/token"), http_method="POST", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    except OAuth2Error as exc:
        return _from_oauthlib(exc)
    if status != 200 or validator.saved is None or app is None:
        return _answer(answer, status if status != 200 else 400)
    if code is not None:
        try:
            await (await _codes(request)).delete(key, last=revision)
        except WrongRevision:
            return oauth_error("invalid_grant", "The authorization code was already used")
    issued = validator.saved
    access = str(issued["access_token"])
    granted = tuple(str(issued.get("scope", "")).split()) or scope_names.DEFAULT
    hashed = token_hash(access)
    event = TokenIssued(at=time.time(), token_id=_token_id(hashed), user_id=validator.user_id, token_hash=hashed,
                        scopes=granted, client_id=app.client_id)
    await append(request, event, msg_id=f"token.{event.token_id}")
    return web.json_response({"access_token": access, "token_type": "Bearer", "scope": " ".join(granted),
                              "created_at": int(event.at)}, headers={"Cache-Control": "no-store"})


async def revoke(request: web.Request) -> web.StreamResponse:
    form = await _token_form(request)
    if isinstance(form, web.Response):
        return form
    client_id, secret = _client_credentials(request, form)
    app = await find_app(request, client_id)
    value = form.get("token", "")
    hashed = token_hash(value) if value.isascii() else ""
    grant = await token_grant(request.app[SERVICES].projection, hashed) if hashed else None
    validator = Validator(Loaded(app=app, secret=secret, token_hash=hashed,
                                 token_client=grant["client_id"] if grant is not None else None))
    body = urlencode({**form, "client_id": client_id, "client_secret": secret} if client_id else form)
    try:
        _, answer, status = Endpoints(validator).create_revocation_response(
            _uri(request, "/oauth/revoke"), http_method="POST", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    except OAuth2Error as exc:
        return _from_oauthlib(exc)
    if status != 200:
        # Mastodon answers a client it cannot authenticate with 403 unauthorized_client.
        if status == 401:
            return oauth_error("unauthorized_client", "You are not authorized to revoke this token", 403)
        return _answer(answer, status)
    if validator.revoke and grant is not None:
        event = TokenRevoked(at=time.time(), token_id=grant["token_id"], token_hash=hashed)
        await append(request, event, msg_id=f"token.{event.token_id}.revoked")
    return web.json_response({})


# ---- the authorize page -------------------------------------------------------------------------------------


def _flow(params: Mapping[str, str]) -> dict[str, str]:
    return {name: str(params[name]) for name in FLOW_FIELDS if params.get(name)}


def _forced(fields: Mapping[str, str]) -> bool:
    return fields.get("force_login", "").lower() in ("1", "true", "yes", "on")


async def _validated(request: web.Request, fields: dict[str, str]) -> tuple[App, list[str]] | web.Response:
    """The app and scopes of a valid authorize request, else its refusal: as JSON when the client or redirect
    URI cannot be trusted, else sent back to the client's redirect URI as RFC 6749 says."""
    app = await find_app(request, fields.get("client_id", ""))
    if app is None:
        return oauth_error("invalid_client", UNKNOWN_CLIENT, 401)
    method = fields.get("code_challenge_method", "")
    if fields.get("code_challenge") and method != "S256":
        fields = {**fields, "code_challenge_method": method or "plain"}
    validator = Validator(Loaded(app=app))
    try:
        granted, _ = Endpoints(validator).validate_authorization_request(_uri(request, "/oauth/authorize", fields))
    except FatalClientError as exc:
        return _from_oauthlib(exc)
    except OAuth2Error as exc:
        redirect = fields.get("redirect_uri", "")
        if redirect == OOB or not redirect:
            return _from_oauthlib(exc)
        return web.Response(status=302, headers={"Location": exc.in_uri(redirect), "Cache-Control": "no-store"})
    return app, list(granted)


async def _page(request: web.Request, login: Login, app: App, granted: list[str], fields: dict[str, str], *,
                error: str = "", status: int = 200) -> web.StreamResponse:
    signed_in = "" if _forced(fields) else login.signed_in()
    text = login_page(_uri(request, "/oauth/authorize"), app.name, fields, csrf=login.csrf,
                      asks=f"{ASKS} {' '.join(granted)}", signed_in=signed_in, error=error)
    response = html(text, status=status)
    login.remember(response, request)
    return response


async def authorize_page(request: web.Request) -> web.StreamResponse:
    fields = _flow(request.query)
    checked = await _validated(request, fields)
    if isinstance(checked, web.Response):
        return checked
    app, granted = checked
    return await _page(request, await Login.of(request), app, granted, fields)


async def authorize(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
    fields = _flow(form)
    checked = await _validated(request, fields)
    if isinstance(checked, web.Response):
        return checked
    app, granted = checked
    login = await Login.of(request)
    user_id = await login.sign_in(request, form, force=_forced(fields))
    if user_id is None:
        return await _page(request, login, app, granted, fields, error=WRONG_LOGIN, status=403)
    validator = Validator(Loaded(app=app))
    try:
        headers, _, _ = Endpoints(validator).create_authorization_response(
            _uri(request, "/oauth/authorize", fields), scopes=granted, credentials={"user_id": user_id})
    except OAuth2Error as exc:
        return _from_oauthlib(exc)
    issued = validator.issued_code
    if issued is None:
        raise RuntimeError("oauthlib issued no authorization code")
    try:
        await (await _codes(request)).create(token_hash(validator.code_value), msgspec.json.encode(issued))
    except KeyExists:
        raise RuntimeError("an authorization code was issued twice") from None
    except LogUnavailable as exc:
        raise Refusal(503, UNAVAILABLE) from exc
    if issued.redirect_uri == OOB:
        response = html(code_page(validator.code_value))
    else:
        response = web.Response(status=302, headers={"Location": headers["Location"], "Cache-Control": "no-store"})
    login.remember(response, request, user_id)
    return response


def claims(params: Mapping[str, str]) -> bool:
    return "response_type" in params or "client_id" in params


# Mastodon's share of the one /oauth/authorize page.
FLOW = AuthorizeFlow(claims=claims, page=authorize_page, submit=authorize)


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
