"""Statuses, accounts and timelines of the Mastodon API as OpenAPI paths and schemas."""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import PathItem, answer, in_path, in_query, nullable, plain_error, ref

TAG = "mastodon"
STRING = {"type": "string"}
NUMERIC_ID = {"type": "string", "pattern": r"^\d+$"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"accessToken": []}]
UNAVAILABLE = plain_error("The log is unreachable; try again")
NOT_FOUND = plain_error("No such status, or someone else's")


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def schemas() -> dict[str, Any]:
    status = _object(
        ["id", "uri", "url", "created_at", "account", "content", "visibility", "sensitive", "spoiler_text",
         "media_attachments", "application", "mentions", "tags", "emojis", "reblogs_count", "favourites_count",
         "replies_count", "in_reply_to_id", "in_reply_to_account_id", "reblog", "poll", "card", "language",
         "edited_at"],
        {
            # A reblog's wrapper has no page of its own: its url is null, as Mastodon's is.
            "id": NUMERIC_ID, "uri": STRING, "url": nullable(STRING),
            "created_at": {"type": "string", "format": "date-time"},
            "edited_at": nullable({"type": "string", "format": "date-time"}),
            "account": ref("MastodonAccount"),
            "content": {"type": "string",
                        "description": "HTML: the plain text escaped, or a pump.io post's HTML cut to the whitelist"},
            "text": nullable(STRING),
            "visibility": {"enum": ["public", "unlisted", "private", "direct"]},
            "sensitive": {"type": "boolean"}, "spoiler_text": STRING,
            "media_attachments": {"type": "array", "maxItems": 4, "items": ref("MastodonAttachment")},
            "application": _object(["name"], {"name": STRING, "website": nullable(STRING)}),
            "mentions": {"type": "array", "maxItems": 0}, "tags": {"type": "array", "maxItems": 0},
            "emojis": {"type": "array", "maxItems": 0},
            "reblogs_count": {"type": "integer"}, "favourites_count": {"type": "integer"},
            "replies_count": {"type": "integer"},
            "in_reply_to_id": nullable(NUMERIC_ID), "in_reply_to_account_id": nullable(STRING),
            "reblog": nullable(ref("MastodonStatus")), "poll": {"type": "null"}, "card": {"type": "null"},
            "language": nullable(STRING),
            "favourited": {"type": "boolean"}, "reblogged": {"type": "boolean"},
        },
    )
    new = {"type": "object", "properties": {
        "status": {"type": "string", "maxLength": 500},
        "media_ids": {"type": "array", "maxItems": 4, "items": STRING},
        "sensitive": {"type": "boolean"}, "spoiler_text": STRING,
        "visibility": {"enum": ["public", "unlisted", "private", "direct"]},
        "language": STRING, "in_reply_to_id": STRING,
        "media_attributes": {"type": "array", "items": _object(["id"], {
            "id": STRING, "description": STRING, "focus": STRING})},
    }}
    version = _object(["content", "spoiler_text", "sensitive", "created_at", "account", "media_attachments"], {
        "content": STRING, "spoiler_text": STRING, "sensitive": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"}, "account": ref("MastodonAccount"),
        "media_attachments": {"type": "array", "items": ref("MastodonAttachment")},
    })
    source = _object(["id", "text", "spoiler_text"], {"id": NUMERIC_ID, "text": STRING, "spoiler_text": STRING})
    return {"MastodonStatus": status, "MastodonNewStatus": new, "MastodonStatusEdit": version,
            "MastodonStatusSource": source}


def operation(operation_id: str, summary: str, responses: dict[str, Any], *, authed: bool = True,
        **extra: Any) -> dict[str, Any]:
    built: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [TAG],
                             "responses": {**responses, "503": UNAVAILABLE}, **extra}
    if authed:
        built["security"] = BEARER
        built["responses"].update({"401": plain_error("The access token is missing or invalid"),
                                   "403": plain_error("The token lacks the scope")})
    return built


def _body() -> dict[str, Any]:
    schema = ref("MastodonNewStatus")
    return {"content": {"application/json": {"schema": schema},
                        "application/x-www-form-urlencoded": {"schema": schema}}}


