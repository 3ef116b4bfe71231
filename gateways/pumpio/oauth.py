"""OAuth 1.0a (HMAC-SHA1) for the pump.io API: request token, authorize page, access token, protected calls.

oauthlib checks the signatures and is synchronous, while what it asks about lives in async stores. So
every signed request goes through three steps: read its OAuth parameters and load everything a check
could ask for; run oauthlib's endpoint against a validator that answers from what was loaded; and only
once the signature holds, write (spend the nonce, issue or consume a token).

Signatures are checked against the public URL (`base_url` + path + query), never the Host header:
behind a proxy the client signed the URL it was given. Only form-encoded bodies are signed.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from aiohttp import web
from oauthlib.common import generate_token
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
    SignatureOnlyEndpoint,
)
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA1
from oauthlib.oauth1.rfc5849.signature import collect_parameters
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from core.events import AccessGranted, AnyEvent
from gateways.kit import numbers
from gateways.kit.descriptor import AuthorizeFlow
from gateways.kit.login import WRONG_LOGIN, Login, code_page, html, login_page
from gateways.kit.principal import once_caught_up
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.pumpio.state import (
    TIMESTAMP_WINDOW,
    RequestToken,
    Stored,
    nonce_key,
    oauth_state,
)
from store.queries.clients import client_by_id
from store.queries.tokens import oauth_access_token

FORM = "application/x-www-form-urlencoded"
ASKS = "post and read your media and activities"
REQUIRED = ("oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_timestamp", "oauth_nonce")

MISSING_CREDENTIALS = "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"
MALFORMED_HEADER = "Malformed OAuth Authorization header"
MALFORMED_REQUEST = "Malformed OAuth request"
DUPLICATE_PARAMETERS = "Duplicated OAuth parameters"
UNSUPPORTED_METHOD = "Unsupported signature method: use HMAC-SHA1"
MAX_TIMESTAMP = 10**12
BAD_TIMESTAMP = "oauth_timestamp must be an integer number of seconds"
STALE_TIMESTAMP = "oauth_timestamp is more than 10 minutes away from the server's clock"
BAD_SIGNATURE = "Invalid signature"
REPLAYED_NONCE = "This nonce was already used"
UNKNOWN_CLIENT = "Unknown client"
MISSING_ACCESS_TOKEN = "Missing access token (oauth_token)"
INVALID_ACCESS_TOKEN = "Invalid access token"
MISSING_REQUEST_TOKEN = "Missing request token (oauth_token)"
MISSING_VERIFIER = "Missing oauth_verifier"
UNEXPECTED_TOKEN = "A request token request carries no oauth_token"
UNKNOWN_REQUEST_TOKEN = "Unknown or expired request token"
USED_REQUEST_TOKEN = "Request token already used"
AUTHORIZED_REQUEST_TOKEN = "Request token already authorized"
UNAUTHORIZED_REQUEST_TOKEN = "Request token not authorized yet"
WRONG_VERIFIER = "Wrong verifier"
INVALID_CALLBACK = "oauth_callback must be 'oob' or an absolute URI"
RACED = "The request token changed meanwhile; start again"

# Stand-ins oauthlib signs with when a client or token is unknown, so a refusal costs the same time.
DUMMY_CLIENT = "dummy-client"
DUMMY_TOKEN = "dummy-token"
DUMMY_SECRET = "dummy-secret"


class PumpPrincipal(msgspec.Struct, frozen=True):
    user_id: str
    client_id: str


PRINCIPAL = web.RequestKey("pumpio_principal", PumpPrincipal)


class Signed(msgspec.Struct, frozen=True):
    """A request's OAuth parameters, and what oauthlib needs to recompute its signature."""

    uri: str
    method: str
    body: str
    headers: dict[str, str]
    params: dict[str, str]

    @property
    def client_id(self) -> str:
        return self.params["oauth_consumer_key"]

    @property
    def token(self) -> str:
        return self.params.get("oauth_token", "")

    @property
    def verifier(self) -> str:
        return self.params.get("oauth_verifier", "")

    @property
    def nonce_key(self) -> str:
        p = self.params
        return nonce_key(p["oauth_consumer_key"], p["oauth_timestamp"], p["oauth_nonce"], self.token)


