"""The image files' routes as OpenAPI: renditions by URL and by digest, each with the transformation query."""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import Fragment, answer, coded_error, in_path, in_query, plain_error
from gateways.transform import params

TAG = "images"
IMAGE = {"type": "string", "contentMediaType": "application/octet-stream"}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif")
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
EDGES = ("top", "bottom", "left", "right", "top,left", "top,right", "bottom,left", "bottom,right")


def _unit(name: str, description: str) -> dict[str, Any]:
    return in_query(name, {"type": "number", "minimum": 0, "maximum": 1}, description)


def query() -> list[dict[str, Any]]:
    """imgix-style parameters; any of them makes the answer a transformation. Unknown names are ignored."""
    side = {"type": "integer", "minimum": 1, "maximum": params.MAX_SIDE}
    return [
        in_query("w", side, "Width in pixels"),
        in_query("h", side, "Height in pixels"),
        in_query("fit", {"enum": list(params.FITS), "default": "clip"}, "How the image fits w x h"),
        in_query("crop", {"enum": ["focalpoint", *params.SMART_CROPS, *EDGES]},
                 "Where fit=crop or fit=min crops: a focal point, a smart crop, or one or two edges"),
        _unit("fp-x", "Focal point across, 0 (left) to 1 (right); the media's focus point when absent"),
        _unit("fp-y", "Focal point down, 0 (top) to 1 (bottom)"),
        in_query("q", {"type": "integer", "minimum": 0, "maximum": 100}, "Quality of lossy formats"),
        in_query("dpr", {"type": "number", "exclusiveMinimum": 0, "maximum": params.MAX_DPR},
                 "Device pixel ratio: multiplies w and h"),
        in_query("fm", {"enum": list(params.FORMATS)}, "Output format"),
        in_query("auto", {"type": "string", "pattern": "^(format|compress)(,(format|compress))?$"},
                 "format: AVIF or WebP when Accept names it; compress: a lower default quality"),
        in_query(params.SIGNATURE, {"type": "string"},
                 "The URL's signature, required when the server has a transformation key (mediaplex sign-url)"),
    ]


def _responses(not_found: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": {"description": "The image, or its transformation",
                "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
                "content": {t: {"schema": IMAGE} for t in IMAGE_TYPES}},
        "304": answer("The transformation the If-None-Match tag names, unchanged"),
        "400": coded_error("A transformation parameter repeated, malformed or out of range, or a signature "
                           "on a server that signs none"),
        "403": coded_error("A missing or wrong signature on a server that signs URLs"),
        "404": not_found,
    }


def fragment() -> Fragment:
    return Fragment(
        paths={
            "/media/files/{blob}/v{version}/{name}": {
                "parameters": [
                    in_path("blob", SHA256, "The SHA-256 of the uploaded bytes"),
                    in_path("version", {"type": "integer", "minimum": 0}, "The processing run that wrote it"),
                    in_path("name", {"type": "string", "pattern": "^(original|small|thumb)\\.(jpg|png|gif|webp)$"}),
                ],
                "get": {
                    "operationId": "getRendition", "tags": [TAG],
                    "summary": "A rendition at the URL the APIs give, re-rendered if it went missing",
                    "parameters": query(),
                    "responses": _responses(plain_error("No such rendition, or one of a pump.io upload not posted "
                                                         "yet asked by anyone but its owner")),
                },
            },
            "/media/sha256/{blob}": {
                "parameters": [in_path("blob", SHA256, "The SHA-256 of the uploaded bytes")],
                "get": {
                    "operationId": "getByDigest", "tags": [TAG],
                    "summary": "The original of a ready media by its content address",
                    "parameters": query(),
                    "responses": _responses(coded_error("No ready media has these bytes, or only pump.io uploads "
                                                         "not posted yet that are not the asker's")),
                },
            },
        },
        tags=({"name": TAG, "description": "Image files and imgix-style transformations; public, but for "
                                           "pump.io uploads not posted yet, which answer their owner's "
                                           "signed OAuth 1.0a request only"},),
    )
