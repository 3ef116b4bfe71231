"""What each event does to the read model, as data: pure functions, no SQL.

The applier turns these changes into SQL; keeping decisions here means they can be tested
without a database and a replay folds exactly the same way as live traffic.
"""

from __future__ import annotations

from typing import Any, TypeVar

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
    MediaThumbnailSet,
    MediaUpdated,
    MediaUploaded,
    PostCreated,
    PostDeleted,
    PostEdited,
    RenditionInfo,
    TokenIssued,
    TokenRevoked,
    UserAdded,
    UserMadeAdmin,
)
from core.ids import account_number
from core.sanitize import safe_html, title_text
from store.changes import Change, Patch, Put, Remove, Sweep, Table, activity_row, delivered
from store.social import SOCIAL_TABLES, social_changes, swept_with

PostCreatedOrEdited = TypeVar("PostCreatedOrEdited", PostCreated, PostEdited)

__all__ = ["TABLES", "Change", "Patch", "Put", "Remove", "Table", "changes"]



TABLES: tuple[Table, ...] = (
    Table("users", "user_id", {"user_id": str, "password_hash": str, "created_at": float, "avatar": str,
                                "admin": int}),
    # Mastodon's numeric account ids, to find the user behind one.
    Table("accounts", "account_id", {"account_id": str, "user_id": str}),
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
            # 1 when the description is a pump.io image's content (HTML within the whitelist), 0 when it
            # is plain text as Mastodon sets it: each protocol turns the other's form into its own.
            "description_html": int,
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
            # The post that attaches the media, of any protocol and visibility: one at most.
            "post_id": str,
            # core/kinds.py: image, gifv, video or audio.
            "kind": str,
            # A video or audio original's MediaMeta, as JSON; NULL for images.
            "meta": str,
            # A custom preview: its blob, processing version, `small` and `thumb` renditions and BlurHash.
            "preview_blob": str,
            "preview_version": int,
            "preview_small": str,
            "preview_thumb": str,
            "preview_blurhash": str,
            # Where it was made, from pump.io: an Activity Streams place object as JSON.
            "location": str,
        },
        # status: the operator console lists failed media, newest first.
        indexes=(("owner_id",), ("blob",), ("published_at", "created_at"), ("preview_blob",),
                 ("status", "updated_at")),
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
         "content": str, "published": float, "attachments": str, "space": str, "target": str},
        # Feeds page by (actor, seq): a deep page costs the same as the first.
        indexes=(("actor", "seq"), ("actor", "major", "seq"), ("object_id",), ("seq",)),
    ),
    Table(
        "inbox",
        "entry",
        {"entry": str, "user_id": str, "seq": int, "activity_id": str, "major": int, "direct": int},
        indexes=(("user_id", "seq"), ("user_id", "major", "seq"), ("user_id", "direct", "major", "seq"),
                 ("activity_id",)),
    ),
    Table(
        "comments",
        "comment_id",
        {"comment_id": str, "author": str, "in_reply_to": str, "content": str, "published": float,
         "updated": float},
        indexes=(("in_reply_to", "published"),),
    ),
    Table(
        "posts",
        "post_id",
        # One row per post of any protocol; `sort` is the numeric post id, which orders posts by time.
        {"post_id": str, "sort": int, "seq": int, "note_id": str, "activity_id": str, "author": str,
         "text": str, "attachments": str, "has_media": int, "visibility": str, "sensitive": int,
         "spoiler_text": str, "language": str, "in_reply_to": str, "via": str, "app": str, "space": str,
         "created_at": float, "edited_at": float},
        # Timelines page by `sort` on these: a deep page costs what the first does.
        indexes=(("author", "sort"), ("author", "has_media", "sort"), ("visibility", "sort"),
                 ("visibility", "has_media", "sort"), ("note_id",), ("in_reply_to",)),
    ),
    Table(
        "post_versions",
        "entry",
        # Each version a post has had, for its edit history.
        {"entry": str, "post_id": str, "text": str, "attachments": str, "sensitive": int,
         "spoiler_text": str, "language": str, "at": float},
        indexes=(("post_id", "entry"),),
    ),
    *SOCIAL_TABLES,
)

# Posts of these visibilities are public, so they show in pump.io feeds too.
LISTED = ("public", "unlisted")

PROCESSING = "processing"
READY = "ready"
FAILED = "failed"


