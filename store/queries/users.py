"""Questions about users and their profiles."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import by_key
from store.reader import ProjectionReader


async def user_by_id(projection: ProjectionReader, user_id: str) -> sqlite3.Row | None:
    return await projection.keyed("SELECT * FROM users WHERE user_id = ?", (user_id,))


def users_by_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    return by_key(conn, "users", "user_id", ids)


async def user_count(projection: ProjectionReader) -> int:
    row = await projection.one("SELECT count(*) AS n FROM users")
    return int(row["n"]) if row else 0


async def avatar_id(projection: ProjectionReader, user_id: str) -> str | None:
    """The media a user's profile shows; None for a user without one, or no such user."""
    row = await projection.keyed("SELECT avatar FROM users WHERE user_id = ?", (user_id,))
    return str(row["avatar"]) if row is not None and row["avatar"] else None


def avatar(conn: sqlite3.Connection, user_id: str) -> tuple[str | None, sqlite3.Row | None]:
    """The avatar's media id and its media row (None once the media is deleted), in one snapshot."""
    user = conn.execute("SELECT avatar FROM users WHERE user_id = ?", (user_id,)).fetchone()
    media_id = user["avatar"] if user else None
    if not media_id:
        return None, None
    row: sqlite3.Row | None = conn.execute("SELECT * FROM media WHERE media_id = ?", (media_id,)).fetchone()
    return media_id, row


def user_by_account(conn: sqlite3.Connection, account_id: str) -> sqlite3.Row | None:
    """The user behind a Mastodon account id."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT u.* FROM accounts AS a JOIN users AS u ON u.user_id = a.user_id WHERE a.account_id = ?",
        (account_id,)).fetchone()
    return row


def user_row(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return row


async def is_admin(projection: ProjectionReader, user_id: str) -> bool:
    """Whether the user may open the operator console; False for no such user."""
    row = await projection.keyed("SELECT admin FROM users WHERE user_id = ?", (user_id,))
    return row is not None and bool(row["admin"])
