"""Where a transformation starts from: a rendition file (re-rendered if it went missing) and the
media rows of the projection that name its blob.

The projection, not the disk, decides what is public: a blob's files are served only while a media
that was processed names it, so a deletion or a failure is a 404 as soon as it is projected, before
the sweeper removes any file, and a failed blob is never processed again by asking for its files.
When every media naming it is a pump.io upload not posted yet, they are served to those media's owners
only (gateways/transform/owners.py).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from aiohttp import web

from core.events import RenditionInfo
from core.ports import rendition_dir, rendition_name
from core.probe import MediaRejected
from gateways.kit.principal import caught_up
from gateways.kit.services import SERVICES
from gateways.transform.params import Format, focus_point
from store.queries.media import focus_of_blob, rendered_media_of_blob
from store.readmodel import READY

# How long a request for the files of bytes no folded media names waits for the projection to reach
# the head of the log, and for the head to be read.
CATCH_UP = 2.0
TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "avif": "image/avif",
         "mp4": "video/mp4", "mp3": "audio/mpeg"}
# The extension of each rendition type (AVIF is only ever a variant).
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "video/mp4": "mp4", "audio/mpeg": "mp3"}
# What a transformation of each rendition type gives when no format is asked for: GIF, a format
# transformations do not write, becomes PNG (of its first frame). Video and audio originals are not
# transformed: their previews are the images to transform.
OUTPUT_FORMATS: dict[str, Format] = {"jpg": "jpg", "png": "png", "webp": "webp", "gif": "png"}


# Renditions from the largest to the smallest.
LEVELS = ("original", "small", "thumb")


class Source(msgspec.Struct, frozen=True):
    """A rendition file: `name` is one of original, small, thumb with its extension."""

    blob: str
    version: int
    name: str
    path: Path
    # Served to the owner of an unposted pump.io upload only: no shared cache may keep it.
    private: bool = False

    @property
    def label(self) -> str:
        return f"v{self.version}/{self.name}"

    @property
    def extension(self) -> str:
        return self.name.rpartition(".")[2]

    def smaller(self) -> tuple[Path, ...]:
        """The renditions below this one in the same format, largest first: each is a fit of the
        original with its aspect. GIF levels are left out, as their palettes cost colours."""
        style, _, extension = self.name.partition(".")
        if extension == "gif" or style not in LEVELS:
            return ()
        below = LEVELS[LEVELS.index(style) + 1:]
        return tuple(self.path.with_name(f"{name}.{extension}") for name in below)


class Shown(msgspec.Struct, frozen=True):
    """A blob some processed media names: its files may be served."""

    # (processing version, file name) of every rendition a ready media lists: what may be rendered again.
    listed: frozenset[tuple[int, str]]
    # (processing version, file name) of the original of the newest version: what its digest URL serves.
    original: tuple[int, str] | None
    # What the blob was processed as: a blob is one kind whichever media names it.
    kind: str = "image"
    # Who alone may fetch it, when every media naming it is an unposted pump.io upload; None: anyone.
    owners: frozenset[str] | None = None


async def shown(app: web.Application, blob: str) -> Shown | None:
    """None when no media with renditions names `blob`: deleted, failed, still processing, or unknown.

    A media being processed again keeps its earlier renditions until its new outcome, so they stay
    served, but only a ready media's renditions are rendered again.
    """
    kept = app[SERVICES].variants.shown
    found: Shown | None = kept.get(blob)
    if found is not None:
        return found
    since = kept.since
    found = await _shown(app, blob)
    if found is None and await app[SERVICES].blobs.has(blob) and await _caught_up(app):
        # The bytes are here, so the URL may come from another replica that has folded an outcome
        # this one has not yet. Unknown digests never get here, so they cost no trip to the broker.
        since = kept.since
        found = await _shown(app, blob)
    if found is not None:
        # Only what a media names: a blob nothing names yet must be looked up again.
        kept.keep(blob, found, since=since)
    return found


async def _caught_up(app: web.Application) -> bool:
    """Whether the projection now holds everything the log held a moment ago."""
    services = app[SERVICES]
    try:
        return await caught_up(services.events, services.projection, CATCH_UP)
    except Exception:  # noqa: BLE001 - broker away or slow: answer from what is folded
        return False


async def _shown(app: web.Application, blob: str) -> Shown | None:
    # Every media row with the blob has the same renditions per version; the newest version wins.
    # A media's own blob first: its kind is what the blob renders as; a custom preview is an image.
    rows = await rendered_media_of_blob(app[SERVICES].projection, blob)
    if not rows:
        return None
    listed = set()
    original = None
    kind = rows[0]["kind"] or "image"
    for row in rows:
        version = int(row["version"])
        for column in ("original", "small", "thumb"):
            if row[column] is None:
                continue
            info = msgspec.json.decode(row[column], type=RenditionInfo)
            extension = EXTENSIONS.get(info.content_type)
            if extension is None:
                continue
            name = f"{info.style}.{extension}"
            if column == "original" and original is None:
                original = (version, name)
            if row["status"] == READY:
                listed.add((version, name))
    # One media anyone may see makes the bytes public: they are the same bytes, under the same URL.
    unposted = all(row["unposted"] for row in rows)
    owners = frozenset(row["owner_id"] for row in rows) if unposted else None
    return Shown(listed=frozenset(listed), original=original, kind=kind, owners=owners)


async def ensure_rendition(app: web.Application, blob: str, version: int, name: str, *,
                           public: Shown | None = None) -> Path | None:
    """The rendition's file, re-rendered from the blob if it was deleted; None if it is not public.

    `public`: what `shown` answered for `blob`, where the caller has asked already.
    Callers have checked `blob` and `name` against fixed patterns, so the path stays inside the
    renditions directory.
    """
    if public is None:
        public = await shown(app, blob)
    if public is None:
        return None
    services = app[SERVICES]
    path = rendition_dir(services.config.renditions, blob, version) / name
    if path.exists():
        return path
    if services.renditions is not None:
        # Kept by the processor that made it: fetched into its place here, which is where it is looked for.
        fetched = await services.renditions.fetch(rendition_name(blob, version, name))
        if fetched is not None:
            return fetched
    # Renditions are derived data: after a wipe they come back from the blob on first use. Only
    # the ones a ready media lists, so no URL makes a blob be processed for a file it never had.
    if (version, name) not in public.listed or not await services.blobs.has(blob):
        return None
    try:
        if not await services.renderer(blob, version, public.kind):
            return None
    except MediaRejected:
        # Processing refuses these bytes now (other limits than when they were processed).
        return None
    return path if path.exists() else None


async def levels(app: web.Application, source: Source) -> tuple[Path, ...]:
    """The smaller renditions a transformation of `source` may start from. Where renditions are shared,
    those not on this host are fetched first, so a variant is the same bytes whichever host renders it."""
    smaller = source.smaller()
    if app[SERVICES].renditions is not None:
        for path in smaller:
            if not path.exists():
                await ensure_rendition(app, source.blob, source.version, path.name)
    return smaller


async def media_focus(app: web.Application, blob: str) -> tuple[float, float] | None:
    """The focus (as fp-x, fp-y) of the most recently updated media with this blob that has one.

    Media ids break ties so that the answer never depends on the order SQLite happens to use.
    """
    row = await focus_of_blob(app[SERVICES].projection, blob)
    if row is None:
        return None
    return focus_point(float(row["focus_x"]), float(row["focus_y"]))
