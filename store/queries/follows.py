"""Questions about who follows whom, read off the follows table's (followee, seq) and (follower, seq) indexes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import MAX_IDS, one_snapshot
from store.queries.windows import Window, windowed


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


def followed_among(conn: sqlite3.Connection, follower: str, followees: Iterable[str]) -> set[str]:
    """Which of `followees` the follower follows."""
    wanted = sorted(set(followees))
    found: set[str] = set()
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        found.update(str(r[0]) for r in conn.execute(
            f"SELECT followee FROM follows WHERE follower = ? AND followee IN ({marks})", (follower, *chunk)))
    return found


def followers_among(conn: sqlite3.Connection, followee: str, followers: Iterable[str]) -> set[str]:
    """Which of `followers` follow the followee."""
    wanted = sorted(set(followers))
    found: set[str] = set()
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        found.update(str(r[0]) for r in conn.execute(
            f"SELECT follower FROM follows WHERE followee = ? AND follower IN ({marks})", (followee, *chunk)))
    return found


def people_page(conn: sqlite3.Connection, user_id: str, side: str, window: Window) -> list[tuple[str, int]]:
    """A page of the user's followers (`side` "followers") or of those the user follows ("following"), each
    with the sequence of its follow, which pages them: newest first, Mastodon's window on the sequence."""
    if side == "followers":
        sql = "SELECT follower, seq FROM follows WHERE followee = ?"
    else:
        sql = "SELECT followee, seq FROM follows WHERE follower = ?"
    return [(str(who), int(seq)) for who, seq in windowed(conn, sql, [user_id], window)]


def follow_state(conn: sqlite3.Connection, follower: str, followee: str) -> tuple[bool, int]:
    """Whether the follow stands, and the sequence of the last change to it, read from one state of the
    read model."""
    return one_snapshot(conn, lambda c: (follow(c, follower, followee) is not None,
                                         last_follow_seq(c, follower, followee)))
