"""`/placeholder.png`: a BlurHash decoded to a tiny PNG, shown in a picture's box until the picture arrives.

Decoding here rather than in the browser keeps the pages free of a front-end build. The answer depends
on the query alone, so browsers and caches keep it for good.
"""

from __future__ import annotations

import asyncio

import blurhash
import pyvips
from aiohttp import web

from gateways.kit import numbers
from gateways.kit.refusal import Refusal
from gateways.web.pictures import PLACEHOLDER_SIDE

# A BlurHash of 9x9 components, the most there are, is 4 + 2 * 80 characters.
LONGEST_HASH = 164
NOT_A_BLURHASH = "That is not a BlurHash"
BAD_SIZE = f"w and h are whole numbers from 1 to {PLACEHOLDER_SIDE}"
IMMUTABLE = "public, max-age=31536000, immutable"


def _png(hashed: str, width: int, height: int) -> bytes:
    pixels = blurhash.decode(hashed, width, height).tobytes()
    image = pyvips.Image.new_from_memory(pixels, width, height, 3, "uchar")
    return bytes(image.pngsave_buffer(compression=9, strip=True))


async def placeholder(request: web.Request) -> web.StreamResponse:
    query = request.query
    hashed = query.get("hash", "")
    if not hashed or len(hashed) > LONGEST_HASH or not hashed.isascii() or not blurhash.is_valid_blurhash(hashed):
        raise Refusal(400, NOT_A_BLURHASH)
    width = numbers.whole(query.get("w", ""), PLACEHOLDER_SIDE)
    height = numbers.whole(query.get("h", ""), PLACEHOLDER_SIDE)
    if not width or not height:
        raise Refusal(400, BAD_SIZE)
    body = await asyncio.to_thread(_png, hashed, width, height)
    return web.Response(body=body, content_type="image/png", headers={"Cache-Control": IMMUTABLE})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/placeholder.png", placeholder)
