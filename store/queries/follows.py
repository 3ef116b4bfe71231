"""Questions about who follows whom, read off the follows table's (followee, seq) and (follower, seq) indexes."""

from __future__ import annotations

import sqlite3


def follow(conn: sqlite3.Connection, follower: str, followee: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM follows WHERE follower = ? AND followee = ?", (follower, followee)).fetchone()
    return row


def last_follow_seq(conn: sqlite3.Connection, follower: str, followee: str) -> int:
    """The sequence of the follower's last follow or stop-following of the followee; 0 for none."""
    (seq,) = conn.execute(
        "SELECT max(seq) FROM activities WHERE object_id = ? AND actor = ? AND object_type = 'person'"
        " AND verb IN ('follow', 'stop-following')", (followee, follower)).fetchone()
    return int(seq or 0)


def follower_count(conn: sqlite3.Connection, user_id: str) -> int:
    (total,) = conn.execute("SELECT count(*) FROM follows WHERE followee = ?", (user_id,)).fetchone()
    return int(total)


def followers(conn: sqlite3.Connection, user_id: str, count: int, offset: int) -> list[str]:
    """A page of the user's followers, the latest to follow first."""
    return [str(r[0]) for r in conn.execute(
        "SELECT follower FROM follows WHERE followee = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
        (user_id, count, offset))]


def following_count(conn: sqlite3.Connection, user_id: str) -> int:
    (total,) = conn.execute("SELECT count(*) FROM follows WHERE follower = ?", (user_id,)).fetchone()
    return int(total)


def following(conn: sqlite3.Connection, user_id: str, count: int, offset: int) -> list[str]:
    """A page of the people the user follows, the latest followed first."""
    return [str(r[0]) for r in conn.execute(
        "SELECT followee FROM follows WHERE follower = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
        (user_id, count, offset))]
