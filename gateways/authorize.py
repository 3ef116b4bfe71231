"""`/oauth/authorize`, shared by every gateway that signs users in there, routed by the request's parameters.

pump.io's OAuth 1.0a page names an `oauth_token`; an OAuth 2.0 request names a `response_type` and a
`client_id`. Each gateway's AuthorizeFlow says which requests are its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.descriptor import AuthorizeFlow
from gateways.kit.openapi import Fragment, answer, in_query, plain_error, slashed
from gateways.kit.refusal import Refusal

PATHS = ("/oauth/authorize", "/oauth/authorize/")
# The approve form: a flow's fields (OAuth 2.0 has the most: seven), a CSRF token, a name, a password, a button.
FORM = FormCaps(max_bytes=16 * 1024, max_fields=12, max_name=32, max_value=4096)
UNCLAIMED = ("Name a request token (oauth_token, OAuth 1.0a) or a client (response_type and client_id, "
             "OAuth 2.0)")
FORM_TYPE = "application/x-www-form-urlencoded"


def _pick(flows: Sequence[AuthorizeFlow], params: dict[str, str]) -> AuthorizeFlow:
    for flow in flows:
        if flow.claims(params):
            return flow
    raise Refusal(400, UNCLAIMED)


def add_routes(app: web.Application, flows: Sequence[AuthorizeFlow]) -> None:
    async def page(request: web.Request) -> web.StreamResponse:
        return await _pick(flows, dict(request.query)).page(request)

    async def submit(request: web.Request) -> web.StreamResponse:
        form = await bodies.read_form(request, FORM) if request.content_type == FORM_TYPE else {}
        return await _pick(flows, {**request.query, **form}).submit(request, form)

    for path in PATHS:
        app.router.add_get(path, page)
        app.router.add_post(path, submit)


def fragment() -> Fragment:
    text = {"type": "string"}
    names = ("oauth_token", "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
             "code_challenge_method", "force_login")
    described = {
        "oauth_token": "pump.io (OAuth 1.0a): the request token to approve",
        "response_type": "OAuth 2.0: `code`",
        "client_id": "OAuth 2.0: the app's client_id",
        "redirect_uri": "OAuth 2.0: one of the app's redirect URIs; `urn:ietf:wg:oauth:2.0:oob` shows the code",
        "code_challenge_method": "OAuth 2.0 PKCE: `S256` only",
        "force_login": "OAuth 2.0: ask for the password even when signed in",
    }
    form = {"type": "object", "properties": {
        **{name: text for name in names}, "csrf_token": text, "username": text, "password": text, "approve": text,
    }}
    shared = {"tags": ["oauth"], "security": []}
    item = {
        "get": {
            **shared, "operationId": "getAuthorize",
            "summary": "The page where a user signs in and approves a client (pump.io OAuth 1.0a or OAuth 2.0)",
            "parameters": [in_query(name, text, described.get(name, "")) for name in names],
            "responses": {
                "200": answer("The login-and-approve page", text, media="text/html"),
                "302": answer("OAuth 2.0: an error sent back to the client's redirect URI",
                              headers={"Location": {"schema": text}}),
                "400": plain_error("Neither flow's parameters, or a request token that is unknown, used or "
                                   "approved; OAuth 2.0 errors carry error_description"),
                "401": plain_error("OAuth 2.0: unknown client"),
            },
        },
        "post": {
            **shared, "operationId": "postAuthorize", "summary": "Approve a client by signing in",
            "requestBody": {"required": True, "content": {FORM_TYPE: {"schema": form}}},
            "responses": {
                "200": answer("The verifier or code, for an out-of-band client", text, media="text/html"),
                "302": answer("Back to the client with the verifier or code", headers={"Location": {"schema": text}}),
                "400": plain_error("Neither flow's parameters, or a request the flow refuses"),
                "401": plain_error("OAuth 2.0: unknown client"),
                "403": answer("Wrong user name or password (the page again), or a missing CSRF token", text,
                              media="text/html"),
            },
        },
    }
    return Fragment(paths=slashed(PATHS[0], item),
                    tags=({"name": "oauth", "description": "The sign-in page every protocol shares"},))
