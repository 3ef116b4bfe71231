"""The posts and identity API's routes as OpenAPI; request bodies are the schemas of the Structs that decode them."""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import Fragment, answer, coded_error, in_path, nullable, ref, struct_schemas
from gateways.posts import limits
from gateways.posts.bodies import AvatarChange, NewPost

TAG = "posts"
STRING = {"type": "string"}
UNAVAILABLE = coded_error("The log is unreachable, or the change is not readable yet; try again")


def _schemas() -> dict[str, Any]:
    text = nullable(STRING)
    integer = nullable({"type": "integer"})
    media = {"type": "object", "required": ["id", "status", "contentType", "url", "previewUrl", "thumbnailUrl",
                                            "width", "height", "blurHash"], "properties": {
        "id": STRING, "status": {"enum": ["processing", "ready", "failed", "deleted"]},
        "contentType": text, "url": text, "previewUrl": text, "thumbnailUrl": text,
        "width": integer, "height": integer, "blurHash": text,
    }}
    post = {"type": "object", "required": ["id", "spaceDID", "body", "attachmentIds", "author", "createdAt", "url",
                                           "attachments"], "properties": {
        "id": STRING, "spaceDID": STRING, "body": STRING,
        "attachmentIds": {"type": "array", "items": STRING}, "author": STRING,
        "createdAt": {"type": "string", "format": "date-time"}, "url": {"type": "string", "format": "uri"},
        "attachments": {"type": "array", "items": ref("PostMedia")},
    }}
    identity = {"type": "object", "required": ["id", "avatarId", "avatarUrl", "avatar"], "properties": {
        "id": STRING, "avatarId": text, "avatarUrl": text, "avatar": nullable(ref("PostMedia")),
    }}
    return {"PostMedia": media, "Post": post, "Identity": identity}


def _constrained(components: dict[str, Any]) -> dict[str, Any]:
    """The limits gateways.posts.limits checks after decoding, written into the decoded Struct's schema."""
    fields = components["NewPost"]["properties"]
    fields["spaceDID"].update(pattern=f"^{limits.DID.pattern}$", maxLength=limits.SPACE_LIMIT)
    fields["body"]["maxLength"] = limits.BODY_LIMIT
    fields["attachmentIds"].update(maxItems=limits.ATTACHMENTS_LIMIT, uniqueItems=True)
    return components


def _bearer(operation: dict[str, Any], scopes: str) -> dict[str, Any]:
    operation["tags"] = [TAG]
    operation["security"] = [{"bearer": []}]
    operation["summary"] += f" (scope {scopes})"
    operation["responses"].update({
        "401": coded_error("The access token is missing or invalid (code invalid_token)"),
        "403": coded_error("The token lacks the scope (code insufficient_scope)"),
        "503": UNAVAILABLE,
    })
    return operation


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


BAD_BODY = coded_error("Not JSON, not an object, or a missing or mistyped field (its name in parameter)")
TOO_LARGE = coded_error("A body over 128 KiB")


def fragment() -> Fragment:
    (new_post, avatar_change), components = struct_schemas(NewPost, AvatarChange)
    return Fragment(
        paths={
            "/posts": {"post": _bearer({
                "operationId": "createPost", "summary": "Post a note with up to four of one's own images",
                "requestBody": _body(new_post),
                "responses": {
                    "201": answer("The post", ref("Post"), headers={"Location": {"schema": STRING}}),
                    "400": BAD_BODY,
                    "413": TOO_LARGE,
                    "422": coded_error("Bad spaceDID, body too long or empty, too many or repeated attachments, "
                                       "or media not found, not uploaded or failed"),
                },
            }, "write or write:statuses")},
            "/posts/{id}": {"parameters": [in_path("id", {"type": "string", "minLength": 1})], "get": {
                "operationId": "getPost", "summary": "A post; posts are public", "tags": [TAG],
                "responses": {"200": answer("The post", ref("Post")), "404": coded_error("No such post")},
            }, "delete": _bearer({
                "operationId": "deletePost", "summary": "Delete one's own post, on every protocol",
                "responses": {"204": {"description": "Deleted"},
                              "404": coded_error("No such post among the caller's own")},
            }, "write or write:statuses")},
            "/identity/current": {
                "get": _bearer({
                    "operationId": "getIdentity", "summary": "The caller's profile picture",
                    "responses": {"200": answer("The identity", ref("Identity"))},
                }, "read, read:accounts, write or write:accounts"),
                "put": _bearer({
                    "operationId": "putIdentity", "summary": "Set the profile picture to one of one's own images",
                    "requestBody": _body(avatar_change),
                    "responses": {
                        "200": answer("The identity", ref("Identity")),
                        "400": BAD_BODY,
                        "413": TOO_LARGE,
                        "422": coded_error("Media not found, not uploaded or failed"),
                    },
                }, "write or write:accounts"),
            },
        },
        schemas={**_constrained(components), **_schemas()},
        tags=({"name": TAG, "description": "Posts that attach media, and the profile picture"},),
    )
