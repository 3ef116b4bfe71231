"""What each event does to the read model, as data: pure functions, no SQL.

The applier turns these changes into SQL; keeping decisions here means they can be tested
without a database and a replay folds exactly the same way as live traffic.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.events import (
    AccessGranted,
    ActivityPosted,
    AnyEvent,
    AppRegistered,
    AvatarSet,
    ClientRegistered,
    ClientUpdated,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaRequested,
    MediaUpdated,
    MediaUploaded,
    RenditionInfo,
    TokenIssued,
    TokenRevoked,
    UserAdded,
)


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


Change = Put | Patch | Remove


class Table(msgspec.Struct, frozen=True):
    name: str
    pk: str
    columns: dict[str, type]
    indexes: tuple[tuple[str, ...], ...] = ()


TABLES: tuple[Table, ...] = (
    Table("users", "user_id", {"user_id": str, "password_hash": str, "created_at": float, "avatar": str}),
    Table(
        "tokens",
        "token_hash",
        {"token_hash": str, "token_id": str, "user_id": str, "scopes": str, "created_at": float, "cli": int,
         "client_id": str},
        indexes=(("user_id",),),
    ),
    Table(
        "apps",
        "client_id",
        # OAuth 2.0 client applications; `secret_hash` is the SHA-256 of the secret, never the secret.
        {"client_id": str, "app_id": str, "secret_hash": str, "name": str, "website": str, "redirect_uris": str,
         "scopes": str, "created_at": float},
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
            "title": str,
            "license": str,
            "tags": str,
            # Set when a pump.io post activity publishes the media; unposted uploads may be swept.
            "published_at": float,
            "thumb": str,
            # Set when a profile uses the media; attached media is never swept as unposted either.
            "attached_at": float,
        },
        indexes=(("owner_id",), ("blob",), ("published_at", "created_at")),
    ),
    Table(
        "requests",
        "media_id",
        # Presigned uploads granted whose bytes have not arrived; the upload moves them to `media`.
        {"media_id": str, "owner_id": str, "filename": str, "content_type": str, "max_bytes": int,
         "expires_at": float, "created_at": float},
        indexes=(("owner_id",), ("expires_at",)),
    ),
    Table(
        "clients",
        "client_id",
        {"client_id": str, "client_secret": str, "application_type": str, "application_name": str,
         "logo_uri": str, "contacts": str, "redirect_uris": str, "created_at": float, "updated_at": float},
    ),
    Table(
        "oauth_tokens",
        "token",
        {"token": str, "secret": str, "client_id": str, "user_id": str, "created_at": float},
    ),
    Table(
        "activities",
        "activity_id",
        {"activity_id": str, "seq": int, "actor": str, "verb": str, "object_type": str, "object_id": str,
         "major": int, "in_reply_to": str, "reply_owner": str, "generator": str, "display_name": str,
         "content": str, "published": float, "attachments": str, "space": str},
        # Feeds page by (actor, seq): a deep page costs the same as the first.
        indexes=(("actor", "seq"), ("actor", "major", "seq"), ("object_id",), ("seq",)),
    ),
    Table(
        "inbox",
        "entry",
        {"entry": str, "user_id": str, "seq": int, "activity_id": str, "major": int, "direct": int},
        indexes=(("user_id", "seq"), ("user_id", "major", "seq"), ("user_id", "direct", "major", "seq")),
    ),
    Table(
        "comments",
        "comment_id",
        {"comment_id": str, "author": str, "in_reply_to": str, "content": str, "published": float,
         "updated": float},
        indexes=(("in_reply_to", "published"),),
    ),
)

PROCESSING = "processing"
READY = "ready"
FAILED = "failed"


def rendition_json(info: RenditionInfo | None) -> str | None:
    return None if info is None else msgspec.json.encode(info).decode()


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def changes(event: AnyEvent, seq: int = 0) -> list[Change]:
    """What `event`, appended at stream sequence `seq`, does to the read model."""
    match event:
        case UserAdded():
            return [
                Put("users", {"user_id": event.user_id, "password_hash": event.password_hash,
                              "created_at": event.at, "avatar": None}),
            ]
        case TokenIssued():
            return [
                Put("tokens", {"token_hash": event.token_hash, "token_id": event.token_id,
                               "user_id": event.user_id, "scopes": " ".join(event.scopes),
                               "created_at": event.at, "cli": int(event.cli), "client_id": event.client_id}),
            ]
        case TokenRevoked():
            return [Remove("tokens", event.token_hash)]
        case AppRegistered():
            return [Put("apps", {
                "client_id": event.client_id, "app_id": event.app_id, "secret_hash": event.secret_hash,
                "name": event.name,
                "website": event.website, "redirect_uris": "\n".join(event.redirect_uris),
                "scopes": " ".join(event.scopes), "created_at": event.at,
            })]
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
                    "title": None, "license": None, "tags": None, "published_at": None, "thumb": None,
                    "attached_at": None,
                }),
                Remove("requests", event.media_id),
            ]
        case MediaRequested():
            return [
                Put("requests", {
                    "media_id": event.media_id, "owner_id": event.owner_id, "filename": event.filename,
                    "content_type": event.content_type, "max_bytes": event.max_bytes,
                    "expires_at": event.expires_at, "created_at": event.at,
                }),
            ]
        case AvatarSet():
            return [
                Patch("users", event.user_id, {"avatar": event.media_id}),
                Patch("media", event.media_id, {"attached_at": event.at}),
            ]
        case MediaProcessed():
            styles = event.by_style()
            return [
                Patch("media", event.media_id, {
                    "status": READY, "version": event.version,
                    "original": rendition_json(styles.get("original")),
                    "small": rendition_json(styles.get("small")),
                    "thumb": rendition_json(styles.get("thumb")),
                    "blurhash": event.blurhash, "failure": None, "updated_at": event.at,
                }),
            ]
        case MediaFailed():
            return [Patch("media", event.media_id, {"status": FAILED, "failure": event.reason,
                                                    "updated_at": event.at})]
        case MediaReprocessRequested():
            # Renditions of an earlier success stay until the new outcome replaces them; the status
            # tells clients another outcome is coming. A deleted media has no row to patch.
            return [Patch("media", event.media_id, {"status": PROCESSING, "failure": None,
                                                    "updated_at": event.at})]
        case MediaUpdated():
            fields: dict[str, Any] = {"updated_at": event.at}
            if event.focus is not None:
                fields["focus_x"] = event.focus.x
                fields["focus_y"] = event.focus.y
            fields.update(_metadata(event.title, event.description, event.license, event.tags))
            return [Patch("media", event.media_id, fields)]
        case MediaDeleted():
            return [Remove("media", event.media_id), Remove("requests", event.media_id)]
        case ClientRegistered():
            return [Put("clients", {
                "client_id": event.client_id, "client_secret": event.client_secret,
                "application_type": event.application_type, "application_name": event.application_name,
                "logo_uri": event.logo_uri, "contacts": _json(event.contacts),
                "redirect_uris": _json(event.redirect_uris), "created_at": event.at, "updated_at": event.at,
            })]
        case ClientUpdated():
            updates: dict[str, Any] = {"updated_at": event.at}
            for name in ("application_type", "application_name", "logo_uri"):
                if getattr(event, name) is not None:
                    updates[name] = getattr(event, name)
            for name in ("contacts", "redirect_uris"):
                if getattr(event, name) is not None:
                    updates[name] = _json(getattr(event, name))
            return [Patch("clients", event.client_id, updates)]
        case AccessGranted():
            return [Put("oauth_tokens", {"token": event.token, "secret": event.secret,
                                         "client_id": event.client_id, "user_id": event.user_id,
                                         "created_at": event.at})]
        case ActivityPosted():
            return _activity(event, seq)
    raise TypeError(f"no projection for {type(event).__name__}")


def _activity(event: ActivityPosted, seq: int) -> list[Change]:
    major = 1 if event.verb == "post" else 0
    out: list[Change] = [
        Put("activities", {
            "activity_id": event.activity_id, "seq": seq, "actor": event.actor, "verb": event.verb,
            "object_type": event.object_type, "object_id": event.object_id, "major": major,
            "in_reply_to": event.in_reply_to, "reply_owner": event.reply_owner, "generator": event.generator,
            "display_name": event.display_name, "content": event.content, "published": event.at,
            "attachments": _json(event.attachments) if event.attachments else None,
            "space": event.space or None,
        }),
        _inbox(event.actor, seq, event.activity_id, major, direct=False),
    ]
    if event.reply_owner and event.reply_owner != event.actor:
        # Somebody else's comment on your image reaches your inbox, addressed to you.
        out.append(_inbox(event.reply_owner, seq, event.activity_id, major, direct=True))
    out.extend(_effect(event))
    if event.verb == "post":
        # Attached media counts as posted: it is shown, and never swept as unposted.
        out.extend(Patch("media", media_id, {"published_at": event.at}) for media_id in event.attachments)
    return out


def _metadata(
    title: str | None, description: str | None, license: str | None, tags: tuple[str, ...] | None
) -> dict[str, Any]:
    """The media fields a change gives a value; None leaves a field as it is."""
    given = {"title": title, "description": description, "license": license,
             "tags": None if tags is None else _json(tags)}
    return {name: value for name, value in given.items() if value is not None}


def _inbox(user: str, seq: int, activity_id: str, major: int, *, direct: bool) -> Put:
    return Put("inbox", {"entry": f"{user}:{seq:012d}", "user_id": user, "seq": seq, "activity_id": activity_id,
                         "major": major, "direct": int(direct)})


def _effect(event: ActivityPosted) -> list[Change]:
    fields: dict[str, Any] = {}
    if event.object_type == "image":
        if event.verb == "delete":
            return [Remove("media", event.object_id)]
        fields = _metadata(event.display_name, event.content, event.license, event.tags)
        fields["updated_at"] = event.at
        if event.verb == "post":
            fields["published_at"] = event.at
        return [Patch("media", event.object_id, fields)]
    if event.object_type == "comment":
        if event.verb == "delete":
            return [Remove("comments", event.object_id)]
        if event.verb == "post":
            return [Put("comments", {"comment_id": event.object_id, "author": event.actor,
                                     "in_reply_to": event.in_reply_to, "content": event.content or "",
                                     "published": event.at, "updated": event.at})]
        if event.content is not None:
            fields["content"] = event.content
        fields["updated"] = event.at
        return [Patch("comments", event.object_id, fields)]
    return []