def rendition_json(info: RenditionInfo | None) -> str | None:
    return None if info is None else msgspec.json.encode(info).decode()


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def changes(event: AnyEvent, seq: int = 0) -> list[Change]:
    """What `event`, appended at stream sequence `seq`, does to the read model."""
    # Uploads and their outcomes are most of any log: found before the match tries a case each.
    if isinstance(event, MediaUploaded):
        return _uploaded(event)
    if isinstance(event, MediaProcessed):
        return _processed(event)
    match event:
        case UserAdded():
            return [
                Put("users", {"user_id": event.user_id, "password_hash": event.password_hash,
                              "created_at": event.at, "avatar": None, "admin": int(event.admin)}),
                Put("accounts", {"account_id": account_number(event.user_id), "user_id": event.user_id}),
            ]
        case UserMadeAdmin():
            return [Patch("users", event.user_id, {"admin": 1})]
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
        case MediaThumbnailSet():
            previews = {info.style: info for info in event.renditions}
            return [Patch("media", event.media_id, {
                "preview_blob": event.blob, "preview_version": event.version,
                "preview_small": rendition_json(previews.get("small")),
                "preview_thumb": rendition_json(previews.get("thumb")),
                "preview_blurhash": event.blurhash, "updated_at": event.at,
            })]
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
            if event.description is not None:
                fields["description_html"] = 0
            return [Patch("media", event.media_id, fields)]
        case MediaDeleted():
            out = [Remove("media", event.media_id), Remove("requests", event.media_id), *swept_with(event.media_id)]
            if event.published and event.owner_id:
                deleted = delete_activity_id(event.media_id)
                out.append(activity_row(activity_id=deleted, seq=seq, actor=event.owner_id, verb="delete",
                                        object_type="image", object_id=event.media_id, at=event.at))
                out.extend(delivered(event.owner_id, seq, deleted, 0))
            return out
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
            out = _activity(_safe_activity(event), seq)
            if event.object_type == "note" and event.verb == "post":
                # Notes from before posts had events of their own read as posts too.
                out.append(_older_note(event, seq))
            return out
        case PostCreated():
            return _post_created(_safe_comment(event), seq)
        case PostEdited():
            return _post_edited(_safe_comment(event), seq)
        case PostDeleted():
            return _post_deleted(event, seq)
    social = social_changes(event, seq)
    if social is not None:
        return social
    raise TypeError(f"no projection for {type(event).__name__}")


# The media fields an outcome sets, as `outcome_row` gives the values.
OUTCOME_COLUMNS = ("status", "version", "original", "small", "thumb", "blurhash", "failure", "updated_at", "meta")
# The media row an upload writes, as `upload_row` gives the values: the fields an outcome sets come
# last, so that an outcome folded into the row is one slice (store/runs.py).
UPLOAD_COLUMNS = (
    "media_id", "owner_id", "blob", "size", "content_type", "width", "height", "frames", "filename",
    "description", "description_html", "focus_x", "focus_y", "via", "created_at", "title", "license", "tags",
    "published_at", "attached_at", "post_id", "kind", "preview_blob", "preview_version",
    "preview_small", "preview_thumb", "preview_blurhash", "location", *OUTCOME_COLUMNS,
)


def upload_row(event: MediaUploaded) -> list[Any]:
    focus = event.focus
    return [
        event.media_id, event.owner_id, event.blob, event.size, event.content_type, event.width,
        event.height, event.frames, event.filename, event.description, 0,
        focus.x if focus else None, focus.y if focus else None, event.via, event.at, None, None, None,
        None, None, None, event.kind, None, None,
        None, None, None, None,
        # What an outcome sets: still processing, as of the upload.
        PROCESSING, None, None, None, None, None, None, event.at, None,
    ]


def outcome_row(event: MediaProcessed) -> list[Any]:
    # As `by_style` names them, the last of a style winning, without the dict.
    original = small = thumb = None
    for info in event.renditions:
        if info.style == "original":
            original = _json(info)
        elif info.style == "small":
            small = _json(info)
        elif info.style == "thumb":
            thumb = _json(info)
    meta = msgspec.json.encode(event.meta).decode() if event.meta is not None else None
    return [READY, event.version, original, small, thumb, event.blurhash, None, event.at, meta]


