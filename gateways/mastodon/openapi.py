"""The Mastodon media API's routes as OpenAPI: instance discovery, the account, media upload and polling."""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import Fragment, PathItem, answer, in_path, in_query, nullable, plain_error, ref, slashed
from gateways.mastodon import openapi_social, openapi_statuses
from gateways.mastodon.startup import CALLS, PREFERENCES

TAG = "mastodon"
STRING = {"type": "string"}
TEXT = nullable(STRING)


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _schemas() -> dict[str, Any]:
    size = _object(["width", "height", "size", "aspect"], {
        "width": {"type": "integer"}, "height": {"type": "integer"},
        "size": {"type": "string", "pattern": r"^\d+x\d+$"}, "aspect": {"type": "number"},
    })
    focus = _object(["x", "y"], {"x": {"type": "number", "minimum": -1, "maximum": 1},
                                 "y": {"type": "number", "minimum": -1, "maximum": 1}})
    # A video or audio original: what it has of these (audio has no width, height or frame rate).
    played = {"type": "object", "properties": {
        "width": {"type": "integer"}, "height": {"type": "integer"},
        "frame_rate": {"type": "string", "pattern": r"^\d+/\d+$"},
        "duration": {"type": "number"}, "bitrate": {"type": "integer"},
    }, "additionalProperties": False}
    attachment = _object(
        ["id", "type", "url", "preview_url", "remote_url", "preview_remote_url", "text_url", "meta",
         "description", "blurhash"],
        {
            "id": STRING,
            "type": {"enum": ["image", "gifv", "video", "audio"]},
            "url": nullable({"type": "string", "format": "uri"}),
            "preview_url": nullable({"type": "string", "format": "uri"}),
            "remote_url": {"type": "null"},
            "preview_remote_url": {"type": "null"},
            "text_url": {"type": "null"},
            "meta": {"type": "object", "properties": {"focus": focus, "original": {"anyOf": [size, played]},
                                                      "small": size}},
            "description": TEXT,
            "blurhash": TEXT,
        },
    )
    account = _object(
        ["id", "username", "acct", "display_name", "created_at", "url", "avatar", "source"],
        {
            "id": {"type": "string", "pattern": r"^\d+$"},
            "username": STRING, "acct": STRING, "display_name": STRING,
            "locked": {"type": "boolean"}, "bot": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "url": STRING, "uri": STRING, "avatar": STRING, "header": STRING,
            "followers_count": {"type": "integer"}, "following_count": {"type": "integer"},
            "statuses_count": {"type": "integer"},
            "source": {"type": "object"},
        },
    )
    media_limits = _object(
        ["supported_mime_types", "description_limit", "image_size_limit", "image_matrix_limit"],
        {
            "supported_mime_types": {"type": "array", "items": STRING},
            "description_limit": {"type": "integer"},
            "image_size_limit": {"type": "integer"},
            "image_matrix_limit": {"type": "integer"},
        },
    )
    statuses = _object(["max_characters", "max_media_attachments", "characters_reserved_per_url"], {
        "max_characters": {"type": "integer"}, "max_media_attachments": {"type": "integer"},
        "characters_reserved_per_url": {"type": "integer"},
    })
    configuration = {"type": "object", "required": ["media_attachments", "statuses"],
                     "properties": {"media_attachments": ref("MastodonMediaLimits"), "statuses": statuses}}
    registrations = _object(["enabled", "approval_required"], {
        "enabled": {"type": "boolean"}, "approval_required": {"type": "boolean"},
        "reason_required": nullable({"type": "boolean"}), "message": TEXT, "url": TEXT,
    })
    instance_v1 = _object(["uri", "title", "version", "configuration", "registrations", "approval_required"], {
        "uri": STRING, "title": STRING, "version": STRING, "stats": {"type": "object"},
        "configuration": configuration,
        "registrations": {"type": "boolean"}, "approval_required": {"type": "boolean"},
    })
    instance_v2 = _object(["domain", "title", "version", "configuration", "api_versions", "registrations"], {
        "domain": STRING, "title": STRING, "version": STRING,
        "configuration": configuration, "registrations": registrations,
        "api_versions": _object(["mastodon"], {"mastodon": {"type": "integer"}}),
    })
    upload = _object(["file"], {
        "file": {"type": "string", "contentMediaType": "application/octet-stream",
                 "description": "The image: JPEG, PNG, GIF, WebP, HEIC, HEIF or AVIF"},
        "description": {"type": "string", "description": "Alt text, at most the instance's description_limit"},
        "focus": {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$",
                  "description": "Focal point as \"x,y\", each from -1.0 to 1.0"},
        "thumbnail": {"type": "string", "contentMediaType": "application/octet-stream",
                      "description": "Refused: images take no custom thumbnail"},
    })
    update = {"type": "object", "properties": {
        "description": {"type": "string"},
        "focus": {"type": "string", "description": "Focal point as \"x,y\", each from -1.0 to 1.0"},
    }}
    return {
        "MastodonAttachment": attachment,
        "MastodonAccount": account,
        "MastodonMediaLimits": media_limits,
        "MastodonInstanceV1": instance_v1,
        "MastodonInstanceV2": instance_v2,
        "MastodonUpload": upload,
        "MastodonUpdate": update,
        "MastodonPreferences": _object(list(PREFERENCES), {
            "posting:default:visibility": {"enum": ["public", "unlisted", "private", "direct"]},
            "posting:default:sensitive": {"type": "boolean"},
            "posting:default:language": TEXT,
            "reading:expand:media": {"enum": ["default", "show_all", "hide_all"]},
            "reading:expand:spoilers": {"type": "boolean"},
        }),
        **_oauth_schemas(),
    }


