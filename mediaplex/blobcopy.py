"""`mediaplex blobs copy`: every blob of one store into another, resumable and checked by hash; and
into the object store, the renditions made on this host too.

What the target has already is skipped, so a copy cut short is run again to finish it. Each blob's bytes
are hashed on the way and must match their name; ones that do not are reported and left out. A
rendition's bytes are hashed on the way into the meta its readers check them against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import msgspec

from core.ports import RENDITION_NAMES, BlobStore, DerivedFiles
from processors.imaging import rendition_files
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


async def copy_renditions(directory: Path, target: DerivedFiles, progress: Callable[[int, int], None]) -> Copied:
    """Every rendition in a renditions directory (laid out as core/ports.py `rendition_dir`) that
    `target` lacks; `progress(done, total)` after each."""
    kept = {name for name, _ in await target.stored()}
    found = sorted(_renditions(directory))
    result = Copied()
    for done, (name, path) in enumerate(found, start=1):
        if name in kept or not await target.keep(name, path):
            result.present += 1
        else:
            result.copied += 1
        progress(done, len(found))
    return result


def _renditions(directory: Path) -> list[tuple[str, Path]]:
    names = re.compile(RENDITION_NAMES)
    found = []
    for path in rendition_files(directory):
        fan, _, name = path.relative_to(directory).as_posix().partition("/")
        # Temp files of renditions being written start with a dot, which no rendition's name does.
        if names.fullmatch(name) and name.startswith(fan) and path.is_file():
            found.append((name, path))
    return found
