"""Favorites, shares and follows as every gateway makes them: the state a change is judged against, and the
event it becomes.

A change's id is made from what was found (who, what, and the sequence of the last change of that pair),
so two requests that found the same state, through one protocol or two, make the same event and the log
keeps one of them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

import msgspec

from core.events import Followed, Reacted, Unfollowed, Unreacted
from store.queries.follows import follow_state
from store.queries.reactions import reaction_state
from store.social import REACTION_VERBS


class Standing(msgspec.Struct, frozen=True):
    """Whether the favorite, share or follow is there now, and the sequence of the last change to it."""

    present: bool
    last_seq: int


def reaction_standing(conn: sqlite3.Connection, kind: str, actor: str, object_id: str) -> Standing:
    present, last_seq = reaction_state(conn, kind, actor, object_id, REACTION_VERBS[kind])
    return Standing(present=present, last_seq=last_seq)


def follow_standing(conn: sqlite3.Connection, follower: str, followee: str) -> Standing:
    present, last_seq = follow_state(conn, follower, followee)
    return Standing(present=present, last_seq=last_seq)


def change_id(*found: object) -> str:
    """An id made from what a change found: two requests that found the same make the same one. NUL parts
    them, as no id and no text a change is made from holds one, so no two states run together."""
    return hashlib.sha256("\x00".join(str(part) for part in found).encode()).hexdigest()[:32]


def reaction_id(kind: str, adds: bool, actor: str, target: str, last_seq: int) -> str:
    return change_id(kind, int(adds), actor, target, last_seq)


def follow_id(adds: bool, follower: str, followee: str, last_seq: int) -> str:
    return change_id("follow", int(adds), follower, followee, last_seq)


def reaction_change(*, kind: str, adds: bool, actor: str, object_type: str, object_id: str, owner: str,
                    standing: Standing, via: str, app: str) -> Reacted | Unreacted:
    """The event that adds (or takes back) the actor's favorite or share of an object, found as `standing`."""
    event = Reacted if adds else Unreacted
    return event(at=time.time(), reaction_id=reaction_id(kind, adds, actor, object_id, standing.last_seq),
                 actor=actor, kind=kind, object_type=object_type, object_id=object_id, object_owner=owner, via=via,
                 app=app)


def follow_change(*, adds: bool, follower: str, followee: str, standing: Standing, via: str,
                  app: str) -> Followed | Unfollowed:
    """The event that starts (or stops) `follower` following `followee`, found as `standing`."""
    event = Followed if adds else Unfollowed
    return event(at=time.time(), follow_id=follow_id(adds, follower, followee, standing.last_seq),
                 follower=follower, followee=followee, via=via, app=app)


def msg_id(event: Reacted | Unreacted | Followed | Unfollowed) -> str:
    """The log's de-duplication key: the subject, whose id already names the state the change was made from."""
    return event.subject()