class Loaded(msgspec.Struct, frozen=True):
    """Everything a validation may ask about, read before oauthlib runs."""

    client_id: str
    client_secret: str | None
    token: str = ""
    token_secret: str | None = None
    request_token: RequestToken | None = None
    access_client: str | None = None


class Validator(RequestValidator):
    """Answers oauthlib from preloaded data and notes why it refused, for the client to read."""

    def __init__(self, loaded: Loaded) -> None:
        super().__init__()
        self.loaded = loaded
        self.refusals: list[str] = []
        self.granted: dict[str, str] | None = None

    def _refuse(self, reason: str) -> bool:
        self.refusals.append(reason)
        return False

    @property
    def enforce_ssl(self) -> bool:
        # TLS ends at the proxy in front of us; the public URL signed over says what the client used.
        return False

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA1,)

    @property
    def timestamp_lifetime(self) -> int:
        return TIMESTAMP_WINDOW

    @property
    def dummy_client(self) -> str:
        return DUMMY_CLIENT

    @property
    def dummy_request_token(self) -> str:
        return DUMMY_TOKEN

    @property
    def dummy_access_token(self) -> str:
        return DUMMY_TOKEN

    # Clients choose nonces (and other servers' tokens) of any length and alphabet; unknown values
    # are simply not found, so format checks only keep out the absurd.
    def _reasonable(self, value: str) -> bool:
        return 0 < len(value) <= 256 and value.isprintable()

    def check_client_key(self, client_key: str) -> bool:
        return self._reasonable(client_key)

    def check_request_token(self, request_token: str) -> bool:
        return self._reasonable(request_token)

    def check_access_token(self, request_token: str) -> bool:
        return self._reasonable(request_token)

    def check_nonce(self, nonce: str) -> bool:
        return self._reasonable(nonce)

    def check_verifier(self, verifier: str) -> bool:
        return self._reasonable(verifier)

    def check_realms(self, realms: list[str]) -> bool:
        # Realms carry no meaning here; some clients send one anyway.
        return True

    def get_client_secret(self, client_key: str, request: Any) -> str:
        loaded = self.loaded
        if client_key == loaded.client_id and loaded.client_secret is not None:
            return loaded.client_secret
        return DUMMY_SECRET

    def _token_secret(self, token: str) -> str:
        loaded = self.loaded
        if token == loaded.token and loaded.token_secret is not None:
            return loaded.token_secret
        return DUMMY_SECRET

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self._token_secret(token)

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self._token_secret(token)

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        if client_key == self.loaded.client_id and self.loaded.client_secret is not None:
            return True
        return self._refuse(UNKNOWN_CLIENT)

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str, request: Any,
                                     request_token: str | None = None, access_token: str | None = None) -> bool:
        # The nonce is spent with an atomic create once the signature holds: checking it here as
        # well would only add a round trip, and could not stop two replicas racing anyway.
        return True

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        found = self.loaded.request_token
        if token != self.loaded.token or found is None or found.expired or found.client_id != client_key:
            return self._refuse(UNKNOWN_REQUEST_TOKEN)
        if found.used:
            return self._refuse(USED_REQUEST_TOKEN)
        if not found.user_id:
            return self._refuse(UNAUTHORIZED_REQUEST_TOKEN)
        return True

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        found = self.loaded.request_token
        if token != self.loaded.token or found is None or not found.verifier:
            return False
        if hmac.compare_digest(found.verifier.encode(), verifier.encode()):
            return True
        return self._refuse(WRONG_VERIFIER)

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        loaded = self.loaded
        if token == loaded.token and loaded.access_client is not None and loaded.access_client == client_key:
            return True
        return self._refuse(INVALID_ACCESS_TOKEN)

    def validate_realms(self, client_key: str, token: str, request: Any, uri: str | None = None,
                        realms: list[str] | None = None) -> bool:
        return True

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        # Written by the handler once the nonce is spent and the request token consumed.
        self.granted = token

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        """The handler consumes the request token with a compare-and-set after this returns."""


