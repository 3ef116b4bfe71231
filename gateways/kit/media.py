"""A media as every protocol shows it, read once from the read model's row.

Renderers take a `MediaView` rather than a row: what a column holds (renditions as JSON, focus as two
columns, tags as a JSON list) is decoded here once, and the public URLs are built in one place.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from core.events import Focus, MediaMeta, RenditionInfo
from gateways.files import file_url

PENDING = "pending"
STYLES = ("original", "small", "thumb")


class Rendition(msgspec.Struct, frozen=True, kw_only=True):
    info: RenditionInfo
    url: str


class MediaView(msgspec.Struct, frozen=True, kw_only=True):
    """A media from granted upload (`pending`, from `requests`) to processed, failed or ready (from `media`).

    Renditions of an earlier success stay while a reprocessing runs: renderers look at `status`.
    """

    id: str
    owner: str
    status: str
    filename: str | None
    # The type the client declared (pending) or the one probed from the bytes.
    content_type: str | None
    created_at: float
    updated_at: float
    via: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    blob: str | None = None
    # The processing version the renditions belong to.
    version: int | None = None
    renditions: dict[str, Rendition] = {}
    blurhash: str | None = None
    description: str | None = None
    # The description is pump.io HTML (within the whitelist), not plain text.
    description_html: bool = False
    focus: Focus | None = None
    failure: str | None = None
    title: str | None = None
    license: str | None = None
    tags: tuple[str, ...] = ()
    published_at: float | None = None
    # Where the original bytes are served by digest; None until bytes arrived.
    canonical_url: str | None = None
    # core/kinds.py; a granted upload whose bytes have not come is taken for an image.
    kind: str = "image"
    # What a processed video or audio original is.
    meta: MediaMeta | None = None
    # The stills are a custom preview's, there from the moment it was set, processed or not.
    custom_preview: bool = False
    # Where it was made: an Activity Streams place object, as a pump.io client gave it.
    location: dict[str, Any] | None = None

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    def url(self, style: str) -> str | None:
        rendition = self.renditions.get(style)
        return rendition.url if rendition else None


def media_view(row: sqlite3.Row, base: str) -> MediaView:
    """The view of a `media` row; URLs start at `base`, the public base URL."""
    blob, version = row["blob"], row["version"]
    renditions: dict[str, Rendition] = {}
    for style in STYLES:
        if row[style]:
            info = msgspec.json.decode(row[style], type=RenditionInfo)
            renditions[style] = Rendition(info=info, url=file_url(base, blob, version, info))
    blurhash = row["blurhash"]
    if row["preview_blob"]:
        # A custom preview stands in for the stills made from the file, wherever the media is shown.
        for style in ("small", "thumb"):
            info = msgspec.json.decode(row[f"preview_{style}"], type=RenditionInfo)
            renditions[style] = Rendition(info=info, url=file_url(base, row["preview_blob"], row["preview_version"],
                                                                  info))
        blurhash = row["preview_blurhash"]
    focus = Focus(x=row["focus_x"], y=row["focus_y"]) if row["focus_x"] is not None else None
    return MediaView(
        id=row["media_id"], owner=row["owner_id"], status=row["status"], via=row["via"],
        filename=row["filename"], content_type=row["content_type"], size=row["size"], width=row["width"],
        height=row["height"], blob=blob, version=version, renditions=renditions, blurhash=blurhash,
        description=row["description"], description_html=bool(row["description_html"]), focus=focus,
        failure=row["failure"], created_at=row["created_at"], updated_at=row["updated_at"], title=row["title"],
        license=row["license"],
        tags=tuple(msgspec.json.decode(row["tags"], type=list[str])) if row["tags"] else (),
        published_at=row["published_at"], canonical_url=f"{base}/media/sha256/{blob}",
        kind=row["kind"] or "image", custom_preview=bool(row["preview_blob"]),
        meta=msgspec.json.decode(row["meta"], type=MediaMeta) if row["meta"] else None,
        location=msgspec.json.decode(row["location"], type=dict[str, Any]) if row["location"] else None,
    )


def requested_view(row: sqlite3.Row) -> MediaView:
    """The view of a `requests` row: an upload granted whose bytes have not come."""
    return MediaView(id=row["media_id"], owner=row["owner_id"], status=PENDING, filename=row["filename"],
                     content_type=row["content_type"], created_at=row["created_at"],
                     updated_at=row["created_at"])
