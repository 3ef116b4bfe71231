"""Renditions and transformations in object store buckets of their own, read by every host.

Each bucket keeps its files under their names (core/ports.py RENDITION_NAMES, VARIANT_NAMES), with the
same conditional commit as blobs: of hosts keeping the same name at once, one is told it kept it. Its
local cache is the renditions or variants directory itself, bounded like the blob cache.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

from store.objectblobs import ObjectBlobStore
from store.staging import file_chunks


class ObjectDerivedFiles:
    def __init__(self, store: ObjectBlobStore) -> None:
        self.store = store

    async def open(self) -> None:
        await self.store.open()

    async def fetch(self, name: str) -> Path | None:
        try:
            return await self.store.local(name)
        except FileNotFoundError:
            return None

    async def keep(self, name: str, path: Path) -> bool:
        staged = await self.store.receive(file_chunks(path), sys.maxsize)
        return await self.store.commit_as(name, staged)

    async def keep_bytes(self, name: str, data: bytes) -> bool:
        staged = await self.store.receive(_once(data), sys.maxsize)
        return await self.store.commit_as(name, staged)

    async def stored(self) -> list[tuple[str, float]]:
        return await self.store.stored()

    async def remove(self, name: str) -> None:
        await self.store.remove(name)

    def leftovers(self) -> list[Path]:
        return self.store.leftovers()

    async def unfinished(self, older_than: float) -> int:
        return await self.store.unfinished(older_than)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
