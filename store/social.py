"""What reactions, follows and collections do to the read model: their tables and their folds, as data.

Each change also becomes the pump.io activity that tells of it, in its actor's feeds and their
followers' inboxes, and addressed to whoever it concerns (the owner of a favorited object, the
person followed).
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.events import (
    AnyEvent,
    CollectionCreated,
    CollectionDeleted,
    CollectionEdited,
    CollectionItemAdded,
    CollectionItemRemoved,
    Followed,
    Reacted,
    Unfollowed,
    Unreacted,
)
from store.changes import Change, Patch, Put, Remove, Sweep, Table, activity_row, delivered

SOCIAL_TABLES: tuple[Table, ...] = (
    Table(
        "reactions",
        "entry",
        # `entry` is kind:actor:object_id, so a second favorite of one object is the same row.
        {"entry": str, "kind": str, "actor": str, "object_type": str, "object_id": str, "object_owner": str,
         "reaction_id": str, "seq": int, "at": float},
        indexes=(("object_id", "kind", "seq"), ("actor", "kind", "seq")),
    ),
    Table(
        "follows",
        "entry",
        {"entry": str, "follower": str, "followee": str, "follow_id": str, "seq": int, "at": float},
        indexes=(("followee", "seq"), ("follower", "seq")),
    ),
    Table(
        "collections",
        "collection_id",
        {"collection_id": str, "owner": str, "name": str, "content": str, "object_types": str, "seq": int,
         "created_at": float, "updated_at": float},
        indexes=(("owner", "seq"),),
    ),
    Table(
        "members",
        "entry",
        # `entry` is collection_id:object_id; an object may be in many collections, each once.
        {"entry": str, "collection_id": str, "object_type": str, "object_id": str, "seq": int, "at": float},
        indexes=(("collection_id", "seq"), ("object_id",)),
    ),
)

# The pump.io verbs that tell of each change.
REACTION_VERBS = {"favorite": ("favorite", "unfavorite"), "share": ("share", "unshare")}


def reaction_entry(kind: str, actor: str, object_id: str) -> str:
    return f"{kind}:{actor}:{object_id}"


def follow_entry(follower: str, followee: str) -> str:
    return f"{follower}:{followee}"


def member_entry(collection_id: str, object_id: str) -> str:
    return f"{collection_id}:{object_id}"


def swept_with(object_id: str) -> list[Change]:
    """What goes when an object does: its favorites and shares, and its place in every collection."""
    return [Sweep("reactions", "object_id", object_id), Sweep("members", "object_id", object_id)]


def social_changes(event: AnyEvent, seq: int) -> list[Change] | None:
    """The changes of a reaction, follow or collection event; None for any other event."""
    match event:
        case Reacted() | Unreacted():
            return _reaction(event, seq)
        case Followed() | Unfollowed():
            return _follow(event, seq)
        case CollectionCreated():
            return [
                Put("collections", {
                    "collection_id": event.collection_id, "owner": event.owner, "name": event.name,
                    "content": event.content, "object_types": msgspec.json.encode(event.object_types).decode(),
                    "seq": seq, "created_at": event.at, "updated_at": event.at,
                }),
                *_told(event.collection_id, seq, event.owner, "post", "collection", event.collection_id, event.at,
                       event.app, display_name=event.name or None),
            ]
        case CollectionEdited():
            fields: dict[str, object] = {"updated_at": event.at}
            if event.name is not None:
                fields["name"] = event.name
            if event.content is not None:
                fields["content"] = event.content
            return [Patch("collections", event.collection_id, fields),
                    *_told(event.change_id, seq, event.owner, "update", "collection", event.collection_id,
                           event.at, event.app)]
        case CollectionDeleted():
            return [
                Remove("collections", event.collection_id),
                Sweep("members", "collection_id", event.collection_id),
                *swept_with(event.collection_id),
                *_told(event.change_id, seq, event.owner, "delete", "collection", event.collection_id, event.at,
                       event.app),
            ]
        case CollectionItemAdded() | CollectionItemRemoved():
            entry = member_entry(event.collection_id, event.object_id)
            added = isinstance(event, CollectionItemAdded)
            change: Change = Put("members", {
                "entry": entry, "collection_id": event.collection_id, "object_type": event.object_type,
                "object_id": event.object_id, "seq": seq, "at": event.at,
            }) if added else Remove("members", entry)
            return [change, *_told(event.change_id, seq, event.owner, "add" if added else "remove",
                                   event.object_type, event.object_id, event.at, event.app,
                                   target=event.collection_id)]
    return None


def _told(activity_id: str, seq: int, actor: str, verb: str, object_type: str, object_id: str, at: float,
          app: str, *, to: str = "", **fields: Any) -> list[Change]:
    """The activity telling of a change, and the inboxes it reaches."""
    row = activity_row(activity_id=activity_id, seq=seq, actor=actor, verb=verb, object_type=object_type,
                       object_id=object_id, at=at, generator=app, reply_owner=to or None, **fields)
    return [row, *delivered(actor, seq, activity_id, row.row["major"], to=to)]


def _reaction(event: Reacted | Unreacted, seq: int) -> list[Change]:
    entry = reaction_entry(event.kind, event.actor, event.object_id)
    done, undone = REACTION_VERBS.get(event.kind, (event.kind, f"un{event.kind}"))
    if isinstance(event, Reacted):
        change: Change = Put("reactions", {
            "entry": entry, "kind": event.kind, "actor": event.actor, "object_type": event.object_type,
            "object_id": event.object_id, "object_owner": event.object_owner, "reaction_id": event.reaction_id,
            "seq": seq, "at": event.at,
        })
        verb = done
    else:
        change, verb = Remove("reactions", entry), undone
    return [change, *_told(event.reaction_id, seq, event.actor, verb, event.object_type, event.object_id,
                           event.at, event.app, to=event.object_owner)]


def _follow(event: Followed | Unfollowed, seq: int) -> list[Change]:
    entry = follow_entry(event.follower, event.followee)
    if isinstance(event, Followed):
        change: Change = Put("follows", {"entry": entry, "follower": event.follower, "followee": event.followee,
                                         "follow_id": event.follow_id, "seq": seq, "at": event.at})
        verb = "follow"
    else:
        change, verb = Remove("follows", entry), "stop-following"
    return [change, *_told(event.follow_id, seq, event.follower, verb, "person", event.followee, event.at,
                           event.app, to=event.followee)]
