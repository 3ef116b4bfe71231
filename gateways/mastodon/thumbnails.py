"""Custom previews of video and audio (Mastodon's `thumbnail`): an image rendered as any image is.

The image is its own blob; its `small` and `thumb` renditions and BlurHash stand in for those made
from the file. It is rendered while the request waits, as Mastodon does, so `preview_url` is the
custom one in the answer itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable

from aiohttp import web

from core.events import MediaThumbnailSet
from core.kinds import is_played
from core.ports import TooLarge
from core.probe import MediaRejected
from gateways.kit import writes
from gateways.kit.ingest import Checked, stage
from gateways.kit.multipart import Part
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors
from gateways.mastodon.settings import MastodonSettings
from processors.imaging import PROCESSING_VERSION
from processors.rendered import Rendered

# The stills a preview stands in for.
PREVIEW_STYLES = ("small", "thumb")


async def stage_thumbnail(app: web.Application, chunks: AsyncIterable[bytes]) -> Checked:
    """The thumbnail part, staged: an image within the image limits, else a refusal."""
    limit = app[SERVICES].config.settings(MastodonSettings).image_size_limit
    try:
        checked = await stage(app[SERVICES].blobs, chunks, max_bytes=limit - 1, limits=app[SERVICES].limits)
    except MediaRejected:
        raise Refusal(422, errors.INVALID_THUMBNAIL) from None
    except TooLarge:
        raise Refusal(422, errors.thumbnail_too_large(limit)) from None
    if is_played(checked.header.kind):
        app[SERVICES].blobs.discard(checked.staged)
        raise Refusal(422, errors.INVALID_THUMBNAIL)
    return checked


class ThumbnailPart:
    """The `thumbnail` part of an upload form: staged as it comes, judged once the file's kind is known
    (the form may carry it before the file)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.staged: Checked | None = None
        self._refused: Refusal | None = None

    async def take(self, part: Part, file_kind: str | None) -> None:
        """Read the part; `file_kind` is the file's kind if the file came first."""
        contents = await part.filled()
        if contents is None or self.staged is not None or self._refused is not None:
            await part.skip()
            return
        if file_kind is not None and not takes_thumbnail(file_kind):
            # Refused for what the file is, whatever the thumbnail holds.
            self._refused = Refusal(422, errors.THUMBNAIL_NOT_BLANK)
            await part.skip()
            return
        try:
            self.staged = await stage_thumbnail(self._app, contents)
        except Refusal as exc:
            self._refused = exc
            await part.skip()

    def check(self, file_kind: str) -> None:
        """Refuse a thumbnail the file's kind takes none of, first; then one that is no image."""
        if (self.staged is not None or self._refused is not None) and not takes_thumbnail(file_kind):
            raise Refusal(422, errors.THUMBNAIL_NOT_BLANK)
        if self._refused is not None:
            raise self._refused

    def discard(self) -> None:
        if self.staged is not None:
            self._app[SERVICES].blobs.discard(self.staged.staged)
            self.staged = None


def takes_thumbnail(kind: str) -> bool:
    # Mastodon takes one for audio and video only; gifv and images are shown as they are.
    return is_played(kind)


async def set_thumbnail(request: web.Request, media_id: str, checked: Checked) -> None:
    """Commit and render the staged thumbnail, then make it the media's preview."""
    services = request.app[SERVICES]
    created = await services.blobs.commit(checked.staged)
    try:
        rendered: Rendered = await services.renderer.render(checked.staged.sha256, "image")
    except MediaRejected:
        if created:
            await services.blobs.remove(checked.staged.sha256)
        raise Refusal(422, errors.INVALID_THUMBNAIL) from None
    event = MediaThumbnailSet(
        at=time.time(), media_id=media_id, blob=checked.staged.sha256, version=PROCESSING_VERSION,
        renditions=rendered.infos(*PREVIEW_STYLES),
        blurhash=rendered.blurhash,
    )
    await writes.append(request, event, msg_id=f"{media_id}.thumbnail.{checked.staged.sha256[:16]}.{time.time_ns()}")