# ---- reading a signed request ------------------------------------------------------------------------


async def _signed(request: web.Request) -> Signed:
    """The request's OAuth parameters, refused early when missing, malformed or out of date."""
    headers = {"Content-Type": request.headers.get("Content-Type", "")}
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "oauth ":
        try:
            parse_authorization_header(authorization)
        except ValueError:
            raise Refusal(400, MALFORMED_HEADER) from None
        headers["Authorization"] = authorization
    body = ""
    if request.content_type == FORM and request.body_exists:
        # aiohttp keeps the bytes, so the handler can still read the form after this.
        body = (await request.read()).decode("utf-8", errors="replace")
    uri = request.app[SERVICES].config.base_url + request.raw_path
    try:
        collected = collect_parameters(uri_query=urlsplit(uri).query, body=body, headers=headers,
                                       exclude_oauth_signature=False, with_realm=True)
    except ValueError:
        raise Refusal(400, MALFORMED_REQUEST) from None
    oauth = [(k, v) for k, v in collected if k.startswith("oauth_")]
    if not oauth:
        raise Refusal(401, MISSING_CREDENTIALS)
    params = dict(oauth)
    if len(params) != len(oauth):
        raise Refusal(400, DUPLICATE_PARAMETERS)
    missing = [name for name in REQUIRED if not params.get(name)]
    if missing:
        raise Refusal(400, f"Missing OAuth parameters: {', '.join(missing)}")
    if params["oauth_signature_method"] != SIGNATURE_HMAC_SHA1:
        raise Refusal(400, UNSUPPORTED_METHOD)
    timestamp = params["oauth_timestamp"]
    if not timestamp.isascii() or not timestamp.isdigit():
        raise Refusal(400, BAD_TIMESTAMP)
    # Digits enough for any time near now; more would not even fit a float.
    seconds = numbers.whole(timestamp, MAX_TIMESTAMP)
    if seconds is None or abs(time.time() - seconds) > TIMESTAMP_WINDOW:
        raise Refusal(401, STALE_TIMESTAMP)
    return Signed(uri=uri, method=request.method, body=body, headers=headers, params=params)


async def find_client(request: web.Request, client_id: str) -> sqlite3.Row | None:
    """A registered client's row, waiting briefly for the projection when it is not there yet."""
    return await once_caught_up(request.app, lambda: client_by_id(request.app[SERVICES].projection, client_id))


async def _access(request: web.Request, token: str) -> sqlite3.Row | None:
    return await once_caught_up(request.app, lambda: oauth_access_token(request.app[SERVICES].projection, token))


def _refused(validator: Validator, checked: Any) -> Refusal:
    """Why oauthlib said no: what the validator refused first, else the signature, else the format."""
    if validator.refusals:
        return Refusal(401, validator.refusals[0])
    if checked is not None and checked.validator_log.get("signature") is False:
        return Refusal(401, BAD_SIGNATURE)
    return Refusal(400, MALFORMED_REQUEST)


async def _spend_nonce(request: web.Request, signed: Signed) -> None:
    state = await oauth_state(request)
    if not await state.remember_nonce(signed.nonce_key):
        raise Refusal(401, REPLAYED_NONCE)


async def record(request: web.Request, event: AnyEvent, *, msg_id: str) -> None:
    """Appends and waits until this replica's projection shows it, so the next request sees it."""
    await append(request, event, msg_id=msg_id)


def _form(pairs: list[tuple[str, str]]) -> web.Response:
    return web.Response(text=urlencode(pairs), content_type=FORM)


# ---- protected calls ----------------------------------------------------------------------------------


