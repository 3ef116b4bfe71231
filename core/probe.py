"""What an upload is, decided from its first bytes and its header, never from decoded pixels.

Gateways use this to refuse an upload before it is stored; processors check again before work.
"""

from pathlib import Path
from typing import Literal

import msgspec
import pyvips

from core.sniff import SNIFF_BYTES, SUPPORTED_IMAGE_TYPES, sniff

# Truncation is what turns into a half-grey image. Stricter levels would also refuse files
# with small defects that decoders routinely recover from, which real cameras produce.
FAIL_ON = "truncated"


RejectKind = Literal["unidentified", "unsupported", "too_many_pixels", "corrupt"]


class Limits(msgspec.Struct, frozen=True):
    max_pixels: int = 33_177_600
    max_gif_pixels: int = 921_600
    # None: only the area counts (Mastodon's rule); a long thin strip is as costly as a square.
    max_side: int | None = None


def widest(*limits: Limits) -> Limits:
    """Limits that pass whatever any of `limits` passes: a processor must not fail media a gateway accepted."""
    sides = [lim.max_side for lim in limits]
    return Limits(
        max_pixels=max(lim.max_pixels for lim in limits),
        max_gif_pixels=max(lim.max_gif_pixels for lim in limits),
        max_side=None if None in sides else max(side for side in sides if side is not None),
    )


class Header(msgspec.Struct, frozen=True):
    """What an upload claims to be; width and height are as displayed, i.e. after EXIF rotation."""

    content_type: str
    width: int
    height: int
    frames: int


class MediaRejected(Exception):
    """An upload that will not be processed; ``kind`` says why, ``str(e)`` says it to a human."""

    def __init__(
        self,
        kind: RejectKind,
        message: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        super().__init__(message or _default_message(kind))
        self.kind: RejectKind = kind
        self.width = width
        self.height = height

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments would otherwise be lost when the error crosses a process boundary.
        return (_rebuild_rejection, (self.kind, str(self), self.width, self.height))


def _default_message(kind: RejectKind) -> str:
    match kind:
        case "unidentified":
            return "the file type could not be identified"
        case "unsupported":
            return "the file type is not a supported image type"
        case "too_many_pixels":
            return "the image has too many pixels"
        case "corrupt":
            return "the image data is truncated or corrupt"


def _rebuild_rejection(
    kind: RejectKind, message: str, width: int | None, height: int | None
) -> MediaRejected:
    return MediaRejected(kind, message, width=width, height=height)


def read_header(path: Path) -> Header:
    """Identify ``path`` and read its dimensions without decoding any pixels."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    content_type = sniff(head)
    if content_type is None:
        raise MediaRejected("unidentified")
    if content_type not in SUPPORTED_IMAGE_TYPES:
        raise MediaRejected("unsupported", f"{content_type} is not a supported image type")
    try:
        # The loader is chosen from our own sniff, so libvips never gets to guess a different
        # format from the same bytes.
        image = pyvips.Operation.call(
            loader(content_type), str(path), access="sequential", fail_on=FAIL_ON
        )
        width: int = image.width
        height: int = image.height
        frames: int = image.get("n-pages") if image.get_typeof("n-pages") else 1
        orientation: int = image.get("orientation") if image.get_typeof("orientation") else 1
    except pyvips.Error as error:
        raise MediaRejected("corrupt") from error
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Header(content_type=content_type, width=width, height=height, frames=frames)


def check_limits(header: Header, limits: Limits) -> None:
    limit = limits.max_gif_pixels if is_animated(header) else limits.max_pixels
    pixels = header.width * header.height
    if pixels > limit:
        what = "animated GIF" if is_animated(header) else "image"
        raise MediaRejected(
            "too_many_pixels",
            f"{what} of {header.width}x{header.height} ({pixels:,} px) exceeds the limit of {limit:,} px",
            width=header.width,
            height=header.height,
        )
    side = max(header.width, header.height)
    if limits.max_side is not None and side > limits.max_side:
        raise MediaRejected(
            "too_many_pixels",
            f"image of {header.width}x{header.height} exceeds the limit of {limits.max_side:,} px per side",
            width=header.width,
            height=header.height,
        )


def is_animated(header: Header) -> bool:
    # Only GIF animation is preserved; other multi-image formats (animated WebP, HEIF
    # collections) are reduced to their primary image like any still.
    return header.content_type == "image/gif" and header.frames > 1


def loader(content_type: str) -> str:
    match content_type:
        case "image/jpeg":
            return "jpegload"
        case "image/png":
            return "pngload"
        case "image/gif":
            return "gifload"
        case "image/webp":
            return "webpload"
        case "image/heic" | "image/heif" | "image/avif":
            return "heifload"
    raise ValueError(f"no loader for {content_type}")

