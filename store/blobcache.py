"""Blobs of a remote store kept on this host, least recently used first out past a size bound."""

from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO


class BlobCache:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self._directory = directory
        self._max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # sha256 -> size, oldest use first; files kept from before a restart count from their mtime.
        self._sizes: OrderedDict[str, int] = OrderedDict()
        kept: list[tuple[float, str, int]] = []
        for path in directory.glob("??/*"):
            if not path.name.startswith("."):
                stat = path.stat()
                kept.append((stat.st_mtime, path.name, stat.st_size))
        for _, name, size in sorted(kept):
            self._sizes[name] = size
        self._total = sum(self._sizes.values())

    def path(self, sha256: str) -> Path:
        return self._directory / sha256[:2] / sha256

    def get(self, sha256: str) -> Path | None:
        with self._lock:
            if sha256 not in self._sizes:
                return None
            self._sizes.move_to_end(sha256)
        path = self.path(sha256)
        try:
            os.utime(path)
        except FileNotFoundError:
            self.drop(sha256)
            return None
        return path

    def download(self, sha256: str) -> Download:
        """A file to fill with the blob's bytes and then move into the cache."""
        return Download(self, sha256)

    def adopt(self, sha256: str, path: Path) -> Path:
        """Move a file holding the blob's bytes into the cache."""
        final = self.path(sha256)
        final.parent.mkdir(exist_ok=True)
        size = path.stat().st_size
        os.replace(path, final)
        with self._lock:
            self._total += size - self._sizes.pop(sha256, 0)
            self._sizes[sha256] = size
            evicted = self._evict(keep=sha256)
        for name in evicted:
            self.path(name).unlink(missing_ok=True)
        return final

    def drop(self, sha256: str) -> None:
        with self._lock:
            self._total -= self._sizes.pop(sha256, 0)
        self.path(sha256).unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        """Downloads that never finished (a crash mid-way)."""
        return sorted(self._directory.glob("??/.*.tmp"))

    def _evict(self, keep: str) -> list[str]:
        evicted: list[str] = []
        while self._total > self._max_bytes and len(self._sizes) > 1:
            name, size = next(iter(self._sizes.items()))
            if name == keep:
                self._sizes.move_to_end(name)
                continue
            del self._sizes[name]
            self._total -= size
            evicted.append(name)
        return evicted


class Download:
    """A blob being written into the cache: a temp file beside its place, opened on the first write."""

    def __init__(self, cache: BlobCache, sha256: str) -> None:
        self._cache = cache
        self._sha256 = sha256
        self._temp: Path | None = None
        self._handle: BinaryIO | None = None

    def write(self, chunks: list[bytes]) -> None:
        if self._handle is None:
            final = self._cache.path(self._sha256)
            final.parent.mkdir(exist_ok=True)
            self._temp = final.with_name(f".{self._sha256}.{uuid.uuid4().hex}.tmp")
            self._handle = self._temp.open("wb")
        self._handle.writelines(chunks)

    def finish(self, chunks: list[bytes]) -> Path:
        """The blob's place in the cache, once `chunks`, the last of its bytes, are written."""
        self.write(chunks)
        assert self._handle is not None and self._temp is not None
        self._handle.close()
        return self._cache.adopt(self._sha256, self._temp)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)

