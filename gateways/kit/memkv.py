"""The key-value port in memory, for one process: unit tests and anything that needs no second replica."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from gateways.kit.keyvalue import Bucket, Entry, KeyExists, WrongRevision, check_key


class _Stored(msgspec.Struct, frozen=True):
    value: bytes
    revision: int
    written: float


class MemoryBucket:
    """Keys age from their last write, as in JetStream; expiry is noticed on the next look at the key."""

    def __init__(self, ttl: float | None, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Stored] = {}
        self._revision = 0

    def _live(self, key: str) -> _Stored | None:
        check_key(key)
        stored = self._entries.get(key)
        if stored is not None and self._ttl is not None and self._clock() - stored.written >= self._ttl:
            del self._entries[key]
            return None
        return stored

    def _write(self, key: str, value: bytes) -> int:
        # Revisions count writes across the whole bucket, like the sequence of a JetStream stream.
        self._revision += 1
        self._entries[key] = _Stored(bytes(value), self._revision, self._clock())
        return self._revision

    async def create(self, key: str, value: bytes) -> int:
        if self._live(key) is not None:
            raise KeyExists(key)
        return self._write(key, value)

    async def get(self, key: str) -> Entry | None:
        stored = self._live(key)
        return None if stored is None else Entry(stored.value, stored.revision)

    async def update(self, key: str, value: bytes, *, last: int) -> int:
        stored = self._live(key)
        if stored is None or stored.revision != last:
            raise WrongRevision(key)
        return self._write(key, value)

    async def delete(self, key: str, *, last: int | None = None) -> None:
        stored = self._live(key)
        if last is not None and (stored is None or stored.revision != last):
            raise WrongRevision(key)
        self._revision += 1
        self._entries.pop(key, None)


class MemoryBuckets:
    """Buckets by name; `clock` (seconds, monotonic) lets a test move time on instead of waiting."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, MemoryBucket] = {}

    async def open(self, name: str, *, ttl: float | None) -> Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = MemoryBucket(ttl, self._clock)
        return bucket
