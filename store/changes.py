"""The kinds of change an event makes to the read model, as data, and the inbox deliveries most events share.

Put, Patch and Remove name one row by its key. Deliver and Sweep reach rows by another column: they are
what the statement planner (store/projection.py) must keep in order with the changes around them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class Put(msgspec.Struct, frozen=True, gc=False):
    """Insert a whole row, or replace the row with the same key."""

    table: str
    row: dict[str, Any]


class Patch(msgspec.Struct, frozen=True, gc=False):
    """Change some fields of an existing row; nothing happens when the row is gone."""

    table: str
    key: str
    fields: dict[str, Any]


class Remove(msgspec.Struct, frozen=True, gc=False):
    table: str
    key: str


class Deliver(msgspec.Struct, frozen=True, gc=False):
    """An inbox entry for each follower of `actor` at the time of the change, keyed `<follower>:<suffix>`.

    A follower who already has the entry (addressed to them directly) keeps it as it is.
    """

    actor: str
    seq: int
    activity_id: str
    major: int
    suffix: str
    table: ClassVar[str] = "inbox"


class Sweep(msgspec.Struct, frozen=True, gc=False):
    """Remove every row of `table` whose `column` holds `value`."""

    table: str
    column: str
    value: str


Change = Put | Patch | Remove | Deliver | Sweep


class Table(msgspec.Struct, frozen=True):
    name: str
    pk: str
    columns: dict[str, type]
    indexes: tuple[tuple[str, ...], ...] = ()


def inbox_entry(user: str, seq: int, activity_id: str, major: int, *, direct: bool, suffix: str = "") -> Put:
    """One user's inbox entry, keyed by sequence unless `suffix` (an activity id) is given."""
    return Put("inbox", {"entry": f"{user}:{suffix or f'{seq:012d}'}", "user_id": user, "seq": seq,
                         "activity_id": activity_id, "major": major, "direct": int(direct)})


def delivered(actor: str, seq: int, activity_id: str, major: int, *, suffix: str = "",
              to: str | None = None) -> list[Change]:
    """An activity in its actor's own inbox and in their followers', and addressed to `to` when that is
    somebody else (whose object it acts on)."""
    out: list[Change] = [
        inbox_entry(actor, seq, activity_id, major, direct=False, suffix=suffix),
        Deliver(actor, seq, activity_id, major, suffix or f"{seq:012d}"),
    ]
    if to and to != actor:
        out.append(inbox_entry(to, seq, activity_id, major, direct=True, suffix=suffix))
    return out


def activity_row(*, activity_id: str, seq: int, actor: str, verb: str, object_type: str, object_id: str,
                 at: float, major: int | None = None, generator: str = "", **fields: Any) -> Put:
    """A pump.io activity row; `fields` sets any other column, the rest are NULL."""
    row: dict[str, Any] = {
        "activity_id": activity_id, "seq": seq, "actor": actor, "verb": verb, "object_type": object_type,
        "object_id": object_id, "major": int(verb in ("post", "share")) if major is None else major,
        "in_reply_to": None, "reply_owner": None, "generator": generator, "display_name": None, "content": None,
        "published": at, "attachments": None, "space": None, "target": None,
    }
    row.update(fields)
    return Put("activities", row)