def _uploaded(event: MediaUploaded) -> list[Change]:
    return [Put("media", dict(zip(UPLOAD_COLUMNS, upload_row(event), strict=True))),
            Remove("requests", event.media_id)]


def _processed(event: MediaProcessed) -> list[Change]:
    return [Patch("media", event.media_id, dict(zip(OUTCOME_COLUMNS, outcome_row(event), strict=True)))]


def _safe_activity(event: ActivityPosted) -> ActivityPosted:
    """An image's or comment's pump.io text in the safe forms the gateway keeps: events written before it
    kept them fold to those forms too, and cutting a safe text again leaves it as it is."""
    if event.object_type not in ("image", "comment"):
        # A note here came through the posts API, as plain text.
        return event
    return msgspec.structs.replace(
        event,
        content=None if event.content is None else safe_html(event.content),
        display_name=None if event.display_name is None else title_text(event.display_name),
        license=None if event.license is None else title_text(event.license),
    )


def _safe_comment(event: PostCreatedOrEdited) -> PostCreatedOrEdited:
    """A pump.io comment's text is HTML within the whitelist, however old its event."""
    return msgspec.structs.replace(event, text=safe_html(event.text)) if event.comment_on else event


def _activity(event: ActivityPosted, seq: int) -> list[Change]:
    major = 1 if event.verb == "post" else 0
    out: list[Change] = [
        activity_row(
            activity_id=event.activity_id, seq=seq, actor=event.actor, verb=event.verb,
            object_type=event.object_type, object_id=event.object_id, at=event.at, major=major,
            generator=event.generator, in_reply_to=event.in_reply_to, reply_owner=event.reply_owner,
            display_name=event.display_name, content=event.content,
            attachments=_json(event.attachments) if event.attachments else None, space=event.space or None,
        ),
        # Somebody else's comment on your image reaches your inbox, addressed to you.
        *delivered(event.actor, seq, event.activity_id, major, to=event.reply_owner),
    ]
    out.extend(_effect(event))
    if event.verb == "post":
        # Attached media counts as posted: it is shown, and never swept as unposted. A note's post (these
        # notes are posts too, see _older_note) attaches it.
        attached: dict[str, Any] = {"published_at": event.at}
        if event.object_type == "note":
            attached["post_id"] = note_post_id(event.activity_id, event.at)
        out.extend(Patch("media", media_id, attached) for media_id in event.attachments)
    return out


def _metadata(
    title: str | None, description: str | None, license: str | None, tags: tuple[str, ...] | None
) -> dict[str, Any]:
    """The media fields a change gives a value; None leaves a field as it is."""
    given = {"title": title, "description": description, "license": license,
             "tags": None if tags is None else _json(tags)}
    return {name: value for name, value in given.items() if value is not None}


def _effect(event: ActivityPosted) -> list[Change]:
    fields: dict[str, Any] = {}
    if event.object_type == "image":
        if event.verb == "delete":
            return [Remove("media", event.object_id), *swept_with(event.object_id)]
        fields = _metadata(event.display_name, event.content, event.license, event.tags)
        if event.content is not None:
            fields["description_html"] = 1
        if event.location is not None:
            fields["location"] = event.location
        fields["updated_at"] = event.at
        if event.verb == "post":
            fields["published_at"] = event.at
        return [Patch("media", event.object_id, fields)]
    if event.object_type == "comment":
        if event.verb == "delete":
            return [Remove("comments", event.object_id), *swept_with(event.object_id)]
        if event.verb == "post":
            return [Put("comments", {"comment_id": event.object_id, "author": event.actor,
                                     "in_reply_to": event.in_reply_to, "content": event.content or "",
                                     "published": event.at, "updated": event.at})]
        if event.content is not None:
            fields["content"] = event.content
        fields["updated"] = event.at
        return [Patch("comments", event.object_id, fields)]
    return []


def note_post_id(activity_id: str, at: float) -> str:
    """A numeric, time-ordered post id for a note posted before posts had ids of their own."""
    low = int(activity_id[:4], 16) if len(activity_id) >= 4 and all(c in "0123456789abcdef" for c in activity_id[:4]) \
        else 0
    return str((int(at * 1000) << 16) | low)


def post_activity_id(post_id: str) -> str:
    """The pump.io activity that posted a post, in the feeds."""
    return f"{post_id}-post"


