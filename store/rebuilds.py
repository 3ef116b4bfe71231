"""Rebuilds in progress beside a live projection, and how far each has folded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from store import generations
from store.projection import CHECKPOINT


class Rebuild(msgspec.Struct, frozen=True):
    name: str
    # The stream sequence folded so far; 0 before the first batch lands.
    applied: int


def rebuilds(directory: Path) -> list[Rebuild]:
    """Every generation a rebuild is still writing in `directory`. Blocking: call it off the event loop."""
    found = []
    for path in sorted(directory.glob("projection-*.db")):
        if generations.building(path):
            found.append(Rebuild(path.name, _checkpoint(path)))
    return found


def _checkpoint(path: Path) -> int:
    # Read-only, so looking never takes a lock the rebuild's writer waits for.
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return 0
    try:
        row = conn.execute(f"SELECT seq FROM {CHECKPOINT} WHERE id = 1").fetchone()
    except sqlite3.Error:
        # Not made yet: the rebuild has only just begun.
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0
