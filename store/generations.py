"""Projection files by generation: a rebuild writes a new file beside the live one, then swaps a pointer."""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTER = "CURRENT"


def current(directory: Path) -> Path:
    """The live projection file, creating the pointer for a first generation when there is none."""
    directory.mkdir(parents=True, exist_ok=True)
    pointer = directory / POINTER
    if pointer.exists():
        return directory / pointer.read_text().strip()
    first = directory / "projection-0.db"
    promote(directory, first)
    return first


def fresh(directory: Path) -> Path:
    """A new file name for a rebuild in progress; it becomes live only through `promote`."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"projection-{time.time_ns()}.db"


def building(path: Path) -> bool:
    """Whether `path` is a rebuild in progress: its `.building` marker is there until it ends."""
    return path.with_name(f"{path.name}.building").exists()


def promote(directory: Path, path: Path) -> None:
    temp = directory / f"{POINTER}.tmp"
    temp.write_text(path.name)
    os.replace(temp, directory / POINTER)


def prune(directory: Path, keep: Path) -> None:
    """Drop generations other than `keep` (with their WAL files); rebuilds still in progress are kept."""
    for old in directory.glob("projection-*.db"):
        if old != keep and not (directory / f"{old.name}.building").exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
