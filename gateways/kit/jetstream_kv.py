"""The key-value port on NATS JetStream: buckets next to the event stream, shared by every gateway replica.

A bucket `name` is the JetStream bucket `<stream>_<name>`, so several logs on one broker never share
one and a deployment keeps its buckets across versions. A call refuses at once while the client is
reconnecting and gives up after `timeout` seconds when the broker does not answer, raising
LogUnavailable either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats.errors
from nats.aio.client import Client
from nats.js import api as js_api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from core.log import LogUnavailable
from gateways.kit.keyvalue import Bucket, Entry, KeyExists, WrongRevision, check_key

WRONG_LAST_SEQUENCE = (10071, 10164)
UNREACHABLE = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    js_errors.ServiceUnavailableError,
    js_errors.NoStreamResponseError,
)


class _Reach:
    """Every broker call of one Buckets: refused while disconnected, bounded by a deadline."""

    def __init__(self, client: Client, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if not self._client.is_connected:
            # While reconnecting, nats-py would buffer the write and send it once the connection is
            # back: a create its caller was told had failed would land after all.
            raise LogUnavailable("not connected")
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except UNREACHABLE as exc:
            raise LogUnavailable(str(exc) or type(exc).__name__) from exc
        except TimeoutError as exc:
            raise LogUnavailable(f"no answer within {self._timeout} s") from exc


class JetStreamBucket:
    """One bucket handle; it holds no connection of its own, nothing to close."""

    def __init__(self, handle: KeyValue, reach: _Reach) -> None:
        self._handle = handle
        self._reach = reach

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        try:
            async with self._reach():
                return await self._handle.create(key, value)
        except js_errors.KeyWrongLastSequenceError:
            raise KeyExists(key) from None

    async def get(self, key: str) -> Entry | None:
        check_key(key)
        try:
            async with self._reach():
                entry = await self._handle.get(key)
        except js_errors.KeyNotFoundError:
            return None
        if entry.revision is None:
            return None
        return Entry(entry.value or b"", entry.revision)

    async def update(self, key: str, value: bytes, *, last: int) -> int:
        check_key(key)
        try:
            async with self._reach():
                return await self._handle.update(key, value, last=last)
        except js_errors.KeyWrongLastSequenceError:
            raise WrongRevision(key) from None

    async def delete(self, key: str, *, last: int | None = None) -> None:
        check_key(key)
        try:
            async with self._reach():
                await self._handle.delete(key, last=last)
        except js_errors.APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise WrongRevision(key) from None
            raise


class JetStreamBuckets:
    """The buckets of one event stream. The owner of the NATS client closes it; this holds nothing open."""

    def __init__(self, client: Client, stream: str, *, replicas: int = 1, timeout: float = 5.0) -> None:
        self._jetstream = client.jetstream(timeout=timeout)
        self._stream = stream
        # As durable as the log: a lost claim or nonce would let a second upload or a replay through.
        self._replicas = replicas
        self._reach = _Reach(client, timeout)
        self._open: dict[str, JetStreamBucket] = {}

    def bucket_name(self, name: str) -> str:
        return f"{self._stream}_{name}"

    async def open(self, name: str, *, ttl: float | None) -> Bucket:
        opened = self._open.get(name)
        if opened is not None:
            return opened
        # No lock: callers racing here all ask for the same configuration, which JetStream accepts
        # as one, and none waits behind another's deadline.
        full = self.bucket_name(name)
        async with self._reach():
            try:
                handle = await self._jetstream.key_value(full)
            except js_errors.BucketNotFoundError:
                config = js_api.KeyValueConfig(bucket=full, ttl=ttl, history=1, replicas=self._replicas)
                handle = await self._jetstream.create_key_value(config)
        opened = self._open.setdefault(name, JetStreamBucket(handle, self._reach))
        return opened
