"""Request bodies: read up to a cap, decoded straight into typed Structs; anything malformed is a 400."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
from aiohttp import web

from gateways.apierrors import ApiError
from gateways.posts import errors

T = TypeVar("T")

# Room for the longest body as JSON escapes (12 bytes per astral character) and the fields around it.
MAX_BYTES = 128 * 1024
CHUNK = 16 * 1024

_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_AT = re.compile(r" - at `\$\.([A-Za-z_]+)")


class NewPost(msgspec.Struct, frozen=True):
    space_did: str = msgspec.field(name="spaceDID")
    body: str = ""
    attachment_ids: tuple[str, ...] = msgspec.field(name="attachmentIds", default=())


class AvatarChange(msgspec.Struct, frozen=True):
    avatar_id: str = msgspec.field(name="avatarId")


async def _read(request: web.Request) -> bytes:
    too_large = ApiError(413, errors.REQUEST_TOO_LARGE, f"The request body must be at most {MAX_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_BYTES:
        raise too_large
    data = bytearray()
    # Chunked bodies carry no length: stop reading once past the cap.
    async for chunk in request.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > MAX_BYTES:
            raise too_large
    return bytes(data)


async def decode(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    data = await _read(request)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise _refusal(str(exc)) from None
    except msgspec.DecodeError:
        raise ApiError(400, errors.INVALID_JSON, "The request body is not valid JSON") from None


def _refusal(message: str) -> ApiError:
    """msgspec says which field is wrong; the answer names it as `parameter`."""
    if missing := _MISSING.search(message):
        name = missing.group(1)
        return ApiError(400, errors.MISSING_PARAMETER, f"'{name}' is required", parameter=name)
    if at := _AT.search(message):
        return ApiError(400, errors.INVALID_PARAMETER, message, parameter=at.group(1))
    return ApiError(400, errors.INVALID_JSON, "The request body must be a JSON object")


POST = msgspec.json.Decoder(NewPost)
AVATAR = msgspec.json.Decoder(AvatarChange)