def update_activity_id(post_id: str, seq: int) -> str:
    """The pump.io activity that tells of the edit of a post appended at `seq`."""
    return f"{post_id}-update-{seq}"


def delete_activity_id(post_id: str) -> str:
    return f"{post_id}-delete"


def _older_note(event: ActivityPosted, seq: int) -> Put:
    post_id = note_post_id(event.activity_id, event.at)
    return _post_row(post_id=post_id, seq=seq, note_id=event.object_id, activity_id=event.activity_id,
                     author=event.actor, text=event.content or "", attachments=event.attachments,
                     visibility="public", sensitive=False, spoiler_text="", language="", in_reply_to="",
                     via="posts", app=event.generator, space=event.space, at=event.at)


def _post_row(*, post_id: str, seq: int, note_id: str, activity_id: str, author: str, text: str,
              attachments: tuple[str, ...], visibility: str, sensitive: bool, spoiler_text: str, language: str,
              in_reply_to: str, via: str, app: str, space: str, at: float) -> Put:
    return Put("posts", {
        "post_id": post_id, "sort": int(post_id), "seq": seq, "note_id": note_id, "activity_id": activity_id,
        "author": author, "text": text, "attachments": _json(attachments), "has_media": int(bool(attachments)),
        "visibility": visibility, "sensitive": int(sensitive), "spoiler_text": spoiler_text,
        "language": language or None, "in_reply_to": in_reply_to or None, "via": via, "app": app,
        "space": space or None, "created_at": at, "edited_at": None,
    })


def _version(post_id: str, seq: int, event: PostCreated | PostEdited) -> Put:
    return Put("post_versions", {
        "entry": f"{post_id}:{seq:012d}", "post_id": post_id, "text": event.text,
        "attachments": _json(event.attachments), "sensitive": int(event.sensitive),
        "spoiler_text": event.spoiler_text, "language": event.language or None, "at": event.at,
    })


def _post_created(event: PostCreated, seq: int) -> list[Change]:
    activity_id = post_activity_id(event.post_id)
    if event.comment_on:
        return _comment_created(event, seq, activity_id)
    out: list[Change] = [
        _post_row(post_id=event.post_id, seq=seq, note_id=event.post_id, activity_id=activity_id,
                  author=event.author, text=event.text, attachments=event.attachments,
                  visibility=event.visibility, sensitive=event.sensitive, spoiler_text=event.spoiler_text,
                  language=event.language, in_reply_to=event.in_reply_to, via=event.via, app=event.app,
                  space=event.space, at=event.at),
        _version(event.post_id, seq, event),
    ]
    if event.visibility in LISTED:
        # A listed post is a note in its author's pump.io feeds, attachments and all.
        out.append(activity_row(
            activity_id=activity_id, seq=seq, actor=event.author, verb="post", object_type="note",
            object_id=event.post_id, at=event.at, generator=event.app, content=event.text,
            attachments=_json(event.attachments) if event.attachments else None, space=event.space or None,
            display_name=event.title or None,
        ))
        # Keyed by activity, not by sequence, so that the post's delete can take the entries out.
        out.extend(delivered(event.author, seq, activity_id, 1, suffix=activity_id))
    out.extend(_attach(event.attachments, event.post_id, event.at, listed=event.visibility in LISTED))
    return out


def _comment_created(event: PostCreated, seq: int, activity_id: str) -> list[Change]:
    """A comment through pump.io: a post that folds into pump.io's rows exactly as comments always have."""
    out: list[Change] = [
        _post_row(post_id=event.post_id, seq=seq, note_id=event.post_id, activity_id=activity_id,
                  author=event.author, text=event.text, attachments=(), visibility="public", sensitive=False,
                  spoiler_text="", language="", in_reply_to=event.in_reply_to, via=event.via, app=event.app,
                  space="", at=event.at),
        _version(event.post_id, seq, event),
        Put("comments", {"comment_id": event.post_id, "author": event.author, "in_reply_to": event.comment_on,
                         "content": event.text, "published": event.at, "updated": event.at}),
        activity_row(activity_id=activity_id, seq=seq, actor=event.author, verb="post", object_type="comment",
                     object_id=event.post_id, at=event.at, generator=event.app, in_reply_to=event.comment_on,
                     reply_owner=event.reply_owner or None, content=event.text),
        *delivered(event.author, seq, activity_id, 1, to=event.reply_owner),
    ]
    return out