def _oauth_schemas() -> dict[str, Any]:
    uris = {"anyOf": [STRING, {"type": "array", "items": STRING, "maxItems": 10}]}
    app_fields = {"id": STRING, "name": STRING, "website": TEXT, "scopes": {"type": "array", "items": STRING},
                  "redirect_uri": STRING, "redirect_uris": {"type": "array", "items": STRING}}
    return {
        "MastodonAppRequest": _object(["client_name", "redirect_uris"], {
            "client_name": {"type": "string", "maxLength": 200}, "redirect_uris": uris,
            "scopes": {"type": "string", "description": "Space separated; default `read`"},
            "website": {"type": "string", "maxLength": 2000},
        }),
        "MastodonApplication": _object(list(app_fields), app_fields),
        "MastodonCredentialApplication": _object(
            [*app_fields, "client_id", "client_secret", "client_secret_expires_at"],
            {**app_fields, "client_id": STRING, "client_secret": STRING,
             "client_secret_expires_at": {"const": 0}}),
        "OAuthTokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
            name: STRING for name in ("grant_type", "code", "redirect_uri", "client_id", "client_secret",
                                      "code_verifier", "scope", "username", "password")}},
        "OAuthToken": _object(["access_token", "token_type", "scope", "created_at"], {
            "access_token": STRING, "token_type": {"const": "Bearer"}, "scope": STRING,
            "created_at": {"type": "integer"}}),
        "OAuthRevokeRequest": _object(["token"], {"client_id": STRING, "client_secret": STRING, "token": STRING}),
        "OAuthError": _object(["error", "error_description"], {"error": STRING, "error_description": STRING}),
    }


def _oauth_error(description: str) -> dict[str, Any]:
    return answer(description, ref("OAuthError"))


def _oauth_paths() -> dict[str, PathItem]:
    form = "application/x-www-form-urlencoded"

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(name)},
                                              form: {"schema": ref(name)}}}

    return {
        "/api/v1/apps": {"post": {
            "operationId": "createApp", "summary": "Register a client application", "tags": [TAG],
            "requestBody": body("MastodonAppRequest"),
            "responses": {"200": answer("The app, with its client_id and secret (shown once)",
                                        ref("MastodonCredentialApplication")),
                          "400": plain_error("A body that is not JSON or a form"),
                          "422": plain_error("No name, a bad redirect URI, website or scope"),
                          "503": UNAVAILABLE},
        }},
        "/api/v1/apps/verify_credentials": {"get": {
            "operationId": "verifyAppCredentials", "summary": "The app a token was issued to", "tags": [TAG],
            "security": BEARER,
            "responses": {"200": answer("The app", ref("MastodonApplication")), "401": UNAUTHORIZED},
        }},
        "/oauth/token": {"post": {
            "operationId": "oauthToken", "tags": [TAG],
            "summary": "A token for an authorization code (with PKCE), the app itself, or a user's password",
            "requestBody": body("OAuthTokenRequest"),
            "responses": {"200": answer("The token", ref("OAuthToken")),
                          "400": _oauth_error("A bad, used or expired code, a PKCE mismatch, a scope beyond the "
                                              "app's, a wrong password"),
                          "401": _oauth_error("Unknown client or wrong secret"),
                          "503": UNAVAILABLE},
        }},
        "/oauth/revoke": {"post": {
            "operationId": "oauthRevoke", "summary": "Revoke a token the app holds", "tags": [TAG],
            "requestBody": body("OAuthRevokeRequest"),
            "responses": {"200": answer("Revoked, or not the app's to revoke", {"type": "object"}),
                          "400": _oauth_error("No token named"),
                          "403": _oauth_error("Unknown client or wrong secret"),
                          "503": UNAVAILABLE},
        }},
        "/.well-known/oauth-authorization-server": {"get": {
            "operationId": "oauthMetadata", "summary": "OAuth 2.0 server metadata (RFC 8414)", "tags": [TAG],
            "responses": {"200": answer("Endpoints, scopes, grant types, PKCE methods", {"type": "object"})},
        }},
    }


BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"accessToken": []}]
UNAUTHORIZED = plain_error("The access token is missing or invalid")
FORBIDDEN = plain_error("The token lacks the scope")
NOT_FOUND = plain_error("No such media among the caller's own")
UNAVAILABLE = plain_error("The log is unreachable; try again")
RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed in the window"},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in the window"},
    "X-RateLimit-Reset": {"schema": {"type": "string", "format": "date-time"},
                          "description": "When the window ends (ISO 8601)"},
}
TOO_MANY = {**plain_error("Over the token's request limit or the user's upload limit"), "headers": RATE_HEADERS}


