"""What an upload is, decided from its first bytes and its header, never from decoded pixels.

The one place outside rendering that asks libvips (images) or FFmpeg (video and audio,
processors/avheader.py) about a file: gateways call it to refuse an upload before it is stored,
processors before they decode it.
"""

from pathlib import Path

import pyvips

from core.kinds import AV_CONTAINERS
from core.probe import Header, MediaRejected
from core.sniff import SNIFF_BYTES, SUPPORTED_IMAGE_TYPES, sniff
from processors.avheader import read_av_header
from processors.quickheader import QUICK_READERS, upright

SUPPORTED_TYPES: frozenset[str] = SUPPORTED_IMAGE_TYPES | AV_CONTAINERS

# Truncation is what turns into a half-grey image. Stricter levels would also refuse files
# with small defects that decoders routinely recover from, which real cameras produce.
FAIL_ON = "truncated"


def read_header(source: Path | bytes) -> Header:
    """Identify a file, or bytes held in memory, and read its dimensions without decoding any pixels.

    An animated GIF is of kind "gifv"; a video or audio container's kind is read from its streams.
    """
    if isinstance(source, bytes):
        head = source[:SNIFF_BYTES]
    else:
        with source.open("rb") as file:
            head = file.read(SNIFF_BYTES)
    content_type = sniff(head)
    if content_type is None:
        raise MediaRejected("unidentified")
    if content_type in AV_CONTAINERS:
        return read_av_header(source, content_type)
    if content_type not in SUPPORTED_IMAGE_TYPES:
        raise MediaRejected("unsupported", f"{content_type} is not a supported image type")
    quick_reader = QUICK_READERS.get(content_type)
    if quick_reader is not None and isinstance(source, bytes):
        quick = quick_reader(source)
        if quick is not None:
            return quick
    try:
        # The loader is chosen from our own sniff, so libvips never gets to guess a different
        # format from the same bytes; the buffer loader of each reads as its file loader does.
        if isinstance(source, bytes):
            image = pyvips.Operation.call(
                f"{loader(content_type)}_buffer", source, access="sequential", fail_on=FAIL_ON
            )
        else:
            image = pyvips.Operation.call(loader(content_type), str(source), access="sequential", fail_on=FAIL_ON)
        width: int = image.width
        height: int = image.height
        frames: int = image.get("n-pages") if image.get_typeof("n-pages") else 1
        orientation: int = image.get("orientation") if image.get_typeof("orientation") else 1
    except pyvips.Error as error:
        raise MediaRejected("corrupt") from error
    return upright(content_type, width, height, orientation, frames)


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

