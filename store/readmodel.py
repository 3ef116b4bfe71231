"""What each event does to the read model, as data: pure functions, no SQL.

The applier turns these changes into SQL; keeping decisions here means they can be tested
without a database and a replay folds exactly the same way as live traffic.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.events import (
    AnyEvent,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaUpdated,
    MediaUploaded,
    RenditionInfo,
    TokenIssued,
    UserAdded,
)


class Put(msgspec.Struct, frozen=True):
    """Insert a whole row, or replace the row with the same key."""

    table: str
    row: dict[str, Any]


class Patch(msgspec.Struct, frozen=True):
    """Change some fields of an existing row; nothing happens when the row is gone."""

    table: str
    key: str
    fields: dict[str, Any]


class Remove(msgspec.Struct, frozen=True):
    table: str
    key: str


Change = Put | Patch | Remove


class Table(msgspec.Struct, frozen=True):
    name: str
    pk: str
    columns: dict[str, type]
    indexes: tuple[tuple[str, ...], ...] = ()


TABLES: tuple[Table, ...] = (
    Table("users", "user_id", {"user_id": str, "password_hash": str, "created_at": float}),
    Table(
        "tokens",
        "token_hash",
        {"token_hash": str, "token_id": str, "user_id": str, "scopes": str, "created_at": float},
        indexes=(("user_id",),),
    ),
    Table(
        "media",
        "media_id",
        {
            "media_id": str,
            "owner_id": str,
            "blob": str,
            "size": int,
            "content_type": str,
            "width": int,
            "height": int,
            "frames": int,
            "filename": str,
            "description": str,
            "focus_x": float,
            "focus_y": float,
            "via": str,
            "status": str,
            "version": int,
            "original": str,
            "small": str,
            "blurhash": str,
            "failure": str,
            "created_at": float,
            "updated_at": float,
        },
        indexes=(("owner_id",), ("blob",)),
    ),
)

PROCESSING = "processing"
READY = "ready"
FAILED = "failed"


def rendition_json(info: RenditionInfo) -> str:
    return msgspec.json.encode(info).decode()


def changes(event: AnyEvent) -> list[Change]:
    match event:
        case UserAdded():
            return [
                Put("users", {"user_id": event.user_id, "password_hash": event.password_hash,
                              "created_at": event.at}),
            ]
        case TokenIssued():
            return [
                Put("tokens", {"token_hash": event.token_hash, "token_id": event.token_id,
                               "user_id": event.user_id, "scopes": " ".join(event.scopes),
                               "created_at": event.at}),
            ]
        case MediaUploaded():
            focus = event.focus
            return [
                Put("media", {
                    "media_id": event.media_id, "owner_id": event.owner_id, "blob": event.blob,
                    "size": event.size, "content_type": event.content_type, "width": event.width,
                    "height": event.height, "frames": event.frames, "filename": event.filename,
                    "description": event.description,
                    "focus_x": focus.x if focus else None, "focus_y": focus.y if focus else None,
                    "via": event.via, "status": PROCESSING, "version": None, "original": None,
                    "small": None, "blurhash": None, "failure": None,
                    "created_at": event.at, "updated_at": event.at,
                }),
            ]
        case MediaProcessed():
            return [
                Patch("media", event.media_id, {
                    "status": READY, "version": event.version,
                    "original": rendition_json(event.original), "small": rendition_json(event.small),
                    "blurhash": event.blurhash, "failure": None, "updated_at": event.at,
                }),
            ]
        case MediaFailed():
            return [Patch("media", event.media_id, {"status": FAILED, "failure": event.reason,
                                                    "updated_at": event.at})]
        case MediaUpdated():
            fields: dict[str, Any] = {"updated_at": event.at}
            if event.description is not None:
                fields["description"] = event.description
            if event.focus is not None:
                fields["focus_x"] = event.focus.x
                fields["focus_y"] = event.focus.y
            return [Patch("media", event.media_id, fields)]
        case MediaDeleted():
            return [Remove("media", event.media_id)]
    raise TypeError(f"no projection for {type(event).__name__}")
