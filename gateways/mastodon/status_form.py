"""What a client sends to create or edit a status, from JSON, a url-encoded or a multipart form.

Forms repeat `media_ids[]` and spell `media_attributes[][id]`; JSON sends lists and objects. Both
end up as one typed StatusForm. Booleans arrive as JSON booleans or as "true", "1" and "on".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from gateways.kit import bodies
from gateways.kit.refusal import Refusal

MAX_BYTES = 64 * 1024
MAX_FIELDS = 64
TRUE = ("true", "1", "on", "yes", "t")
_ANY = msgspec.json.Decoder(dict[str, Any])


class MediaAttribute(msgspec.Struct, frozen=True):
    id: str
    description: str | None = None
    focus: str | None = None


class StatusForm(msgspec.Struct, frozen=True):
    text: str | None = None
    media_ids: tuple[str, ...] | None = None
    sensitive: bool | None = None
    spoiler_text: str | None = None
    visibility: str | None = None
    language: str | None = None
    in_reply_to_id: str | None = None
    media_attributes: tuple[MediaAttribute, ...] = ()


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE


def _str(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if not isinstance(value, str):
        raise Refusal(422, f"Validation failed: {name} must be a string")
    return value


def _ids(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _str(item, "media_ids")
        if text:
            out.append(text)
    return tuple(out)


def _attributes(value: object) -> tuple[MediaAttribute, ...]:
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
    out: list[MediaAttribute] = []
    for item in items:
        if not isinstance(item, dict) or not _str(item.get("id"), "id"):
            raise Refusal(422, "Validation failed: media_attributes need an id")
        out.append(MediaAttribute(id=str(_str(item["id"], "id")),
                                  description=_str(item.get("description"), "description"),
                                  focus=_str(item.get("focus"), "focus")))
    return tuple(out)


def from_fields(fields: dict[str, Any]) -> StatusForm:
    media: tuple[str, ...] | None = None
    if "media_ids" in fields:
        media = _ids(fields["media_ids"])
    return StatusForm(
        text=_str(fields.get("status"), "status"),
        media_ids=media,
        sensitive=None if fields.get("sensitive") is None else _bool(fields["sensitive"]),
        spoiler_text=_str(fields.get("spoiler_text"), "spoiler_text"),
        visibility=_str(fields.get("visibility"), "visibility"),
        language=_str(fields.get("language"), "language"),
        in_reply_to_id=_str(fields.get("in_reply_to_id"), "in_reply_to_id"),
        media_attributes=_attributes(fields.get("media_attributes", [])),
    )


def form_fields(data: bytes, codec: str = "utf-8") -> dict[str, Any]:
    """A url-encoded form with Rails' `name[]` lists and `name[][key]` lists of objects."""
    try:
        pairs = parse_qsl(data.decode(codec), keep_blank_values=True, encoding=codec, errors="strict",
                          max_num_fields=MAX_FIELDS)
    except ValueError:
        raise Refusal(400, f"The form must be url-encoded text of at most {MAX_FIELDS} fields") from None
    fields: dict[str, Any] = {}
    attributes: list[dict[str, str]] = []
    for name, value in pairs:
        if name.endswith("[]"):
            fields.setdefault(name[:-2], []).append(value)
        elif name.startswith("media_attributes[") and name.endswith("]"):
            key = name.rsplit("[", 1)[1][:-1]
            if not attributes or key in attributes[-1]:
                attributes.append({})
            attributes[-1][key] = value
        else:
            fields.setdefault(name, value)
    if attributes:
        fields["media_attributes"] = attributes
    return fields


async def read(request: web.Request) -> tuple[StatusForm, bytes]:
    """The form, and the body's bytes (an Idempotency-Key is checked against them)."""
    codec = bodies.charset(request.charset)
    data = await bodies.read_bytes(request, MAX_BYTES) if request.can_read_body else b""
    if request.content_type == "application/json":
        try:
            fields = bodies.decode_json(data.decode(codec).encode() if data else b"{}", _ANY)
        except (Refusal, UnicodeError):
            raise Refusal(400, "Invalid JSON body") from None
    else:
        fields = form_fields(data, codec)
    for name, value in request.query.items():
        fields.setdefault(name, value)
    return from_fields(fields), data
