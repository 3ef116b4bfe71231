"""Single use of an upload URL across every gateway replica: a claim in a JetStream key-value bucket.

A PUT claims the media id before it reads a byte; `create` fails when the key exists, so of two
uploads racing on two replicas exactly one goes on. The claim is released when the upload is refused
before anything was recorded, so the app may try again while the URL is valid; it is kept once the
upload is in the log. The log guards as well: the upload event only lands if nothing happened to the
media since it was requested.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from core.jetstream import JetStreamLog
from gateways.apierrors import ApiError
from gateways.kit.services import SERVICES
from gateways.presigned.errors import reachable

# Only uploads in flight depend on a claim (a finished one is in the log and the read model), so
# claims age out after an hour; one left by a replica that crashed mid-upload then frees its URL.
CLAIM_TTL = 3600.0


class Claims:
    """Owns the bucket handle, which holds no connection of its own: nothing to close."""

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket

    @classmethod
    async def open(cls, jetstream: JetStreamContext, stream: str, *, replicas: int = 1) -> Claims:
        name = f"{stream}_upload_claims"
        try:
            bucket = await jetstream.key_value(name)
        except js_errors.BucketNotFoundError:
            config = js_api.KeyValueConfig(bucket=name, ttl=CLAIM_TTL, history=1, replicas=replicas)
            bucket = await jetstream.create_key_value(config)
        return cls(bucket)

    async def claim(self, media_id: str) -> int | None:
        """The claim's revision, or None when somebody holds or used this upload already."""
        try:
            with reachable():
                return await self._bucket.create(media_id, b"")
        except js_errors.KeyWrongLastSequenceError:
            return None

    async def release(self, media_id: str, revision: int) -> None:
        """Gives the claim up, unless it is no longer ours (it aged out and somebody else claimed)."""
        with contextlib.suppress(js_errors.KeyWrongLastSequenceError), reachable():
            await self._bucket.delete(media_id, last=revision)


class ClaimsHolder:
    """Opens the app's Claims on first use, from the JetStream context of the app's event log."""

    def __init__(self) -> None:
        self._claims: Claims | None = None
        self._lock = asyncio.Lock()

    async def get(self, app: web.Application) -> Claims:
        if self._claims is not None:
            return self._claims
        async with self._lock:
            if self._claims is None:
                events = app[SERVICES].events
                if not isinstance(events, JetStreamLog):
                    raise ApiError(503, "unavailable", "Presigned uploads need the JetStream event log")
                with reachable():
                    self._claims = await Claims.open(
                        events.jetstream, events.stream, replicas=app[SERVICES].config.stream_replicas
                    )
            return self._claims


CLAIMS = web.AppKey("presigned_claims", ClaimsHolder)
