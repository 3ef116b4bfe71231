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


# For each side of a user's follows: the column naming the people on it, and the column naming the user.
SIDES = {"followers": ("follower", "followee"), "following": ("followee", "follower")}


def people_count(conn: sqlite3.Connection, user_id: str, side: str) -> int:
    """How many follow the user (`side` "followers") or the user follows ("following")."""
    _, user = SIDES[side]
    (total,) = conn.execute(f"SELECT count(*) FROM follows WHERE {user} = ?", (user_id,)).fetchone()
    return int(total)


def people(conn: sqlite3.Connection, user_id: str, side: str, count: int, offset: int) -> list[str]:
    """A page of the people on one side of the user's follows, the latest follow first."""
    who, user = SIDES[side]
    return [str(r[0]) for r in conn.execute(
        f"SELECT {who} FROM follows WHERE {user} = ? ORDER BY seq DESC LIMIT ? OFFSET ?", (user_id, count, offset))]


def among(conn: sqlite3.Connection, user_id: str, side: str, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` are on that side of the user's follows."""
    who, user = SIDES[side]
    wanted = sorted(set(candidates))
    found: set[str] = set()
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        found.update(str(r[0]) for r in conn.execute(
            f"SELECT {who} FROM follows WHERE {user} = ? AND {who} IN ({marks})", (user_id, *chunk)))
    return found


def people_page(conn: sqlite3.Connection, user_id: str, side: str, window: Window) -> list[tuple[str, int]]:
    """A page of the people on one side of the user's follows, each with the sequence of its follow, which
    pages them: newest first, Mastodon's window on the sequence."""
    who, user = SIDES[side]
    sql = f"SELECT {who}, seq FROM follows WHERE {user} = ?"
    return [(str(person), int(seq)) for person, seq in windowed(conn, sql, [user_id], window)]


def follow_state(conn: sqlite3.Connection, follower: str, followee: str) -> tuple[bool, int]:
    """Whether the follow stands, and the sequence of the last change to it, read from one state of the
    read model."""
    return one_snapshot(conn, lambda c: (follow(c, follower, followee) is not None,
                                         last_follow_seq(c, follower, followee)))
