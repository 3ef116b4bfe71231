"""`mediaplex blobs copy`: every blob of one store into another, resumable and checked by hash.

What the target has already is skipped, so a copy cut short is run again to finish it. Each blob's bytes
are hashed on the way and must match their name; ones that do not are reported and left out.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from core.ports import BlobStore
from store.staging import file_chunks


class Copied(msgspec.Struct):
    copied: int = 0
    present: int = 0
    # Blobs whose bytes do not hash to their name: damaged in the source.
    mismatched: list[str] = msgspec.field(default_factory=list)


async def copy_blobs(source: BlobStore, target: BlobStore, progress: Callable[[int, int], None]) -> Copied:
    """`progress(done, total)` after each blob."""
    names = sorted(name for name, _ in await source.stored())
    result = Copied()
    for done, name in enumerate(names, start=1):
        if await target.has(name):
            result.present += 1
        else:
            path = await source.local(name)
            staged = await target.receive(file_chunks(path), limit=path.stat().st_size)
            if staged.sha256 != name:
                target.discard(staged)
                result.mismatched.append(name)
            else:
                await target.commit(staged)
                result.copied += 1
        progress(done, len(names))
    return result

