"""Ports that processors and gateways depend on, implemented in store/ and wired by the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterable
from pathlib import Path
from typing import Protocol

import msgspec


class Staged(msgspec.Struct, frozen=True):
    """Bytes received into a private temp file, not yet visible under their hash."""

    path: Path
    sha256: str
    size: int


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class BlobStore(Protocol):
    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        """Stream into a temp file, hashing as it goes; TooLarge (temp file gone) past `limit` bytes."""
        ...

    async def commit(self, staged: Staged) -> bool:
        """Make the staged bytes visible under their hash; False when they were there already."""
        ...

    def discard(self, staged: Staged) -> None: ...

    def path(self, sha256: str) -> Path: ...

    def exists(self, sha256: str) -> bool: ...

    def remove(self, sha256: str) -> None: ...


def rendition_dir(root: Path, blob: str, version: int) -> Path:
    """Renditions are a function of (blob, processing version), so they live under both."""
    return root / blob[:2] / blob / f"v{version}"
