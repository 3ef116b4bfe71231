"""Turn an uploaded still or animated image into Mastodon-style renditions.

Two renditions are produced per upload: ``original`` (at most 8,294,400 px) and ``small``
(at most 230,400 px), plus a BlurHash of the small one. Everything here is synchronous and
CPU-bound; callers run ``process`` in a worker thread.
"""

import math
import os
import tempfile
from pathlib import Path

import msgspec
import pyvips
from blurhash import _functions as blurhash_c

from core.probe import FAIL_ON, Header, Limits, MediaRejected, check_limits, is_animated, read_header

PROCESSING_VERSION: int = 1

ORIGINAL_PIXELS = 8_294_400
SMALL_PIXELS = 230_400
BLURHASH_COMPONENTS = 4
BLURHASH_INPUT_SIZE = 100
# Room for the largest hash the encoder can write (9x9 components) plus the terminator.
_BLURHASH_BUFFER = 2 + 4 + (9 * 9 - 1) * 2 + 1


class Rendition(msgspec.Struct, frozen=True):
    style: str
    width: int
    height: int
    content_type: str
    size: int


class Processed(msgspec.Struct, frozen=True):
    original: Rendition
    small: Rendition
    blurhash: str


def configure_vips() -> None:
    """Process-wide libvips settings; call once at startup, before any image work."""
    # Every upload is seen once, so cached operations only hold memory and open files.
    pyvips.cache_set_max(0)
    # Loaders libvips itself marks as unsafe for untrusted input are never wanted here.
    pyvips.block_untrusted_set(True)


