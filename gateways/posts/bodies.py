"""Request bodies: read up to a cap, decoded straight into typed Structs; anything malformed is a 400."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import web

from gateways.kit import bodies as kit
from gateways.kit.refusal import Refusal
from gateways.posts import errors

T = TypeVar("T")

# Room for the longest body as JSON escapes (12 bytes per astral character) and the fields around it.
MAX_BYTES = 128 * 1024


class NewPost(msgspec.Struct, frozen=True):
    space_did: str = msgspec.field(name="spaceDID")
    body: str = ""
    attachment_ids: tuple[str, ...] = msgspec.field(name="attachmentIds", default=())


class AvatarChange(msgspec.Struct, frozen=True):
    avatar_id: str = msgspec.field(name="avatarId")


async def decode(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    try:
        return await kit.read_json(request, decoder, limit=MAX_BYTES)
    except Refusal as exc:
        # This API has always called an oversized body `request_too_large`.
        code = errors.REQUEST_TOO_LARGE if exc.code == kit.TOO_LARGE else exc.code
        raise Refusal(exc.status, exc.message, code=code, parameter=exc.parameter) from None


POST = msgspec.json.Decoder(NewPost)
AVATAR = msgspec.json.Decoder(AvatarChange)
