"""Content-addressed files on a filesystem: sha256 names, temp file, fsync, rename."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterable, Iterator
from pathlib import Path

from core.ports import Staged, TooLarge

SHA256 = re.compile(r"[0-9a-f]{64}")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        # The name is checked, not trusted: it must never walk out of the store.
        if not SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self._root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        temp = self._tmp / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush, handle)
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        handle.close()
        return Staged(path=temp, sha256=digest.hexdigest(), size=size)

    async def commit(self, staged: Staged) -> bool:
        return await asyncio.to_thread(self._commit, staged)

    def _commit(self, staged: Staged) -> bool:
        final = self.path(staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            # A link is created only where no file is: of uploads of the same bytes committing at
            # once, exactly one is told it created the blob (and may take it back if its event fails).
            os.link(staged.path, final)
        except FileExistsError:
            staged.path.unlink(missing_ok=True)
            # Fresh again: the sweeper leaves blobs touched within its grace period alone, so
            # bytes re-uploaded just now are not collected before their event is projected.
            os.utime(final)
            return False
        staged.path.unlink()
        _fsync_dir(final.parent)
        return True

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def stored(self) -> Iterator[tuple[str, float]]:
        """Every committed blob with its last-modified time."""
        for path in self._root.glob("??/??/*"):
            if SHA256.fullmatch(path.name):
                yield path.name, path.stat().st_mtime

    def leftovers(self) -> list[Path]:
        """Temp files of uploads: streaming now, or never finished (a crash mid-stream)."""
        return sorted(path for path in self._tmp.iterdir() if path.is_file())


def _flush(handle: object) -> None:
    handle.flush()  # type: ignore[attr-defined]
    os.fsync(handle.fileno())  # type: ignore[attr-defined]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
