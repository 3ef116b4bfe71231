"""Transformed images on disk, each rendered once.

A variant's file name is a digest of everything its bytes depend on: the renderer version, the
blob, the source rendition and the normalized parameters. Files are written to a temporary name
and renamed into place, so a crash never leaves half a file under a real name and two processes
rendering the same variant at once both leave the same whole file. Within a process, concurrent
requests for one missing variant share a single render.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import msgspec

from gateways.transform.params import Variant
from gateways.transform.render import RENDER_VERSION, render


class Key(msgspec.Struct, frozen=True):
    """What a variant's bytes are a function of; `source` names the rendition, e.g. v2/original.jpg."""

    blob: str
    source: str
    variant: Variant

    @property
    def digest(self) -> str:
        # msgspec encodes Struct fields in their declared order, which makes this canonical.
        return hashlib.sha256(msgspec.json.encode((RENDER_VERSION, self))).hexdigest()


class VariantCache:
    def __init__(self, root: Path, *, concurrency: int | None = None) -> None:
        self._root = root
        # Renders queue here rather than in the shared thread pool, where they could starve
        # every other off-loop job of the process. One per core: a render is mostly one
        # single-threaded decode, so fewer slots leave cores idle under load.
        self._slots = asyncio.Semaphore(concurrency or (os.cpu_count() or 1))
        self._running: dict[str, asyncio.Task[bytes]] = {}
        # How many variants this process has rendered: a cache hit leaves it unchanged.
        self.renders = 0

    def path(self, key: Key) -> Path:
        return self._root / key.blob[:2] / key.blob / f"{key.digest}.{key.variant.format}"

    async def get(self, key: Key, source: Path) -> bytes:
        """The variant's bytes, rendered from `source` if no file holds them yet."""
        path = self.path(key)
        cached = await asyncio.to_thread(_read, path)
        if cached is not None:
            return cached
        digest = key.digest
        rendering = self._running.get(digest)
        if rendering is None:
            rendering = asyncio.create_task(self._render(key, source, path))
            self._running[digest] = rendering
            rendering.add_done_callback(lambda done: self._finished(digest, done))
        # Shielded: a client that hangs up must not cancel the render others are waiting for.
        return await asyncio.shield(rendering)

    def _finished(self, digest: str, rendered: asyncio.Future[bytes]) -> None:
        self._running.pop(digest, None)
        if not rendered.cancelled():
            # Marks a failure as seen even when every waiter has gone; waiters still get it raised.
            rendered.exception()

    async def _render(self, key: Key, source: Path, path: Path) -> bytes:
        async with self._slots:
            data = await asyncio.to_thread(_render_to, source, key.variant, path)
        self.renders += 1
        return data

    async def close(self) -> None:
        """Waits for renders under way: their threads cannot be stopped, only waited for."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _render_to(source: Path, variant: Variant, path: Path) -> bytes:
    data = render(source, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    return data
