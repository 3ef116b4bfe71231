"""Single use of an upload URL across every gateway replica: a claim in a shared key-value bucket.

A PUT claims the media id before it reads a byte; `create` fails when the key exists, so of two
uploads racing on two replicas exactly one goes on. The claim is released when the upload is refused
before anything was recorded, so the app may try again while the URL is valid; it is kept once the
upload is in the log. The log guards as well: the upload event only lands if nothing happened to the
media since it was requested.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from gateways.kit.keyvalue import Bucket, Buckets, KeyExists, WrongRevision
from gateways.kit.services import SERVICES

BUCKET = "upload_claims"
# Only uploads in flight depend on a claim (a finished one is in the log and the read model), so
# claims age out after an hour; one left by a replica that crashed mid-upload then frees its URL.
CLAIM_TTL = 3600.0


class Claims:
    """Owns nothing that needs closing: the bucket belongs to the app's Buckets."""

    def __init__(self, bucket: Bucket) -> None:
        self._bucket = bucket

    @classmethod
    async def open(cls, buckets: Buckets) -> Claims:
        return cls(await buckets.open(BUCKET, ttl=CLAIM_TTL))

    async def claim(self, media_id: str) -> int | None:
        """The claim's revision, or None when somebody holds or used this upload already."""
        try:
            return await self._bucket.create(media_id, b"")
        except KeyExists:
            return None

    async def release(self, media_id: str, revision: int) -> None:
        """Gives the claim up, unless it is no longer ours (it aged out and somebody else claimed)."""
        with contextlib.suppress(WrongRevision):
            await self._bucket.delete(media_id, last=revision)


async def open_claims(app: web.Application) -> Claims:
    return await Claims.open(app[SERVICES].buckets)