async def authenticate(request: web.Request) -> PumpPrincipal:
    """Three-legged OAuth 1.0a on a protected call; raises Refusal(401, ...) when missing or invalid."""
    # A second call for the same request must not look like a replay of its nonce.
    known = request.get(PRINCIPAL)
    if known is not None:
        return known
    signed = await _signed(request)
    if not signed.token:
        raise Refusal(401, MISSING_ACCESS_TOKEN)
    client = await find_client(request, signed.client_id)
    access = await _access(request, signed.token)
    loaded = Loaded(
        client_id=signed.client_id,
        client_secret=client["client_secret"] if client else None,
        token=signed.token,
        token_secret=access["secret"] if access else None,
        access_client=access["client_id"] if access else None,
    )
    validator = Validator(loaded)
    valid, checked = ResourceEndpoint(validator).validate_protected_resource_request(
        signed.uri, http_method=signed.method, body=signed.body, headers=signed.headers
    )
    if not valid or access is None:
        raise _refused(validator, checked)
    await _spend_nonce(request, signed)
    principal = PumpPrincipal(user_id=access["user_id"], client_id=signed.client_id)
    request[PRINCIPAL] = principal
    return principal


async def signed_client(request: web.Request) -> str:
    """Two-legged OAuth 1.0a (the client alone signs); returns the client id."""
    return await _two_legged(request, await _signed(request))


async def _two_legged(request: web.Request, signed: Signed) -> str:
    if signed.token:
        raise Refusal(400, UNEXPECTED_TOKEN)
    client = await find_client(request, signed.client_id)
    validator = Validator(Loaded(client_id=signed.client_id, client_secret=client["client_secret"] if client else None))
    valid, checked = SignatureOnlyEndpoint(validator).validate_request(
        signed.uri, http_method=signed.method, body=signed.body, headers=signed.headers
    )
    if not valid:
        raise _refused(validator, checked)
    await _spend_nonce(request, signed)
    return signed.client_id


# ---- the three OAuth endpoints ------------------------------------------------------------------------


def _callback(value: str) -> str:
    if value == "oob":
        return value
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise Refusal(400, INVALID_CALLBACK)
    return value


async def request_token(request: web.Request) -> web.StreamResponse:
    # The client alone signs this one; oauthlib's RequestTokenEndpoint would refuse a missing
    # oauth_callback, which pump.io takes as "oob", so the signature-only endpoint checks it.
    signed = await _signed(request)
    callback = _callback(signed.params.get("oauth_callback") or "oob")
    client_id = await _two_legged(request, signed)
    token, secret = generate_token(), generate_token()
    state = await oauth_state(request)
    await state.issue(token, RequestToken(secret=secret, client_id=client_id, callback=callback,
                                          issued_at=time.time()))
    return _form([("oauth_token", token), ("oauth_token_secret", secret), ("oauth_callback_confirmed", "true")])


def _exchange_refused(validator: Validator, status: int, body: str | None) -> Refusal:
    if validator.refusals:
        return Refusal(401, validator.refusals[0])
    if status == 400:
        return Refusal(400, dict(parse_qsl(body or "")).get("error_description", MALFORMED_REQUEST))
    # Every other refusal goes through the validator, which noted it: what is left is the signature.
    return Refusal(401, BAD_SIGNATURE)


