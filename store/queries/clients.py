"""Questions about registered OAuth clients."""

from __future__ import annotations

import sqlite3

from store.reader import ProjectionReader


async def client_by_id(projection: ProjectionReader, client_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM clients WHERE client_id = ?", (client_id,))
