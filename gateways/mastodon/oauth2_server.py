"""oauthlib's OAuth 2.0 server for Mastodon's grants, and the validator it asks.

oauthlib checks the requests and is synchronous, while what it asks about lives in async stores: as for
pump.io's OAuth 1.0a, everything a check could ask for is loaded first (`Loaded`), oauthlib runs against a
validator answering from that, and the handler writes afterwards (spends the code, records the token).

Authorization codes are short-lived state, not history: they live in an expiring key-value bucket, keyed
by their hash, and an exchange deletes the code at the revision it read, so a code is spent once.
"""

from __future__ import annotations

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
    OAuth2Error,
    RequestValidator,
    ResourceOwnerPasswordCredentialsGrant,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256

from core.ids import new_token
from core.log import LogUnavailable
from gateways.kit.keyvalue import Bucket
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import scopes as scope_names
from gateways.mastodon.apps import App, secret_matches

CODES = "oauth2_codes"
# Mastodon's codes last ten minutes.
CODE_TTL = 600.0
UNAVAILABLE = "The sign-in service is temporarily unavailable, try again in a moment"
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
        if app is None or not secret_matches(app, secret):
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


def oauth_token_id(hashed: str) -> str:
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


def from_oauthlib(exc: OAuth2Error) -> web.Response:
    return oauth_error(exc.error, exc.description or DESCRIPTIONS.get(exc.error, exc.error), exc.status_code)


def oauthlib_answer(body: str | None, status: int) -> web.Response:
    """oauthlib's refusal, always with a description: some of its errors come without one."""
    try:
        decoded = msgspec.json.decode(body or "{}", type=dict[str, str])
    except msgspec.DecodeError:
        decoded = {}
    error = decoded.get("error", "invalid_request")
    return oauth_error(error, decoded.get("error_description") or DESCRIPTIONS.get(error, error), status)


async def codes(request: web.Request) -> Bucket:
    try:
        return await request.app[SERVICES].buckets.open(CODES, ttl=CODE_TTL)
    except LogUnavailable as exc:
        raise Refusal(503, UNAVAILABLE) from exc


def public_uri(request: web.Request, path: str, params: Mapping[str, str] | None = None) -> str:
    base = request.app[SERVICES].config.base_url + path
    return f"{base}?{urlencode(dict(params))}" if params else base


