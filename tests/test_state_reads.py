"""The reads an add, follow or reaction makes its change id from see one state of the read model, even
when the projection commits the very change between their two statements: otherwise two racing requests
could find the same absence but different last changes, and both be kept as different changes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.events import AnyEvent, CollectionCreated, CollectionItemAdded, Followed, Reacted, UserAdded
from core.log import Record
from store.projection import Projection
from store.queries.collections import membership_state
from store.queries.follows import follow_state
from store.queries.reactions import reaction_state


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    opened = Projection(tmp_path / "p.db")
    await opened.open()
    events: list[AnyEvent] = [UserAdded(at=1.0, user_id="alice", password_hash="h"),
                              UserAdded(at=2.0, user_id="bob", password_hash="h"),
                              CollectionCreated(at=3.0, collection_id="birds", owner="alice", name="Birds")]
    await opened.apply([Record(seq, event) for seq, event in enumerate(events, start=1)])
    yield opened
    await opened.close()


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def committed_between_statements(projection: Projection, event: AnyEvent,
                                 read: Callable[[sqlite3.Connection], Any]) -> Any:
    """`read` on a connection of its own, with `event` folded and committed just before its second query."""
    conn = connect(projection.path)
    queries = 0

    def traced(sql: str) -> None:
        nonlocal queries
        if sql.lstrip().upper().startswith("SELECT"):
            queries += 1
            if queries == 2:
                projection.apply_here([Record(projection.applied + 1, event)])

    conn.set_trace_callback(traced)
    try:
        return read(conn)
    finally:
        conn.close()


async def test_membership_and_its_last_change_are_read_from_one_state(projection: Projection) -> None:
    added = CollectionItemAdded(at=4.0, change_id="c1", collection_id="birds", owner="alice", object_type="image",
                                object_id="m1")
    present, seen = committed_between_statements(projection, added,
                                                  lambda conn: membership_state(conn, "birds", "m1"))
    assert (present, seen) == (None, 0)
    present, seen = membership_state(connect(projection.path), "birds", "m1")
    assert present is not None and seen == 4


async def test_a_follow_and_its_last_change_are_read_from_one_state(projection: Projection) -> None:
    followed = Followed(at=4.0, follow_id="f1", follower="bob", followee="alice")
    assert committed_between_statements(projection, followed,
                                        lambda conn: follow_state(conn, "bob", "alice")) == (False, 0)
    assert follow_state(connect(projection.path), "bob", "alice") == (True, 4)


async def test_a_reaction_and_its_last_change_are_read_from_one_state(projection: Projection) -> None:
    reacted = Reacted(at=4.0, reaction_id="r1", actor="bob", kind="favorite", object_type="image", object_id="m1",
                      object_owner="alice")
    verbs = ("favorite", "unfavorite")
    assert committed_between_statements(projection, reacted,
                                        lambda conn: reaction_state(conn, "favorite", "bob", "m1", verbs)) == (False, 0)
    assert reaction_state(connect(projection.path), "favorite", "bob", "m1", verbs) == (True, 4)
