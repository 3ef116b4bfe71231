"""pump.io's JSON shapes (activity streams 1.0 as pump.io and MediaGoblin serve them), from rows and media views."""

from __future__ import annotations

import html
import sqlite3
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from core.config import Config
from core.sanitize import holds_html, text_html
from gateways.kit.media import MediaView, Rendition
from gateways.kit.timestamps import iso
from store.readmodel import READY

PAST = {"post": "posted", "update": "updated", "delete": "deleted", "add": "added", "remove": "removed",
        "favorite": "favorited", "unfavorite": "unfavorited", "share": "shared", "unshare": "unshared",
        "follow": "followed", "stop-following": "stopped following"}
ARTICLES = {"image": "an image", "video": "a video", "audio": "an audio file", "comment": "a comment", "note": "a note",
            "collection": "a collection", "person": "a person"}
# The pump.io object types of media, by kind: an animated GIF is played as the video it became.
MEDIA_TYPES = {"image": "image", "gifv": "video", "video": "video", "audio": "audio"}
MEDIA_OBJECT_TYPES = ("image", "video", "audio")


def media_type(kind: str | None) -> str:
    """The pump.io objectType of a media of `kind`."""
    return MEDIA_TYPES.get(kind or "image", "image")


class Site(msgspec.Struct, frozen=True):
    """Where every URL in a response points: the public base URL, and its host for `acct:` ids."""

    base: str
    host: str

    @classmethod
    def of(cls, config: Config) -> Site:
        base = config.base_url
        return cls(base=base, host=urlsplit(base).netloc)

    def user(self, name: str) -> str:
        return f"{self.base}/api/user/{name}"

    def object_id(self, object_type: str, local_id: str) -> str:
        return f"{self.base}/api/{object_type}/{local_id}"


def person(user: sqlite3.Row, site: Site) -> dict[str, Any]:
    name = user["user_id"]
    at = iso(user["created_at"])
    return {
        "id": f"acct:{name}@{site.host}",
        "preferredUsername": name,
        "displayName": name,
        "objectType": "person",
        "published": at,
        "updated": at,
        "links": {
            "self": {"href": f"{site.user(name)}/profile"},
            "activity-inbox": {"href": f"{site.user(name)}/inbox"},
            "activity-outbox": {"href": f"{site.user(name)}/feed"},
        },
        "followers": {"url": f"{site.user(name)}/followers"},
        "following": {"url": f"{site.user(name)}/following"},
        "favorites": {"url": f"{site.user(name)}/favorites"},
        "lists": {"url": f"{site.user(name)}/lists/person"},
    }


def user(row: sqlite3.Row, site: Site) -> dict[str, Any]:
    at = iso(row["created_at"])
    return {"nickname": row["user_id"], "updated": at, "published": at, "profile": person(row, site)}


def _file(rendition: Rendition) -> dict[str, Any]:
    return {"url": rendition.url, "width": rendition.info.width, "height": rendition.info.height}


def _thumbnail(media: MediaView) -> Rendition:
    # pump.io's `image` fits 320x320; media processed before that rendition existed show `small`.
    return media.renditions.get("thumb") or media.renditions["small"]


def title(given: str | None, filename: str | None, via: str | None) -> str | None:
    """What a media is called: its title, else, as MediaGoblin titles an upload, the file name its pump.io
    client gave (X-File-Name)."""
    return given or (filename if via == "pumpio" else None) or None


def image(media: MediaView, author: dict[str, Any], replies: dict[str, Any], site: Site) -> dict[str, Any]:
    """An uploaded image, video or audio file; `image` and `fullImage` (for video and audio, `stream`
    and the preview as `image`, as MediaGoblin has them) appear once the renditions exist."""
    object_type = media_type(media.kind)
    object_id = site.object_id(object_type, media.id)
    body: dict[str, Any] = {"id": object_id, "objectType": object_type, "url": object_id, "author": author}
    if media.status == READY and object_type == "image":
        body["image"] = _file(_thumbnail(media))
        body["fullImage"] = _file(media.renditions["original"])
    elif media.status == READY:
        original = media.renditions["original"]
        stream: dict[str, Any] = {"url": original.url}
        if media.meta is not None:
            stream.update(msgspec.to_builtins(media.meta))
        body["stream"] = stream
        if "small" in media.renditions:
            body["image"] = _file(_thumbnail(media))
    body.update({
        "published": iso(media.created_at),
        "updated": iso(media.updated_at),
        "pump_io": {"shared": False},
        "links": {"self": {"href": object_id}},
    })
    if name := title(media.title, media.filename, media.via):
        body["displayName"] = name
    if media.description:
        # pump.io content is HTML: a description set through Mastodon is plain text, shown escaped.
        body["content"] = media.description if media.description_html else text_html(media.description)
    if media.license:
        body["license"] = media.license
    if media.location is not None:
        body["location"] = media.location
    body["tags"] = list(media.tags)
    body["replies"] = replies
    return body


