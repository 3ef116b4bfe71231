"""The reference for processing: the same renditions made by plain pyvips calls, nothing else.

It mirrors what processors/imaging.py does (the same boxes, the same encoder settings, the
small rendition held in memory for the BlurHash and the thumb), so the ratio against it shows
what the pipeline around libvips costs, not a different way of using libvips. No sniffing, no
header checks, no temporary names, no event log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pyvips
from blurhash import _functions as blurhash_c

ORIGINAL_PIXELS = 8_294_400
SMALL_PIXELS = 230_400
THUMB_BOX = 320
BLURHASH_COMPONENTS = 4
BLURHASH_INPUT = 100
# Room for a 9x9-component hash and its terminator, the most the C encoder can write.
BLURHASH_BUFFER = 2 + 4 + (9 * 9 - 1) * 2 + 1
OUTPUT_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True)
class Rendered:
    original: tuple[int, int]
    small: tuple[int, int]
    thumb: tuple[int, int]
    blurhash: str


def box(width: int, height: int, pixels: int) -> tuple[int, int]:
    # Half-up rounding, as Mastodon computes its boxes; Python's round() would differ on .5.
    return (
        max(1, math.floor(math.sqrt(pixels * width / height) + 0.5)),
        max(1, math.floor(math.sqrt(pixels * height / width) + 0.5)),
    )


def save(image: pyvips.Image, path: Path, content_type: str) -> None:
    if content_type == "image/jpeg":
        image.jpegsave(str(path), Q=90, optimize_coding=True, keep="icc")
    elif content_type == "image/png":
        image.pngsave(str(path), compression=6, interlace=False, keep="icc")
    elif content_type == "image/webp":
        image.webpsave(str(path), Q=75, effort=4, keep="icc")
    else:
        raise ValueError(f"no encoder for {content_type}")


def blurhash(small: pyvips.Image) -> str:
    preview = small.thumbnail_image(BLURHASH_INPUT, height=BLURHASH_INPUT, size="down")
    rgb = preview.colourspace("srgb").extract_band(0, n=3).cast("uchar")
    pixels = rgb.write_to_memory()
    destination = blurhash_c.ffi.new("char[]", BLURHASH_BUFFER)
    result = blurhash_c.lib.create_hash_from_pixels(
        BLURHASH_COMPONENTS, BLURHASH_COMPONENTS, rgb.width, rgb.height,
        blurhash_c.ffi.from_buffer("uint8_t[]", pixels), rgb.width * 3, destination,
    )
    if result == blurhash_c.ffi.NULL:
        raise ValueError("blurhash encoder rejected its arguments")
    encoded: str = blurhash_c.ffi.string(result).decode("ascii")
    return encoded


def render(src: Path, out_dir: Path, content_type: str) -> Rendered:
    """original, small and thumb of ``src`` in ``out_dir``, plus the BlurHash."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = OUTPUT_SUFFIX[content_type]
    header = pyvips.Image.new_from_file(str(src), access="sequential")
    width, height = header.width, header.height

    original_box = box(width, height, ORIGINAL_PIXELS)
    original = pyvips.Image.thumbnail(str(src), original_box[0], height=original_box[1], size="down")
    save(original, out_dir / f"original.{suffix}", content_type)

    small_box = box(width, height, SMALL_PIXELS)
    small = pyvips.Image.thumbnail(str(src), small_box[0], height=small_box[1], size="down").copy_memory()
    save(small, out_dir / f"small.{suffix}", content_type)
    hashed = blurhash(small)

    thumb = small.thumbnail_image(THUMB_BOX, height=THUMB_BOX, size="down")
    save(thumb, out_dir / f"thumb.{suffix}", content_type)
    return Rendered(
        original=(original.width, original.height),
        small=(small.width, small.height),
        thumb=(thumb.width, thumb.height),
        blurhash=hashed,
    )
