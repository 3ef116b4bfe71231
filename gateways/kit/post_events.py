"""The events that change or delete a post as the read model holds it, whichever protocol asks.

Each names the pump.io activity that posted the post's note (only a listed post has one) and the note,
so that every fold finds what to change without looking anything up.
"""

from __future__ import annotations

import sqlite3
import time

import msgspec

from core.events import PostDeleted
from store.readmodel import LISTED


def attached(post: sqlite3.Row) -> tuple[str, ...]:
    return tuple(msgspec.json.decode(post["attachments"], type=list[str])) if post["attachments"] else ()


def note_of(post: sqlite3.Row) -> dict[str, str]:
    """The pump.io activity and note of a post, as its edit and delete events name them."""
    return {"activity_id": post["activity_id"] if post["visibility"] in LISTED else "", "note_id": post["note_id"]}


def deleted(post: sqlite3.Row, comment: dict[str, str], app: str = "") -> PostDeleted:
    """`comment`: the fields of a pump.io comment's events (store.queries.comments.commented)."""
    return PostDeleted(at=time.time(), post_id=post["post_id"], author=post["author"], attachments=attached(post),
                       app=app, **note_of(post), **comment)