def comment(row: sqlite3.Row, author: dict[str, Any], in_reply_to: dict[str, Any], site: Site) -> dict[str, Any]:
    object_id = site.object_id("comment", row["comment_id"])
    return {
        "id": object_id,
        "objectType": "comment",
        "url": object_id,
        "author": author,
        "content": row["content"],
        "inReplyTo": in_reply_to,
        "published": iso(row["published"]),
        "updated": iso(row["updated"]),
        "pump_io": {"shared": False},
        "links": {"self": {"href": object_id}},
    }


def note(post: sqlite3.Row, author: dict[str, Any], attachments: list[dict[str, Any]], replies: dict[str, Any],
         site: Site) -> dict[str, Any]:
    """A note posted through the posts API; `post` is the activity that posted it, which holds all it says."""
    object_id = site.object_id("note", post["object_id"])
    at = iso(post["published"])
    body: dict[str, Any] = {
        "id": object_id,
        "objectType": "note",
        "url": object_id,
        "author": author,
        # A note posted through pump.io holds the safe HTML it was cut to; a Mastodon status or a `/posts`
        # body is plain text, which pump.io shows as HTML.
        "content": (post["content"] or "") if holds_html(post["via"]) else text_html(post["content"] or ""),
        "attachments": attachments,
        "published": at,
        "updated": at,
        "pump_io": {"shared": False},
        "links": {"self": {"href": object_id}},
    }
    if post["display_name"]:
        body["displayName"] = post["display_name"]
    body["replies"] = replies
    return body


def reactions(body: dict[str, Any], *, likes: int, shares: int, liked: bool, shared: bool) -> dict[str, Any]:
    """An object's `likes` and `shares` collections by reference, and what the reader did of either."""
    body["likes"] = {"totalItems": likes, "url": f"{body['id']}/likes"}
    body["shares"] = {"totalItems": shares, "url": f"{body['id']}/shares"}
    body["liked"] = liked
    body["pump_io"] = {**body.get("pump_io", {}), "shared": shared}
    return body


def reference(object_type: str, local_id: str, site: Site, deleted: float | None = None) -> dict[str, Any]:
    """An object named by id and type only: one that is gone, or one nested where its whole self would recurse."""
    body: dict[str, Any] = {"id": site.object_id(object_type, local_id), "objectType": object_type}
    if deleted is not None:
        body["deleted"] = iso(deleted)
    return body


def replies(object_id: str, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The comments on the object whose pump.io id is `object_id`: how many, the newest few, and where the rest are."""
    return {"totalItems": total, "items": items, "url": f"{object_id}/replies"}


def activity_content(row: sqlite3.Row, title: str | None) -> str:
    """Such as "alice posted Heron": the object is named by its title when it has one."""
    what = row["display_name"] or title or ARTICLES.get(row["object_type"], "an object")
    # The content is HTML and a title is text.
    return html.escape(f"{row['actor']} {PAST.get(row['verb'], row['verb'])} {what}", quote=False)


def generator(name: str) -> dict[str, Any]:
    if name:
        return {"objectType": "client", "displayName": name}
    return {"objectType": "service", "displayName": "Mediaplex"}


def activity(row: sqlite3.Row, actor: dict[str, Any], obj: dict[str, Any], content: str,
             site: Site) -> dict[str, Any]:
    activity_id = site.object_id("activity", row["activity_id"])
    at = iso(row["published"])
    return {
        "id": activity_id,
        "objectType": "activity",
        "verb": row["verb"],
        "actor": actor,
        "object": obj,
        "content": content,
        "url": activity_id,
        "published": at,
        "updated": at,
        "links": {"self": {"href": activity_id}},
        "generator": generator(row["generator"] or ""),
    }


def link(url: str, /, **params: str | int | None) -> dict[str, str]:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return {"href": f"{url}?{query}" if query else url}


def collection(*, display_name: str, url: str, object_type: str, items: list[dict[str, Any]], total: int,
               links: dict[str, dict[str, str]], author: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": display_name,
        "objectTypes": [object_type],
        "url": url,
        "links": links,
        "items": items,
        "totalItems": total,
    }
    if author is not None:
        body["author"] = author
    return body


def album(row: sqlite3.Row, author: dict[str, Any], members: int, object_types: list[str],
          site: Site) -> dict[str, Any]:
    """A collection object: an album of media or a list of people; its members are a page away."""
    object_id = site.object_id("collection", row["collection_id"])
    members_url = f"{object_id}/members"
    body: dict[str, Any] = {
        "id": object_id,
        "objectType": "collection",
        "url": object_id,
        "author": author,
        "displayName": row["name"],
        "content": row["content"],
        "objectTypes": object_types,
        "members": {"url": members_url, "totalItems": members},
        "published": iso(row["created_at"]),
        "updated": iso(row["updated_at"]),
        "pump_io": {"shared": False},
        "links": {"self": {"href": object_id}, "members": {"href": members_url}},
    }
    return body
