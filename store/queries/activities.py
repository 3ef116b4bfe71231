"""Questions about activities: one by id, a page of them, and the notes the posts API posted."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from store.queries._rows import by_key
from store.reader import ProjectionReader


def activity_by_id(conn: sqlite3.Connection, activity_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM activities WHERE activity_id = ?", (activity_id,)).fetchone()
    return row


async def activity_seq(projection: ProjectionReader, activity_id: str) -> int | None:
    """The stream sequence an activity was appended at, which feeds page by."""
    row = await projection.keyed("SELECT seq FROM activities WHERE activity_id = ?", (activity_id,))
    return None if row is None else int(row["seq"])


def activities_in_order(conn: sqlite3.Connection, ids: list[str]) -> list[sqlite3.Row]:
    """The activities with these ids, in the order given; ids without one are left out."""
    found = by_key(conn, "activities", "activity_id", ids)
    return [found[aid] for aid in ids if aid in found]


def posted_note(conn: sqlite3.Connection, note_id: str) -> sqlite3.Row | None:
    """The activity that posted a note: a note holds nothing beyond what its post activity says."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM activities WHERE object_id = ? AND object_type = 'note' AND verb = 'post'",
        (note_id,)).fetchone()
    return row


def posted_notes(conn: sqlite3.Connection, note_ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    """The activities that posted these notes, by note id, each with its post's `via`."""
    wanted = sorted(set(note_ids))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    # With the gateway the post came through, whose form its text keeps.
    rows = conn.execute(
        "SELECT a.*, p.via AS via FROM activities AS a LEFT JOIN posts AS p ON p.note_id = a.object_id"
        f" WHERE a.object_id IN ({marks}) AND a.object_type = 'note' AND a.verb = 'post'", wanted)
    return {row["object_id"]: row for row in rows}


def deleted_types(conn: sqlite3.Connection, object_ids: Iterable[str]) -> dict[str, str]:
    """The object types of objects gone, by id, as their delete activities name them."""
    wanted = sorted(set(object_ids))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = conn.execute(
        f"SELECT object_id, object_type FROM activities WHERE object_id IN ({marks}) AND verb = 'delete'", wanted)
    return {str(row[0]): str(row[1]) for row in rows}
