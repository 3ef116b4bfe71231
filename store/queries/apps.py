"""Questions about OAuth 2.0 client applications."""

from __future__ import annotations

import sqlite3

from store.reader import ProjectionReader


async def app_by_client_id(projection: ProjectionReader, client_id: str) -> sqlite3.Row | None:
    """`client_id`, `secret_hash`, `name`, `website`, `redirect_uris` (one a line) and `scopes` (space separated)."""
    return await projection.keyed("SELECT * FROM apps WHERE client_id = ?", (client_id,))