def fit_box(width: int, height: int, pixels: int) -> tuple[int, int]:
    """The box of about ``pixels`` pixels with the aspect ratio of ``width`` x ``height``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid dimensions {width}x{height}")
    return (
        _round_half_up(math.sqrt(pixels * width / height)),
        _round_half_up(math.sqrt(pixels * height / width)),
    )


def _round_half_up(value: float) -> int:
    # Matches Ruby's Float#round (used by Mastodon) rather than Python's round-half-to-even.
    return max(1, math.floor(value + 0.5))


def extension(content_type: str) -> str:
    match content_type:
        case "image/jpeg":
            return "jpg"
        case "image/png":
            return "png"
        case "image/gif":
            return "gif"
        case "image/webp":
            return "webp"
    raise ValueError(f"no output extension for {content_type}")


def process(src: Path, out_dir: Path, limits: Limits) -> Processed:
    """Write ``out_dir/original.<ext>`` and ``out_dir/small.<ext>`` for the upload at ``src``.

    Both files appear together or not at all: each is written to a temporary name in
    ``out_dir`` and renamed into place once everything has succeeded.
    """
    header = read_header(src)
    check_limits(header, limits)
    animated = is_animated(header)
    if animated and not _gif_blocks_complete(src.read_bytes()):
        raise MediaRejected("corrupt", "the GIF data ends in the middle of a frame")
    out_dir.mkdir(parents=True, exist_ok=True)
    still_type = _still_output_type(header.content_type)
    temporaries: list[Path] = []
    try:
        original_type = "image/gif" if animated else still_type
        original_tmp = _temporary(out_dir, "original", temporaries)
        original_image = _render_original(src, header, animated)
        _save(original_image, original_tmp, original_type)
        original = _rendition("original", original_image, original_type, original_tmp)

        small_tmp = _temporary(out_dir, "small", temporaries)
        # Held in memory because it is read twice: once to encode, once for the BlurHash.
        small_image = _thumbnail(src, fit_box(header.width, header.height, SMALL_PIXELS)).copy_memory()
        _save(small_image, small_tmp, still_type)
        small = _rendition("small", small_image, still_type, small_tmp)

        hashed = _blurhash(small_image)

        os.replace(original_tmp, out_dir / f"original.{extension(original_type)}")
        os.replace(small_tmp, out_dir / f"small.{extension(still_type)}")
    except pyvips.Error as error:
        raise _decode_failure(header, error) from error
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return Processed(original=original, small=small, blurhash=hashed)


def _gif_blocks_complete(data: bytes) -> bool:
    """Whether no GIF block is cut short.

    With fail_on set, libvips' GIF loader reports a truncated first frame, but it decodes a
    later frame that is cut off mid-way without complaint, whatever fail_on says.
    """
    if len(data) < 13:
        return False
    pos = 13 + _colour_table_size(data[10])
    end = len(data)
    while pos < end:
        introducer = data[pos]
        if introducer == 0x3B:
            return True
        if introducer == 0x21:
            pos += 2
        elif introducer == 0x2C:
            if pos + 10 > end:
                return False
            # Image descriptor, local colour table, then the LZW minimum code size byte.
            pos += 10 + _colour_table_size(data[pos + 9]) + 1
        else:
            # Junk after the last frame is the decoder's business, not a truncation.
            return True
        while True:
            if pos >= end:
                return False
            length = data[pos]
            pos += 1 + length
            if length == 0:
                break
    # Ending on a block boundary without a trailer is a common encoder quirk.
    return True


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _still_output_type(content_type: str) -> str:
    match content_type:
        case "image/png" | "image/gif":
            return "image/png"
        case "image/webp":
            return "image/webp"
    # JPEG stays JPEG; HEIC, HEIF and AVIF are not displayable everywhere, so become JPEG.
    return "image/jpeg"


def _temporary(out_dir: Path, style: str, temporaries: list[Path]) -> Path:
    descriptor, name = tempfile.mkstemp(dir=out_dir, prefix=f".{style}.", suffix=".tmp")
    os.close(descriptor)
    temporaries.append(Path(name))
    return Path(name)


def _render_original(src: Path, header: Header, animated: bool) -> pyvips.Image:
    box = fit_box(header.width, header.height, ORIGINAL_PIXELS)
    if not animated:
        return _thumbnail(src, box)
    # thumbnail() would only read the first frame; GIF has no shrink-on-load to lose anyway.
    frames = pyvips.Image.gifload(str(src), n=-1, access="sequential", fail_on=FAIL_ON)
    return frames.thumbnail_image(box[0], height=box[1], size="down")


def _thumbnail(src: Path, box: tuple[int, int]) -> pyvips.Image:
    # thumbnail() rotates upright from EXIF and shrinks on load (JPEG, WebP, HEIF), which is
    # most of the cost saved on large photos. A Source avoids libvips reading a trailing
    # "[...]" in the path as load options.
    source = pyvips.Source.new_from_file(str(src))
    # thumbnail_source() silently ignores its own fail_on argument (libvips 8.18); only the
    # loader option string reaches the loader.
    return pyvips.Image.thumbnail_source(
        source, box[0], height=box[1], size="down", option_string=f"fail_on={FAIL_ON}"
    )


def _save(image: pyvips.Image, path: Path, content_type: str) -> None:
    # Fixed settings so that the same input always gives byte-identical output; only the
    # ICC profile survives, everything else (EXIF with GPS, XMP, comments) is dropped.
    match content_type:
        case "image/jpeg":
            image.jpegsave(str(path), Q=90, interlace=True, optimize_coding=True, keep="icc")
        case "image/png":
            image.pngsave(str(path), compression=6, interlace=False, keep="icc")
        case "image/webp":
            image.webpsave(str(path), Q=75, effort=4, keep="icc")
        case "image/gif":
            image.gifsave(str(path), effort=7, dither=1.0, bitdepth=8, keep="icc")
        case _:
            raise ValueError(f"no encoder for {content_type}")


def _rendition(style: str, image: pyvips.Image, content_type: str, path: Path) -> Rendition:
    height: int = image.get("page-height") if image.get_typeof("page-height") else image.height
    return Rendition(
        style=style,
        width=image.width,
        height=height,
        content_type=content_type,
        size=path.stat().st_size,
    )


def _blurhash(small: pyvips.Image) -> str:
    preview = small.thumbnail_image(BLURHASH_INPUT_SIZE, height=BLURHASH_INPUT_SIZE, size="down")
    # Alpha is ignored rather than flattened, as Mastodon does.
    rgb = preview.colourspace("srgb").extract_band(0, n=3).cast("uchar")
    pixels = rgb.write_to_memory()
    # blurhash.encode() only takes Pillow images, which it then copies into a Python list
    # through an API Pillow 14 removes. Its C encoder, which it ships as blurhash._functions,
    # takes packed RGB rows as they come from libvips.
    destination = blurhash_c.ffi.new("char[]", _BLURHASH_BUFFER)
    result = blurhash_c.lib.create_hash_from_pixels(
        BLURHASH_COMPONENTS,
        BLURHASH_COMPONENTS,
        rgb.width,
        rgb.height,
        blurhash_c.ffi.from_buffer("uint8_t[]", pixels),
        rgb.width * 3,
        destination,
    )
    if result == blurhash_c.ffi.NULL:
        raise ValueError("blurhash encoder rejected its arguments")
    encoded: str = blurhash_c.ffi.string(result).decode("ascii")
    return encoded


def _decode_failure(header: Header, error: pyvips.Error) -> MediaRejected:
    detail = str(error)
    # pyvips-binary's libheif has AV1 but no HEVC decoder, so a perfectly good iPhone HEIC
    # fails at decode time; that is a gap in this build, not damage to the file.
    if header.content_type in ("image/heic", "image/heif") and (
        "has not been built in" in detail or "Unsupported codec" in detail
    ):
        return MediaRejected("unsupported", "HEVC-coded HEIC/HEIF images cannot be decoded by this server")
    return MediaRejected("corrupt")
