"""The presigned-upload API's routes as OpenAPI: ask for an upload URL, PUT the bytes there, poll the media."""

from __future__ import annotations

from typing import Any

from core.kinds import AV_CONTAINERS
from gateways.kit.openapi import Fragment, answer, coded_error, in_path, in_query, nullable, ref
from gateways.presigned.requests import IMAGE_TYPES

TAG = "presigned"
STRING = {"type": "string"}
MEDIA_ID = in_path("id", {"type": "string", "pattern": r"^\d+$"}, "The media id POST /media granted")
# An id that is not a number matches no route, which answers in the shape of unrouted paths.
NOT_FOUND = answer("No such media among the caller's own (an id that is not a number: the plain shape)",
                   {"anyOf": [ref("CodedError"), ref("PlainError")]})
UNAVAILABLE = coded_error("The log is unreachable; try again (code unavailable)")


def _schemas() -> dict[str, Any]:
    request = {"type": "object", "required": ["filename", "contentType"], "properties": {
        "filename": {"type": "string", "minLength": 1, "description": "A plain file name, at most 255 bytes"},
        # Video and audio types too where the operator allows them (--presigned-av).
        "contentType": {"enum": [*IMAGE_TYPES, *sorted(AV_CONTAINERS)]},
    }}
    grant = {"type": "object", "required": ["uploadUrl", "contentDispositionHeader", "media"], "properties": {
        "uploadUrl": {"type": "string", "format": "uri", "description": "PUT the bytes here, once, before it expires"},
        "contentDispositionHeader": STRING,
        "media": {"type": "object", "required": ["id", "filename", "contentType"], "properties": {
            "id": STRING, "filename": STRING, "contentType": STRING}},
    }}
    integer = nullable({"type": "integer"})
    media = {"type": "object", "required": [
        "id", "filename", "contentType", "kind", "size", "width", "height", "status", "publicDownloadUrl", "blurHash",
        "canonicalUri", "createdAt",
    ], "properties": {
        "id": STRING, "filename": STRING, "contentType": STRING,
        "kind": {"enum": ["image", "gifv", "video", "audio"]},
        "size": integer, "width": integer, "height": integer,
        "status": {"enum": ["pending", "processing", "ready", "failed"]},
        "publicDownloadUrl": nullable({"type": "string", "format": "uri"}),
        "blurHash": nullable(STRING),
        "canonicalUri": nullable({"type": "string", "format": "uri"}),
        "createdAt": {"type": "string", "format": "date-time"},
        "failure": STRING,
    }}
    return {"PresignedRequest": request, "PresignedGrant": grant, "PresignedMedia": media}


def _bearer(operation: dict[str, Any]) -> dict[str, Any]:
    operation["tags"] = [TAG]
    operation["security"] = [{"bearer": []}]
    operation["responses"].update({
        "401": coded_error("The access token is missing or invalid (code unauthorized)"),
        "403": coded_error("The token lacks the scope (code forbidden)"),
    })
    return operation


def fragment() -> Fragment:
    raw = {"type": "string", "contentMediaType": "application/octet-stream"}
    return Fragment(
        paths={
            "/media": {"post": _bearer({
                "operationId": "requestUpload", "summary": "Get an upload URL for one image (scope write:media)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PresignedRequest")}}},
                "responses": {
                    "200": answer("The upload URL and the pending media", ref("PresignedGrant")),
                    "400": coded_error("Not a JSON object, or a missing or bad filename or contentType"),
                    "413": coded_error("A body over 16 KiB"),
                    "415": coded_error("A contentType that is not an image type taken here"),
                    "503": UNAVAILABLE,
                },
            })},
            "/media/{id}": {"parameters": [MEDIA_ID], "get": _bearer({
                "operationId": "getPresignedMedia", "summary": "Where a media is, from pending to ready",
                "responses": {
                    "200": answer("The media", ref("PresignedMedia")),
                    "404": NOT_FOUND,
                },
            })},
            "/media/{id}/upload": {"parameters": [MEDIA_ID], "put": {
                "operationId": "putUpload", "tags": [TAG],
                "summary": "The image's bytes, to the URL POST /media granted: its signature is the authorization",
                "parameters": [
                    in_query("ct", STRING, "The content type the URL was granted for", required=True),
                    in_query("max", {"type": "integer", "minimum": 0}, "The byte cap", required=True),
                    in_query("exp", {"type": "integer", "minimum": 0}, "Expiry, seconds since the epoch",
                             required=True),
                    in_query("sig", STRING, "The signature", required=True),
                ],
                "requestBody": {"required": True, "content": {t: {"schema": raw} for t in IMAGE_TYPES}},
                "responses": {
                    "200": answer("The uploaded media", ref("PresignedMedia")),
                    "400": coded_error("The body ended early"),
                    "403": coded_error("A signature that does not match, or an expired URL"),
                    "404": NOT_FOUND,
                    "409": coded_error("The URL was used already"),
                    "413": coded_error("More bytes than the URL allows"),
                    "415": coded_error("Another Content-Type than granted, or bytes of another type"),
                    "422": coded_error("Too many pixels, or a truncated or corrupt image"),
                    "503": UNAVAILABLE,
                },
            }},
        },
        schemas=_schemas(),
        tags=({"name": TAG, "description": "Presigned uploads: an upload URL an app hands to its client"},),
    )
