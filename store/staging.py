"""Uploads received into private temp files on this host, hashed and capped as they stream in.

Every blob store stages the same way: libvips and FFmpeg read an upload's header from memory or a
local file before anything about it is stored, and a refused upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from core.ports import Staged, TooLarge

# Uploads up to this size are held in memory and never staged in a file: the store writes them once,
# where it keeps them. Larger ones spool to a temp file past this size.
SPOOL_BYTES = 1024 * 1024
# What a file on this host is read in when it is staged again (copied into a store): a thread hop each.
READ_BYTES = 1024 * 1024
# hashlib gives up the interpreter lock to hash more than 2047 bytes at once (CPython's
# HASHLIB_GIL_MINSIZE). On the event loop that is a loss: each give-up lets a worker thread in, and
# taking the lock back waits behind it, while the hashing itself is a microsecond a piece. Fed in
# pieces of this size, an upload is hashed with the lock held (7% less CPU an upload, bench row 3c).
HASHED_WITH_THE_LOCK = 2047


class Staging:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        """The bytes held, or in a temp file, not synced; TooLarge (temp file gone) past `limit` bytes."""
        temp = self._directory / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        spooled: list[bytes] = []
        handle: BinaryIO | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                _hash(digest, chunk)
                if handle is not None:
                    await asyncio.to_thread(handle.write, chunk)
                    continue
                spooled.append(chunk)
                if size > SPOOL_BYTES:
                    handle = await asyncio.to_thread(_open_with, temp, spooled)
                    spooled = []
            if handle is not None:
                await asyncio.to_thread(handle.close)
        except BaseException:
            if handle is not None:
                handle.close()
            temp.unlink(missing_ok=True)
            raise
        held = None if handle is not None else spooled[0] if len(spooled) == 1 else b"".join(spooled)
        return Staged(path=temp, sha256=digest.hexdigest(), size=size, held=held)

    def discard(self, staged: Staged) -> None:
        if staged.held is None:
            staged.path.unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        return sorted(path for path in self._directory.iterdir() if path.is_file())


def _hash(digest: hashlib._Hash, chunk: bytes) -> None:
    view = memoryview(chunk)
    for at in range(0, len(view), HASHED_WITH_THE_LOCK):
        digest.update(view[at:at + HASHED_WITH_THE_LOCK])


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """The bytes of a file on this host, as `receive` takes them."""
    handle: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_BYTES):
            yield chunk
    finally:
        handle.close()


def _open_with(path: Path, chunks: list[bytes]) -> BinaryIO:
    handle = path.open("wb")
    try:
        handle.writelines(chunks)
    except BaseException:
        handle.close()
        raise
    return handle
