"""Questions about one user's uploads: a page of them, newest first, and how many there are."""

from __future__ import annotations

import sqlite3


def upload_ids(conn: sqlite3.Connection, owner: str, count: int, offset: int) -> list[str]:
    # Media ids break ties between uploads made in the same instant, so pages never overlap.
    rows = conn.execute("SELECT media_id FROM media WHERE owner_id = ? ORDER BY created_at DESC, media_id DESC"
                        " LIMIT ? OFFSET ?", (owner, count, offset)).fetchall()
    return [row["media_id"] for row in rows]


def upload_count(conn: sqlite3.Connection, owner: str) -> int:
    (total,) = conn.execute("SELECT count(*) FROM media WHERE owner_id = ?", (owner,)).fetchone()
    return int(total)
