"""Ports that processors and gateways depend on, implemented in store/ and wired by the composition root."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Protocol

import msgspec

# A blob's name: the sha256 of its bytes, in lowercase hex.
SHA256 = re.compile(r"[0-9a-f]{64}")


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
    """Bytes kept under their sha256: staged on this host, then made durable and visible by commit.

    Every method that may cross the network is async, so a store on another host fits the same port.
    """

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        """Stream into a temp file, hashing as it goes; TooLarge (temp file gone) past `limit` bytes."""
        ...

    async def commit(self, staged: Staged) -> bool:
        """Make the staged bytes durable and visible under their hash, before the caller appends the event
        naming them; False when they were there already (the staged file is gone either way)."""
        ...

    def discard(self, staged: Staged) -> None: ...

    async def has(self, sha256: str) -> bool: ...

    async def local(self, sha256: str) -> Path:
        """A file on this host holding the blob, for libvips and FFmpeg to read; FileNotFoundError if none."""
        ...

    async def remove(self, sha256: str) -> None: ...

    async def stored(self) -> list[tuple[str, float]]:
        """Every committed blob with the time it was last committed (a repeated upload counts)."""
        ...

    def leftovers(self) -> list[Path]:
        """Temp files of uploads on this host: streaming now, or never finished (a crash mid-stream)."""
        ...

    async def unfinished(self, older_than: float) -> int:
        """Remove the partial writes that writers which died left inside the store itself, written before
        `older_than` (epoch seconds); how many. What one left on its own host is among `leftovers`."""
        ...


def checked_name(sha256: str) -> str:
    """`sha256`, checked, not trusted: a blob's name must never walk out of where blobs are kept."""
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


def rendition_dir(root: Path, blob: str, version: int) -> Path:
    """Renditions are a function of (blob, processing version), so they live under both."""
    return root / blob[:2] / blob / f"v{version}"
