"""OAuth 2.0's share of `/oauth/authorize`: the sign-in-and-approve page, and the code it issues."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from aiohttp import web
from oauthlib.oauth2 import FatalClientError, OAuth2Error

from core.ids import token_hash
from core.log import LogUnavailable
from gateways.kit.descriptor import AuthorizeFlow
from gateways.kit.keyvalue import KeyExists
from gateways.kit.login import WRONG_LOGIN, Login, code_page, html, login_page
from gateways.kit.refusal import Refusal
from gateways.mastodon.apps import OOB, App, find_app
from gateways.mastodon.oauth2_server import (
    UNAVAILABLE,
    UNKNOWN_CLIENT,
    Endpoints,
    Loaded,
    Validator,
    codes,
    from_oauthlib,
    oauth_error,
    public_uri,
)

# The authorize request's parameters, carried through the approve form.
FLOW_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
               "code_challenge_method", "force_login")
ASKS = "use your account with the scopes"


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
        granted, _ = Endpoints(validator).validate_authorization_request(
            public_uri(request, "/oauth/authorize", fields))
    except FatalClientError as exc:
        return from_oauthlib(exc)
    except OAuth2Error as exc:
        redirect = fields.get("redirect_uri", "")
        if redirect == OOB or not redirect:
            return from_oauthlib(exc)
        return web.Response(status=302, headers={"Location": exc.in_uri(redirect), "Cache-Control": "no-store"})
    return app, list(granted)


async def _page(request: web.Request, login: Login, app: App, granted: list[str], fields: dict[str, str], *,
                error: str = "", status: int = 200) -> web.StreamResponse:
    signed_in = "" if _forced(fields) else login.signed_in()
    text = login_page(public_uri(request, "/oauth/authorize"), app.name, fields, csrf=login.csrf,
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
            public_uri(request, "/oauth/authorize", fields), scopes=granted, credentials={"user_id": user_id})
    except OAuth2Error as exc:
        return from_oauthlib(exc)
    issued = validator.issued_code
    if issued is None:
        raise RuntimeError("oauthlib issued no authorization code")
    try:
        await (await codes(request)).create(token_hash(validator.code_value), msgspec.json.encode(issued))
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

