"""How much a directory of stored files holds: blobs, renditions, variants."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec


class Usage(msgspec.Struct, frozen=True):
    files: int
    bytes: int


def usage(root: Path) -> Usage:
    """Regular files under `root` and their sizes; nothing for a directory not made yet.
    Walks the whole tree: call it off the event loop."""
    files = total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                size = os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
            except FileNotFoundError:
                # Swept or renamed while we looked.
                continue
            files += 1
            total += size
    return Usage(files, total)
