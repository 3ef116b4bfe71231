"""Ports that processors and gateways depend on, implemented in store/ and wired by the composition root."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Protocol

import msgspec

# A blob's name: the sha256 of its bytes, in lowercase hex.
SHA256 = re.compile(r"[0-9a-f]{64}")
# The names of files made from a blob, as a shared store keeps them: BLOB/vVERSION/STYLE.EXT for a
# rendition, BLOB/DIGEST.EXT for a transformation (DIGEST: of what its bytes are a function of).
RENDITION_NAMES = r"[0-9a-f]{64}/v[0-9]{1,10}/(original|small|thumb)\.(jpg|png|gif|webp|mp4|mp3)"
VARIANT_NAMES = r"[0-9a-f]{64}/[0-9a-f]{64}\.(jpg|png|gif|webp|avif)"


class Staged(msgspec.Struct, frozen=True):
    """Bytes received, not yet visible under their hash: held in memory when they were few, else in a
    private temp file at `path`. Held bytes have no file: a store writes them where they are kept."""

    path: Path
    sha256: str
    size: int
    held: bytes | None = None

    @property
    def source(self) -> Path | bytes:
        """What a reader of the bytes opens: the bytes themselves when held, else the temp file."""
        return self.path if self.held is None else self.held


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


class DerivedFiles(Protocol):
    """Files made from blobs (renditions, transformations), kept where every host of a deployment reads
    them, so that each is made once. A name starts with its blob's, then a slash.

    Laid out on this host as the renditions and variants directories are, so a file fetched is where a
    file made here would be."""

    async def fetch(self, name: str) -> Path | None:
        """A file on this host with the bytes kept under `name`, fetched if need be; None if none are kept."""
        ...

    async def keep(self, name: str, path: Path) -> bool:
        """Keep a copy of the file at `path` under `name`, unless bytes are kept there already; whether
        these were. The file stays on this host."""
        ...

    async def keep_bytes(self, name: str, data: bytes) -> bool: ...

    async def stored(self) -> list[tuple[str, float]]:
        """Every name kept with the time it was kept."""
        ...

    async def remove(self, name: str) -> None: ...

    def leftovers(self) -> list[Path]:
        """Temp files of copies kept or fetched on this host, under way or never finished."""
        ...

    async def unfinished(self, older_than: float) -> int:
        """As `BlobStore.unfinished`."""
        ...


def blob_of(name: str) -> str:
    """The blob a derived file was made from."""
    return name.partition("/")[0]


def checked_name(sha256: str) -> str:
    """`sha256`, checked, not trusted: a blob's name must never walk out of where blobs are kept."""
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


def rendition_dir(root: Path, blob: str, version: int) -> Path:
    """Renditions are a function of (blob, processing version), so they live under both."""
    return root / blob[:2] / blob / f"v{version}"


def rendition_name(blob: str, version: int, file: str) -> str:
    """A rendition's name among derived files; `file` is e.g. small.jpg. Its path relative to the
    renditions directory is NN/NAME, as `rendition_dir` lays it out."""
    return f"{blob}/v{version}/{file}"
