"""Questions about favorites and shares, read off the reactions table's (object_id, kind, seq) and
(actor, kind, seq) indexes and the activities that told of them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import MAX_IDS, one_snapshot
from store.queries.windows import Window, windowed


def reaction(conn: sqlite3.Connection, kind: str, actor: str, object_id: str) -> sqlite3.Row | None:
    """The actor's standing favorite or share of an object; None when there is none."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM reactions WHERE kind = ? AND actor = ? AND object_id = ?", (kind, actor, object_id),
    ).fetchone()
    return row


def last_reaction_seq(conn: sqlite3.Connection, actor: str, object_id: str, verbs: tuple[str, str]) -> int:
    """The sequence of the actor's last favorite-or-unfavorite (or share-or-unshare) of the object; 0 for none."""
    (seq,) = conn.execute(
        "SELECT max(seq) FROM activities WHERE object_id = ? AND actor = ? AND verb IN (?, ?)",
        (object_id, actor, *verbs),
    ).fetchone()
    return int(seq or 0)


def reaction_counts(conn: sqlite3.Connection, object_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """How many favorites and shares each object has, keyed by (object id, kind); objects without any are left out."""
    wanted = sorted(set(object_ids))
    counts: dict[tuple[str, str], int] = {}
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        for object_id, kind, total in conn.execute(
                f"SELECT object_id, kind, count(*) FROM reactions WHERE object_id IN ({marks})"
                " GROUP BY object_id, kind", chunk):
            counts[(object_id, kind)] = int(total)
    return counts


def reacted(conn: sqlite3.Connection, actor: str, object_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The (object id, kind) pairs among these objects the actor has favorited or shared."""
    wanted = sorted(set(object_ids))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), MAX_IDS):
        chunk = wanted[start:start + MAX_IDS]
        marks = ", ".join("?" for _ in chunk)
        found.update((str(o), str(k)) for o, k in conn.execute(
            f"SELECT object_id, kind FROM reactions WHERE actor = ? AND object_id IN ({marks})", (actor, *chunk)))
    return found


def reaction_total(conn: sqlite3.Connection, kind: str, object_id: str) -> int:
    (total,) = conn.execute(
        "SELECT count(*) FROM reactions WHERE object_id = ? AND kind = ?", (object_id, kind)).fetchone()
    return int(total)


def reactors(conn: sqlite3.Connection, kind: str, object_id: str, count: int, offset: int) -> list[str]:
    """A page of who favorited (or shared) an object, the latest first."""
    return [str(r[0]) for r in conn.execute(
        "SELECT actor FROM reactions WHERE object_id = ? AND kind = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
        (object_id, kind, count, offset))]


def reactions_by_total(conn: sqlite3.Connection, kind: str, actor: str) -> int:
    (total,) = conn.execute(
        "SELECT count(*) FROM reactions WHERE actor = ? AND kind = ?", (actor, kind)).fetchone()
    return int(total)


def reactions_by(conn: sqlite3.Connection, kind: str, actor: str, count: int, offset: int) -> list[tuple[str, str]]:
    """A page of (object type, object id) the actor favorited (or shared), the latest first."""
    return [(str(t), str(o)) for t, o in conn.execute(
        "SELECT object_type, object_id FROM reactions WHERE actor = ? AND kind = ? ORDER BY seq DESC"
        " LIMIT ? OFFSET ?", (actor, kind, count, offset))]


def reactions_page(conn: sqlite3.Connection, kind: str, actor: str, object_types: tuple[str, ...],
                   window: Window) -> list[sqlite3.Row]:
    """A page of the actor's favorites (or shares) of objects of these types, newest first, paged on their
    sequence off the (actor, kind, seq) index."""
    marks = ", ".join("?" for _ in object_types)
    return windowed(conn, f"SELECT * FROM reactions WHERE actor = ? AND kind = ? AND object_type IN ({marks})",
                    [actor, kind, *object_types], window)


def reactors_page(conn: sqlite3.Connection, kind: str, object_id: str, window: Window) -> list[sqlite3.Row]:
    """A page of the favorites (or shares) of one object, newest first, paged on their sequence off the
    (object_id, kind, seq) index."""
    return windowed(conn, "SELECT * FROM reactions WHERE object_id = ? AND kind = ?", [object_id, kind], window)


def reaction_state(conn: sqlite3.Connection, kind: str, actor: str, object_id: str,
                   verbs: tuple[str, str]) -> tuple[bool, int]:
    """Whether the actor's favorite (or share) of the object stands, and the sequence of the last change
    to it (`verbs` are the activities that tell of those changes), read from one state of the read model."""
    return one_snapshot(conn, lambda c: (reaction(c, kind, actor, object_id) is not None,
                                         last_reaction_seq(c, actor, object_id, verbs)))