def page_parameters() -> list[dict[str, Any]]:
    return [in_query(name, STRING) for name in ("max_id", "since_id", "min_id")] + [
        in_query("limit", {"type": "integer", "minimum": 1, "maximum": 40})]


def _flags(*names: str) -> list[dict[str, Any]]:
    return [in_query(name, {"type": "boolean"}) for name in names]


LINK = {"Link": {"description": "rel=\"next\" (older) and rel=\"prev\" (newer) pages", "schema": STRING}}


def statuses_answer(description: str) -> dict[str, Any]:
    listed = answer(description, {"type": "array", "items": ref("MastodonStatus")})
    listed["headers"] = LINK
    return listed


def paths() -> dict[str, PathItem]:
    status_id = in_path("id", {"type": "string", "minLength": 1})
    account_id = in_path("id", {"type": "string", "minLength": 1})
    refused = plain_error("No text and no media, text over 500 characters, more than 4 media, media not the "
                          "caller's, already attached or still processing, or an Idempotency-Key reused with "
                          "another body")
    status = answer("The status", ref("MastodonStatus"))
    return {
        "/api/v1/statuses": {"post": operation(
            "postStatus", "Post a status with up to 4 media",
            {"200": status, "400": plain_error("A body that is not JSON or a form"), "404": NOT_FOUND,
             "422": refused},
            parameters=[{"name": "Idempotency-Key", "in": "header", "schema": STRING}], requestBody=_body())},
        "/api/v1/statuses/{id}": {
            "parameters": [status_id],
            "get": operation("getStatus", "One status", {"200": status, "404": NOT_FOUND}, authed=False),
            "put": operation("editStatus", "Edit a status's text and media",
                       {"200": status, "400": plain_error("A body that is not JSON or a form"),
                        "404": NOT_FOUND, "422": refused}, requestBody=_body()),
            "delete": operation("deleteStatus", "Delete a status; answers it with its source text",
                          {"200": status, "404": NOT_FOUND}),
        },
        "/api/v1/statuses/{id}/source": {"parameters": [status_id], "get": operation(
            "getStatusSource", "A status's plain text",
            {"200": answer("The source", ref("MastodonStatusSource")), "404": NOT_FOUND})},
        "/api/v1/statuses/{id}/history": {"parameters": [status_id], "get": operation(
            "getStatusHistory", "Every version of a status, oldest first",
            {"200": answer("The versions", {"type": "array", "items": ref("MastodonStatusEdit")}),
             "404": NOT_FOUND})},
        "/api/v1/accounts/lookup": {"get": operation(
            "lookupAccount", "The account of a user name",
            {"200": answer("The account", ref("MastodonAccount")), "404": plain_error("No such account")},
            authed=False, parameters=[in_query("acct", STRING)])},
        "/api/v1/accounts/{id}": {"parameters": [account_id], "get": operation(
            "getAccount", "One account", {"200": answer("The account", ref("MastodonAccount")),
                                          "404": plain_error("No such account")}, authed=False)},
        "/api/v1/accounts/{id}/statuses": {"parameters": [account_id], "get": operation(
            "getAccountStatuses", "An account's statuses, newest first",
            {"200": statuses_answer("The statuses"), "404": plain_error("No such account")}, authed=False,
            parameters=[*_flags("only_media", "exclude_replies", "pinned"), *page_parameters()])},
        "/api/v1/timelines/public": {"get": operation(
            "getPublicTimeline", "Everyone's public statuses, newest first", {"200": statuses_answer("The statuses")},
            authed=False, parameters=[*_flags("local", "remote", "only_media"), *page_parameters()])},
        "/api/v1/timelines/home": {"get": operation(
            "getHomeTimeline",
            "The caller's own statuses and those the accounts the caller follows show to followers, newest first",
            {"200": statuses_answer("The statuses")}, parameters=[*_flags("only_media"), *page_parameters()])},
        "/avatars/original/missing.png": {"get": operation(
            "getDefaultAvatar", "The picture of an account without one",
            {"200": {"description": "A PNG", "content": {"image/png": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}},
            authed=False)},
    }