def _authed(operation: dict[str, Any]) -> dict[str, Any]:
    operation.setdefault("tags", [TAG])
    operation["security"] = BEARER
    operation["responses"].update({"401": UNAUTHORIZED, "403": FORBIDDEN, "429": TOO_MANY, "503": UNAVAILABLE})
    return operation


def _upload(version: int) -> dict[str, Any]:
    # v1 waits longer and answers 200 even while processing; v2 says 202 then.
    responses = {"200": answer("Processed (v1: or still processing, url null)", ref("MastodonAttachment"))}
    if version == 2:
        responses["202"] = answer("Still processing: url is null until it is done", ref("MastodonAttachment"))
    return _authed({
        "operationId": f"postMediaV{version}",
        "summary": f"Upload an image (v{version})",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("MastodonUpload")}}},
        "responses": {
            **responses,
            "400": plain_error("No file part, or a malformed multipart body"),
            "422": plain_error("Unreadable or unsupported image, too large, bad focus or description, "
                               "or processing failed"),
        },
    })


def _instance(version: int) -> dict[str, Any]:
    return {"get": {
        "operationId": f"getInstanceV{version}",
        "summary": f"Instance information and media limits (v{version})",
        "tags": [TAG],
        "responses": {"200": answer("The instance", ref(f"MastodonInstanceV{version}")), "429": TOO_MANY},
    }}


def _startup() -> dict[str, PathItem]:
    """The calls clients make as they start, each answering its empty value."""
    paths: dict[str, PathItem] = {}
    for call in CALLS:
        if isinstance(call.answer, list):
            schema: dict[str, Any] = {"type": "array", "maxItems": 0}
        elif call.answer:
            schema = ref("MastodonPreferences")
        else:
            schema = {"type": "object", "maxProperties": 0}
        operation: dict[str, Any] = {
            "operationId": call.operation_id,
            "summary": call.summary,
            "tags": [TAG],
            "responses": {"200": answer(call.summary, schema)},
        }
        if call.scopes:
            operation["description"] = "Scopes: " + " or ".join(f"`{s}`" for s in call.scopes)
            _authed(operation)
        else:
            # A request that carries a token anyway is counted against it.
            operation["responses"]["429"] = TOO_MANY
        paths[call.path] = {"get": operation}
    return paths


def fragment() -> Fragment:
    media_id = in_path("id", {"type": "string", "minLength": 1})
    media = {
        "parameters": [media_id],
        "get": _authed({
            "operationId": "getMedia",
            "summary": "Poll an upload",
            "responses": {
                "200": answer("Processed", ref("MastodonAttachment")),
                "206": answer("Still processing", ref("MastodonAttachment")),
                "404": NOT_FOUND,
                "422": plain_error("Processing failed"),
            },
        }),
        "put": _authed({
            "operationId": "putMedia",
            "summary": "Change an image's description or focal point",
            "parameters": [in_query("description", STRING), in_query("focus", STRING)],
            "requestBody": {"content": {
                "application/json": {"schema": ref("MastodonUpdate")},
                "application/x-www-form-urlencoded": {"schema": ref("MastodonUpdate")},
                "multipart/form-data": {"schema": ref("MastodonUpdate")},
            }},
            "responses": {
                "200": answer("Changed", ref("MastodonAttachment")),
                "206": answer("Changed, still processing", ref("MastodonAttachment")),
                "400": plain_error("A body that is not a JSON object"),
                "404": NOT_FOUND,
                "422": plain_error("Bad focus, description too long, a thumbnail, or processing failed"),
            },
        }),
        "delete": _authed({
            "operationId": "deleteMedia",
            "summary": "Delete an image no post or profile uses",
            "responses": {
                "200": answer("Deleted", {"type": "object", "maxProperties": 0}),
                "404": NOT_FOUND,
                "422": plain_error("A post or the owner's profile uses it"),
            },
        }),
    }
    paths: dict[str, PathItem] = {
        **slashed("/api/v1/instance", _instance(1)),
        **slashed("/api/v2/instance", _instance(2)),
        "/api/v1/accounts/verify_credentials": {"get": _authed({
            "operationId": "verifyCredentials",
            "summary": "The account behind the token",
            "responses": {"200": answer("The account", ref("MastodonAccount")),
                          "404": plain_error("The token's user is gone")},
        })},
        "/api/v1/media": {"post": _upload(1)},
        "/api/v2/media": {"post": _upload(2)},
        "/api/v1/media/{id}": media,
        **_startup(),
        **_oauth_paths(),
        **openapi_statuses.paths(),
        **openapi_social.paths(),
    }
    return Fragment(
        paths=paths,
        schemas={**_schemas(), **openapi_statuses.schemas(), **openapi_social.schemas()},
        security_schemes={"accessToken": {"type": "apiKey", "in": "query", "name": "access_token",
                                          "description": "The bearer token as a query parameter"}},
        tags=({"name": TAG, "description": "The Mastodon media API"},),
    )
