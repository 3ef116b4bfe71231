"""Objects of a remote store kept on this host, least recently used first out past a size bound.

An object named `NAME` is kept at `NN/NAME` (NN: its name's first two characters). A name may hold
slashes: a rendition's cache is laid out as the renditions directory is, so its files are where
everything that reads renditions looks for them.
"""

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
        # name -> size, oldest use first; files kept from before a restart count from their mtime.
        self._sizes: OrderedDict[str, int] = OrderedDict()
        kept: list[tuple[float, str, int]] = []
        for path in directory.glob("??/**/*"):
            if not path.name.startswith(".") and path.is_file():
                stat = path.stat()
                name = path.relative_to(directory).as_posix().partition("/")[2]
                kept.append((stat.st_mtime, name, stat.st_size))
        for _, name, size in sorted(kept):
            self._sizes[name] = size
        self._total = sum(self._sizes.values())

    def path(self, name: str) -> Path:
        return self._directory / name[:2] / name

    def get(self, name: str) -> Path | None:
        with self._lock:
            if name not in self._sizes:
                return None
            self._sizes.move_to_end(name)
        path = self.path(name)
        try:
            os.utime(path)
        except FileNotFoundError:
            self.drop(name)
            return None
        return path

    def download(self, name: str) -> Download:
        """A file to fill with the object's bytes and then move into the cache."""
        return Download(self, name)

    def adopt(self, name: str, path: Path) -> Path:
        """Move a file holding the object's bytes into the cache."""
        final = self.path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size
        os.replace(path, final)
        with self._lock:
            self._total += size - self._sizes.pop(name, 0)
            self._sizes[name] = size
            evicted = self._evict(keep=name)
        for gone in evicted:
            self.path(gone).unlink(missing_ok=True)
        return final

    def drop(self, name: str) -> None:
        with self._lock:
            self._total -= self._sizes.pop(name, 0)
        self.path(name).unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        """Downloads that never finished (a crash mid-way)."""
        return sorted(self._directory.glob("??/**/.*.tmp"))

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
    """An object being written into the cache: a temp file beside its place, opened on the first write."""

    def __init__(self, cache: BlobCache, name: str) -> None:
        self._cache = cache
        self._name = name
        self._temp: Path | None = None
        self._handle: BinaryIO | None = None

    def write(self, chunks: list[bytes]) -> None:
        if self._handle is None:
            final = self._cache.path(self._name)
            final.parent.mkdir(parents=True, exist_ok=True)
            self._temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
            self._handle = self._temp.open("wb")
        self._handle.writelines(chunks)

    def finish(self, chunks: list[bytes]) -> Path:
        """The object's place in the cache, once `chunks`, the last of its bytes, are written."""
        self.write(chunks)
        assert self._handle is not None and self._temp is not None
        self._handle.close()
        return self._cache.adopt(self._name, self._temp)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)