async def access_token(request: web.Request) -> web.StreamResponse:
    signed = await _signed(request)
    if not signed.token:
        raise Refusal(400, MISSING_REQUEST_TOKEN)
    if not signed.verifier:
        raise Refusal(400, MISSING_VERIFIER)
    state = await oauth_state(request)
    stored = await state.request_token(signed.token)
    client = await find_client(request, signed.client_id)
    pending = stored.token if stored is not None else None
    loaded = Loaded(
        client_id=signed.client_id,
        client_secret=client["client_secret"] if client else None,
        token=signed.token,
        token_secret=pending.secret if pending is not None else None,
        request_token=pending,
    )
    validator = Validator(loaded)
    _, body, status = AccessTokenEndpoint(validator).create_access_token_response(
        signed.uri, http_method=signed.method, body=signed.body, headers=signed.headers
    )
    if status != 200 or validator.granted is None or stored is None:
        raise _exchange_refused(validator, status, body)
    await _spend_nonce(request, signed)
    # Only one exchange of a request token may win, whichever replica each lands on.
    if not await state.replace(signed.token, stored, msgspec.structs.replace(stored.token, used=True)):
        raise Refusal(401, USED_REQUEST_TOKEN)
    granted = validator.granted
    event = AccessGranted(at=time.time(), token=granted["oauth_token"], secret=granted["oauth_token_secret"],
                          client_id=signed.client_id, user_id=stored.token.user_id)
    await record(request, event, msg_id=f"{event.token}.granted")
    return _form([("oauth_token", event.token), ("oauth_token_secret", event.secret)])


# ---- the page where a user approves a client ----------------------------------------------------------


async def _pending(request: web.Request, token: str) -> Stored:
    """A request token still waiting for its user's approval; refused as JSON otherwise."""
    if not token:
        raise Refusal(400, MISSING_REQUEST_TOKEN)
    stored = await (await oauth_state(request)).request_token(token)
    if stored is None or stored.token.expired:
        raise Refusal(400, UNKNOWN_REQUEST_TOKEN)
    if stored.token.used:
        raise Refusal(400, USED_REQUEST_TOKEN)
    if stored.token.user_id:
        raise Refusal(400, AUTHORIZED_REQUEST_TOKEN)
    return stored


async def _client_name(request: web.Request, client_id: str) -> str:
    row = await find_client(request, client_id)
    return (row["application_name"] if row else "") or client_id


def _action(request: web.Request) -> str:
    return request.app[SERVICES].config.base_url + "/oauth/authorize"


async def _login_page(request: web.Request, login: Login, stored: Stored, token: str, *, error: str = "",
                      status: int = 200) -> web.StreamResponse:
    name = await _client_name(request, stored.token.client_id)
    text = login_page(_action(request), name, {"oauth_token": token}, csrf=login.csrf, asks=ASKS,
                      signed_in=login.signed_in(), error=error)
    response = html(text, status=status)
    login.remember(response, request)
    return response


async def authorize_page(request: web.Request) -> web.StreamResponse:
    token = request.query.get("oauth_token", "")
    stored = await _pending(request, token)
    return await _login_page(request, await Login.of(request), stored, token)


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(pairs)}" if parts.query else urlencode(pairs)
    return urlunsplit(parts._replace(query=query))


async def authorize(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
    token = str(form.get("oauth_token", ""))
    stored = await _pending(request, token)
    login = await Login.of(request)
    user_id = await login.sign_in(request, form)
    if user_id is None:
        return await _login_page(request, login, stored, token, error=WRONG_LOGIN, status=403)
    verifier = generate_token()
    approved = msgspec.structs.replace(stored.token, user_id=user_id, verifier=verifier)
    if not await (await oauth_state(request)).replace(token, stored, approved):
        raise Refusal(400, RACED)
    callback = stored.token.callback
    if callback == "oob":
        response = html(code_page(verifier, element="verifier", what="verifier"))
    else:
        location = _with_query(callback, [("oauth_token", token), ("oauth_verifier", verifier)])
        response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    login.remember(response, request, user_id)
    return response


def claims(params: Mapping[str, str]) -> bool:
    return "oauth_token" in params


# pump.io's share of the one /oauth/authorize page.
FLOW = AuthorizeFlow(claims=claims, page=authorize_page, submit=authorize)


def add_routes(app: web.Application) -> None:
    for path in ("/oauth/request_token", "/oauth/request_token/"):
        app.router.add_post(path, request_token)
    for path in ("/oauth/access_token", "/oauth/access_token/"):
        app.router.add_post(path, access_token)
