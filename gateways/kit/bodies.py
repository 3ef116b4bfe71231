"""Request bodies read no further than a cap and decoded into typed values; anything else is a Refusal.

Raw bytes (the declared length checked before reading, a chunked body cut off at the cap), JSON
decoded with msgspec into a given type (nesting depth checked before decoding), url-encoded forms
(field count and sizes capped, values are strings) and charsets (only ones Python's codecs know).
Messages are neutral; a gateway that needs its own texts catches Refusal and says it its way.
"""

from __future__ import annotations

import codecs
import re
from typing import TypeVar
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from gateways.kit.refusal import Refusal

T = TypeVar("T")

CHUNK = 16 * 1024
# No request of any protocol here nests deeper; msgspec's own limit is far above and ends in RecursionError.
JSON_DEPTH = 32

# Codes, shared with the protocols whose errors carry one.
TOO_LARGE = "too_large"
INVALID_JSON = "invalid_json"
MISSING_PARAMETER = "missing_parameter"
INVALID_PARAMETER = "invalid_parameter"
UNSUPPORTED_CHARSET = "unsupported_charset"
INVALID_FORM = "invalid_form"

NOT_JSON = "The request body is not valid JSON"
NOT_AN_OBJECT = "The request body must be a JSON object"
UNKNOWN_CHARSET = "The request names a charset this server does not know"

# A JSON string, unrolled so that long strings cost one pass without backtracking.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Depth does not care which kind a bracket is; a mismatch is the decoder's to find.
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_AT = re.compile(r" - at `\$\.([A-Za-z_][A-Za-z0-9_]*)")


class FormCaps(msgspec.Struct, frozen=True):
    """What one url-encoded form may hold; sizes in bytes as sent (still percent-encoded)."""

    max_bytes: int = 64 * 1024
    max_fields: int = 32
    max_name: int = 64
    max_value: int = 16 * 1024


def too_large(limit: int) -> Refusal:
    return Refusal(413, f"The request body must be at most {limit} bytes", code=TOO_LARGE)


def charset(name: str | None, default: str = "utf-8") -> str:
    """The codec for a `charset=` parameter; one Python does not know, or not a text encoding, is refused."""
    if not name:
        return default
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        raise Refusal(415, UNKNOWN_CHARSET, code=UNSUPPORTED_CHARSET) from None
    # base64, rot13, zlib and friends are codecs too, but not between bytes and text.
    if not getattr(info, "_is_text_encoding", True):
        raise Refusal(415, UNKNOWN_CHARSET, code=UNSUPPORTED_CHARSET)
    return info.name


async def read_bytes(request: web.Request, limit: int, *, keep: bool = False) -> bytes:
    """The whole body, at most `limit` bytes, else 413 without reading past the cap.

    `keep`: read through aiohttp's own buffer (bounded by the app's client_max_size) so that a later
    `request.read()` or `request.post()`, such as an OAuth signature check, sees the same bytes.
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    if keep:
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large(limit) from None
        if len(data) > limit:
            raise too_large(limit)
        return data
    body = bytearray()
    # A chunked body carries no length: stop once past the cap.
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def check_depth(data: bytes, depth: int = JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `depth`, in a few C-speed passes instead of a walk in Python.

    Strings are dropped (brackets inside them do not nest), the rest is cut down to brackets of one
    kind, and each pass removes the innermost pairs; a run of more than `depth` openers, or anything
    left after `depth` passes that still shrink, is nested deeper than that.
    """
    brackets = _STRING.sub(b"", data).translate(_ONE_KIND, _NOT_BRACKETS)
    too_deep = b"[" * (depth + 1)
    for _ in range(depth):
        if not brackets:
            return
        if too_deep in brackets:
            break
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            return  # unbalanced: not JSON, which the decoder says
        brackets = reduced
    if brackets and (too_deep in brackets or len(brackets.replace(b"[]", b"")) < len(brackets)):
        raise Refusal(400, f"The request body is nested more than {depth} levels deep", code=INVALID_JSON)


def decode_json(data: bytes, decoder: msgspec.json.Decoder[T], *, depth: int = JSON_DEPTH) -> T:
    """`data` as the decoder's type; a wrong or missing field is a 400 naming it as `parameter`."""
    check_depth(data, depth)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None
    except (msgspec.DecodeError, RecursionError):
        raise Refusal(400, NOT_JSON, code=INVALID_JSON) from None


def invalid(message: str) -> Refusal:
    """msgspec's validation message as a refusal that names the field to blame."""
    if missing := _MISSING.search(message):
        name = missing.group(1)
        return Refusal(400, f"'{name}' is required", code=MISSING_PARAMETER, parameter=name)
    if at := _AT.search(message):
        return Refusal(400, message, code=INVALID_PARAMETER, parameter=at.group(1))
    return Refusal(400, NOT_AN_OBJECT, code=INVALID_JSON)


async def read_json(request: web.Request, decoder: msgspec.json.Decoder[T], *, limit: int,
                    depth: int = JSON_DEPTH, keep: bool = False) -> T:
    """The body as JSON of the decoder's type, in UTF-8 or the charset the Content-Type names."""
    codec = charset(request.charset)
    data = await read_bytes(request, limit, keep=keep)
    if codec != "utf-8":
        try:
            data = data.decode(codec).encode("utf-8")
        except UnicodeError:
            raise Refusal(400, NOT_JSON, code=INVALID_JSON) from None
    return decode_json(data, decoder, depth=depth)


def parse_form(data: bytes, caps: FormCaps, codec: str = "utf-8") -> dict[str, str]:
    """A url-encoded body as strings; the first of repeated names wins."""
    try:
        text = data.decode(codec)
        pairs = parse_qsl(text, keep_blank_values=True, encoding=codec, errors="strict",
                          max_num_fields=caps.max_fields)
    except ValueError:  # UnicodeDecodeError included
        raise Refusal(400, f"The form must be url-encoded text of at most {caps.max_fields} fields",
                      code=INVALID_FORM) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if len(name.encode()) > caps.max_name:
            raise Refusal(400, f"Form field names must be at most {caps.max_name} bytes", code=INVALID_FORM)
        if len(value.encode()) > caps.max_value:
            raise Refusal(413, f"'{name}' must be at most {caps.max_value} bytes", code=TOO_LARGE,
                          parameter=name)
        fields.setdefault(name, value)
    return fields


async def read_form(request: web.Request, caps: FormCaps, *, keep: bool = False) -> dict[str, str]:
    codec = charset(request.charset)
    return parse_form(await read_bytes(request, caps.max_bytes, keep=keep), caps, codec)
