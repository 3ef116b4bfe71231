"""The key-value port: small, shared, expiring state that is not history (claims, nonces, request tokens).

A bucket maps keys to bytes with a revision per write, keeps one value per key (history 1) and, when
opened with a TTL, forgets a key that many seconds after its last write. Writes compare and set:
`create` only when absent, `update` and `delete` only at the revision the caller read, so two gateway
replicas racing on one key never both win. A store that cannot be reached raises
core.log.LogUnavailable, which every gateway answers with its 503.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from typing import Protocol

import msgspec

# What a NATS key-value key may be; every implementation takes the same keys.
KEY_SHAPE = re.compile(r"[-/_=.a-zA-Z0-9]+")


class KeyExists(Exception):
    """`create` found the key present."""


class WrongRevision(Exception):
    """`update` or `delete` found the key absent or written since the revision given."""


class Entry(msgspec.Struct, frozen=True):
    value: bytes
    revision: int


def check_key(key: str) -> None:
    if not KEY_SHAPE.fullmatch(key) or key.startswith(".") or key.endswith("."):
        raise ValueError(f"not a valid key: {key!r}")


class Bucket(Protocol):
    async def create(self, key: str, value: bytes) -> int:
        """The new revision; KeyExists when the key is present."""
        ...

    async def get(self, key: str) -> Entry | None:
        """The value and its revision, or None for a key absent, deleted or expired."""
        ...

    async def update(self, key: str, value: bytes, *, last: int) -> int:
        """The new revision, written only if the key is still at revision `last`; WrongRevision if not."""
        ...

    async def delete(self, key: str, *, last: int | None = None) -> None:
        """Forgets the key (if still at revision `last`, when given; WrongRevision if not)."""
        ...


class Buckets(Protocol):
    async def open(self, name: str, *, ttl: float | None) -> Bucket:
        """The bucket `name`, created with `ttl` seconds (None: keys never expire) if it does not exist.

        A bucket that exists keeps the TTL it was created with.
        """
        ...


async def shared_secret(buckets: Buckets, bucket: str, key: str) -> bytes:
    """A random key made once and kept in `bucket` without expiry, the same for every replica.

    Replicas asking together race to create it; `create` lets exactly one win and the others read the
    winner's. It never changes: a new one would void everything signed with the old.
    """
    kept = await buckets.open(bucket, ttl=None)
    with contextlib.suppress(KeyExists):
        await kept.create(key, secrets.token_urlsafe(32).encode())
    entry = await kept.get(key)
    if entry is None or not entry.value:
        raise RuntimeError(f"the key {key} in the bucket {bucket} is empty")
    return entry.value
