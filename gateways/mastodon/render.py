"""Mastodon's JSON shapes, built from read-model rows and media views."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any
from urllib.parse import urlsplit

import msgspec

from core.config import Config
from core.events import RenditionInfo
from core.ids import account_number
from core.probe import Limits
from core.sanitize import holds_html, plain_text, safe_html, text_html
from gateways.kit.media import MediaView
from gateways.mastodon.settings import MastodonSettings
from store.readmodel import READY

MASTODON_VERSION = "4.5.0"
API_VERSION = 6
IMAGE_TYPES = (
    "image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp", "image/avif",
)
# Mastodon's own lists: the types clients may send. The bytes decide what a file is.
VIDEO_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/ogg")
AUDIO_TYPES = (
    "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wave", "audio/vnd.wave", "audio/ogg", "audio/vorbis",
    "audio/mpeg", "audio/mp3", "audio/webm", "audio/flac", "audio/aac", "audio/m4a", "audio/x-m4a", "audio/mp4",
    "audio/3gpp", "video/x-ms-asf",
)

def _size(info: RenditionInfo) -> dict[str, Any]:
    return {
        "width": info.width,
        "height": info.height,
        "size": f"{info.width}x{info.height}",
        "aspect": info.width / info.height,
    }


def _description(media: MediaView) -> str | None:
    # Mastodon's description is plain text, not HTML: a pump.io image's content is read as text, and a
    # description set through Mastodon is shown as it was given, `<` and all.
    if media.description and media.description_html:
        return plain_text(media.description) or None
    return media.description or None


def attachment(media: MediaView) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if media.focus is not None:
        meta["focus"] = {"x": media.focus.x, "y": media.focus.y}
    url = preview = None
    small = media.renditions.get("small")
    if media.status == READY:
        original = media.renditions["original"]
        # Video and audio: what the container is, with what it has not left out (Mastodon compacts it).
        meta["original"] = (msgspec.to_builtins(media.meta) if media.meta is not None
                            else _size(original.info))
        url = original.url
    # A custom preview is shown as soon as it is set, before the file is processed, as in Mastodon.
    if small is not None and (media.status == READY or media.custom_preview):
        meta["small"] = _size(small.info)
        preview = small.url
    return {
        "id": media.id,
        # Mastodon's names are the kinds' own: image, gifv, video, audio.
        "type": media.kind,
        "url": url,
        "preview_url": preview,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": _description(media),
        # "" for audio without cover art: nothing to hash.
        "blurhash": media.blurhash or None,
    }


def account_id(user_id: str) -> str:
    """A stable numeric id, as clients expect Mastodon's ids to look."""
    return account_number(user_id)


DEFAULT_AVATAR = "/avatars/original/missing.png"


def account(user: sqlite3.Row, base: str, *, avatar_url: str | None = None, statuses: int = 0,
            last_status_at: float | None = None, followers: int = 0, following: int = 0) -> dict[str, Any]:
    name = user["user_id"]
    created = dt.datetime.fromtimestamp(user["created_at"], dt.UTC).strftime("%Y-%m-%dT00:00:00.000Z")
    avatar = avatar_url or f"{base}{DEFAULT_AVATAR}"
    last = None if last_status_at is None else dt.datetime.fromtimestamp(last_status_at, dt.UTC).strftime("%Y-%m-%d")
    return {
        "id": account_id(name),
        "username": name,
        "acct": name,
        "display_name": name,
        "locked": False,
        "bot": False,
        "discoverable": None,
        "group": False,
        "created_at": created,
        "note": "",
        "url": f"{base}/@{name}",
        "uri": f"{base}/users/{name}",
        "avatar": avatar,
        "avatar_static": avatar,
        "header": avatar,
        "header_static": avatar,
        "followers_count": followers,
        "following_count": following,
        "statuses_count": statuses,
        "last_status_at": last,
        "emojis": [],
        "fields": [],
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
        },
    }


def media_limits(config: Config, limits: Limits) -> dict[str, Any]:
    settings = config.settings(MastodonSettings)
    return {
        "supported_mime_types": [*IMAGE_TYPES, *VIDEO_TYPES, *AUDIO_TYPES],
        "description_limit": settings.description_limit,
        "image_size_limit": settings.image_size_limit,
        "image_matrix_limit": limits.max_pixels,
        "video_size_limit": settings.video_size_limit,
        "video_frame_rate_limit": int(limits.max_frame_rate),
        "video_matrix_limit": limits.max_video_pixels,
    }


def _statuses() -> dict[str, Any]:
    return {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23}


def _polls() -> dict[str, Any]:
    return {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
            "max_expiration": 2_629_746}


def _version(package_version: str) -> str:
    return f"{MASTODON_VERSION} (compatible; Mediaplex {package_version})"