def _comment_changed(event: PostEdited | PostDeleted, seq: int) -> list[Change]:
    """A change to a comment through pump.io: its post, and pump.io's rows as a comment activity makes them."""
    edit = isinstance(event, PostEdited)
    comment_id = event.note_id or event.post_id
    activity_id = update_activity_id(event.post_id, seq) if edit else delete_activity_id(event.post_id)
    out: list[Change] = [
        activity_row(activity_id=activity_id, seq=seq, actor=event.author, verb="update" if edit else "delete",
                     object_type="comment", object_id=comment_id, at=event.at, generator=event.app,
                     in_reply_to=event.comment_on, reply_owner=event.reply_owner or None,
                     content=event.text if isinstance(event, PostEdited) else None),
        *delivered(event.author, seq, activity_id, 0, to=event.reply_owner),
    ]
    if isinstance(event, PostEdited):
        out.append(Patch("posts", event.post_id, {"text": event.text, "edited_at": event.at}))
        out.append(_version(event.post_id, seq, event))
        out.append(Patch("comments", comment_id, {"content": event.text, "updated": event.at}))
    else:
        out.append(Remove("posts", event.post_id))
        out.append(Remove("comments", comment_id))
        out.extend(swept_with(comment_id))
    return out


def _post_edited(event: PostEdited, seq: int) -> list[Change]:
    if event.comment_on:
        return _comment_changed(event, seq)
    out: list[Change] = [
        Patch("posts", event.post_id, {
            "text": event.text, "attachments": _json(event.attachments), "has_media": int(bool(event.attachments)),
            "sensitive": int(event.sensitive), "spoiler_text": event.spoiler_text,
            "language": event.language or None, "edited_at": event.at,
        }),
        _version(event.post_id, seq, event),
    ]
    if event.activity_id:
        out.append(Patch("activities", event.activity_id, {
            "content": event.text, "attachments": _json(event.attachments) if event.attachments else None}))
        # As pump.io does for an edit: an update activity of the note in the author's outbox.
        updated = update_activity_id(event.post_id, seq)
        out.append(activity_row(activity_id=updated, seq=seq, actor=event.author, verb="update",
                                object_type="note", object_id=event.note_id or event.post_id, at=event.at,
                                generator=event.app))
        out.extend(delivered(event.author, seq, updated, 0, suffix=updated))
    # A comment's pump.io object shows the edit too; any other post has no comment row to patch.
    out.append(Patch("comments", event.post_id, {"content": event.text, "updated": event.at}))
    out.extend(_detach(event.detached))
    # Only a listed post has a pump.io activity to name.
    out.extend(_attach(event.attachments, event.post_id, event.at, listed=bool(event.activity_id)))
    return out


def _post_deleted(event: PostDeleted, seq: int) -> list[Change]:
    if event.comment_on:
        return _comment_changed(event, seq)
    out: list[Change] = [Remove("posts", event.post_id), Remove("comments", event.post_id),
                         *swept_with(event.note_id or event.post_id)]
    if event.activity_id:
        # The note leaves the feeds; a delete activity tells pump.io clients it went.
        deleted = delete_activity_id(event.post_id)
        out.append(Remove("activities", event.activity_id))
        out.append(activity_row(activity_id=deleted, seq=seq, actor=event.author, verb="delete",
                                object_type="note", object_id=event.note_id or event.post_id, at=event.at,
                                generator=event.app))
        # Out of every inbox it reached, the author's and the followers'.
        out.append(Sweep("inbox", "activity_id", event.activity_id))
        out.extend(delivered(event.author, seq, deleted, 0, suffix=deleted))
    # Its media is free again: deleted with the post's redraft or swept as any unposted upload.
    out.extend(_detach(event.attachments))
    return out


def _attach(media_ids: tuple[str, ...], post_id: str, at: float, *, listed: bool) -> list[Change]:
    """Attached media is never swept as unposted; a listed post's media is published, public in pump.io too."""
    fields: dict[str, Any] = {"post_id": post_id}
    if listed:
        fields["published_at"] = at
    return [Patch("media", media_id, fields) for media_id in media_ids]


def _detach(media_ids: tuple[str, ...]) -> list[Change]:
    return [Patch("media", media_id, {"post_id": None, "published_at": None}) for media_id in media_ids]
