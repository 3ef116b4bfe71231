"""Questions about presigned uploads granted whose bytes have not arrived yet."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import by_key
from store.reader import ProjectionReader


async def request_by_id(projection: ProjectionReader, media_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM requests WHERE media_id = ?", (media_id,))


def requests_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "requests", "media_id", ids)