def instance_v1(config: Config, limits: Limits, users: int, package_version: str) -> dict[str, Any]:
    base = config.base_url
    domain = urlsplit(base).netloc
    return {
        "uri": domain,
        "title": "Mediaplex",
        "short_description": "A media pipeline speaking the Mastodon media API",
        "description": "A media pipeline speaking the Mastodon media API",
        "email": "",
        "version": _version(package_version),
        "urls": {"streaming_api": base.replace("http", "ws", 1)},
        "stats": {"user_count": users, "status_count": 0, "domain_count": 0},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": 0},
            "statuses": _statuses(),
            "media_attachments": media_limits(config, limits),
            "polls": _polls(),
        },
        "contact_account": None,
        "rules": [],
    }


def instance_v2(config: Config, limits: Limits, users: int, package_version: str) -> dict[str, Any]:
    base = config.base_url
    return {
        "domain": urlsplit(base).netloc,
        "title": "Mediaplex",
        "version": _version(package_version),
        "source_url": f"{base}/",
        "description": "A media pipeline speaking the Mastodon media API",
        "usage": {"users": {"active_month": users}},
        "thumbnail": {"url": f"{base}/avatars/original/missing.png", "blurhash": None, "versions": {}},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": base.replace("http", "ws", 1), "status": None, "about": None,
                     "privacy_policy": None, "terms_of_service": None},
            "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
            "statuses": _statuses(),
            "media_attachments": media_limits(config, limits),
            "polls": _polls(),
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": False, "reason_required": False,
                          "message": None, "url": None},
        "api_versions": {"mastodon": API_VERSION},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


def post_html(via: str | None, text: str) -> str:
    """The text of a post made through `via` as a status's HTML: a pump.io post's is its HTML, cut to the
    whitelist again here because comments written before pump.io content was cut hold it as it came."""
    return safe_html(text) if holds_html(via) else text_html(text)


def post_source(via: str | None, text: str) -> str:
    """The text of a post made through `via` for a client to edit: Mastodon's source is plain text."""
    return plain_text(text) if holds_html(via) else text


def iso_time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


class Reactions(msgspec.Struct, frozen=True):
    """A status's favourites and reblogs (pump.io's favorites and shares), and whether the viewer made one."""

    favourites: int = 0
    reblogs: int = 0
    favourited: bool = False
    reblogged: bool = False


def status(post: sqlite3.Row, author: dict[str, Any], media: list[MediaView], base: str,
           reply_account: str | None = None, reactions: Reactions | None = None) -> dict[str, Any]:
    """The Status entity of a post; `author` is its account, `media` its attachments that still exist."""
    reacted = reactions or Reactions()
    post_id = post["post_id"]
    url = f"{base}/@{post['author']}/{post_id}"
    return {
        "id": post_id,
        "uri": f"{base}/users/{post['author']}/statuses/{post_id}",
        "url": url,
        "created_at": iso_time(post["created_at"]),
        "edited_at": None if post["edited_at"] is None else iso_time(post["edited_at"]),
        "account": author,
        "content": post_html(post["via"], post["text"]),
        "text": None,
        "visibility": post["visibility"],
        "sensitive": bool(post["sensitive"]),
        "spoiler_text": post["spoiler_text"],
        "media_attachments": [attachment(view) for view in media],
        "application": {"name": post["app"] or "Mediaplex", "website": None},
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": reacted.reblogs,
        "favourites_count": reacted.favourites,
        "replies_count": 0,
        "quotes_count": 0,
        "in_reply_to_id": post["in_reply_to"],
        "in_reply_to_account_id": reply_account,
        "reblog": None,
        "poll": None,
        "card": None,
        "language": post["language"],
        "favourited": reacted.favourited,
        "reblogged": reacted.reblogged,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "filtered": [],
    }


def reblog(original: dict[str, Any], reblogger: dict[str, Any], *, status_id: str, at: float, visibility: str,
           base: str) -> dict[str, Any]:
    """The Status that wraps a reblogged one, as Mastodon answers a reblog: the reblogger's, with no content
    of its own and the original status under `reblog`."""
    username = reblogger.get("username", "")
    return {
        **original,
        "id": status_id,
        "uri": f"{base}/users/{username}/statuses/{status_id}/activity",
        "url": None,
        "created_at": iso_time(at),
        "edited_at": None,
        "account": reblogger,
        "content": "",
        "visibility": visibility,
        "sensitive": False,
        "spoiler_text": "",
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": 0,
        "replies_count": 0,
        "quotes_count": 0,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": original,
        "poll": None,
        "card": None,
        "language": None,
        "favourited": False,
        "reblogged": original.get("reblogged", False),
        "pinned": False,
    }
