"""What rendering one upload gives, whatever its kind: the renditions, the BlurHash and, for video and audio,
what the original is."""

from __future__ import annotations

from pathlib import Path

import msgspec

from core.events import MediaMeta, RenditionInfo
from core.ports import DerivedFiles, rendition_name
from processors.imaging import Rendition


class Rendered(msgspec.Struct, frozen=True):
    kind: str
    # original first, then small and thumb when there is a picture to show.
    renditions: tuple[Rendition, ...]
    # "" when there is no still to hash (audio without cover art).
    blurhash: str
    meta: MediaMeta | None = None

    def infos(self, *styles: str) -> tuple[RenditionInfo, ...]:
        """The renditions as events record them: all of them, or those of `styles`."""
        return tuple(to_info(r) for r in self.renditions if not styles or r.style in styles)


def to_info(rendition: Rendition) -> RenditionInfo:
    return RenditionInfo(style=rendition.style, width=rendition.width, height=rendition.height,
                         content_type=rendition.content_type, size=rendition.size)


async def share_renditions(shared: DerivedFiles, blob: str, version: int, out: Path, rendered: Rendered) -> None:
    """Keep the renditions just written into `out` where every host reads them; those kept there
    already stay as they are."""
    for rendition in rendered.renditions:
        await shared.keep(rendition_name(blob, version, rendition.file), out / rendition.file)
