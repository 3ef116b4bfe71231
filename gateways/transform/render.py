"""Renders a variant of a rendition file with libvips. Synchronous and CPU-bound: run it in a thread.

The source is a rendition: already upright, stripped of metadata but its ICC profile, at most
8.3 megapixels. Output sizes are computed here rather than left to libvips' own rounding, so
that a box of w x h always gives exactly the sizes the fit mode promises.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pyvips

from gateways.transform.params import MAX_SIDE, Variant

# Part of every cache key and ETag: bump it whenever the same Variant would give other bytes.
RENDER_VERSION = 4

# AVIF encoding is by far the slowest step; effort 2 of 9 keeps a large variant to a second or so.
AVIF_EFFORT = 2
WEBP_EFFORT = 4


def render(source: Path, variant: Variant, *, smaller: Sequence[Path] = (), sizes: Sizes | None = None) -> bytes:
    """The encoded bytes of `variant` of the image at `source`.

    `smaller` are renditions of the same picture with the same aspect, largest first. Sizes are
    always worked out from `source`, but pixels come from the smallest of them that still covers
    the size wanted: a 400-pixel variant costs a 640-pixel decode instead of an 8-megapixel one.
    `sizes`: the dimensions of files read before, shared between renders.
    """
    image = _sized(_Levels(source, tuple(smaller), sizes or Sizes()), variant)
    keep = "icc"
    if variant.compress:
        # Stripping a profile is only harmless once the pixels are in sRGB, which is what a
        # browser assumes of an image without one.
        if image.get_typeof("icc-profile-data"):
            image = image.icc_transform("srgb", embedded=True)
        keep = "none"
    return _encode(_displayable(image, variant), variant, keep)


def _load(source: Path) -> pyvips.Image:
    # A Source keeps libvips from reading a trailing "[...]" of the path as load options.
    return pyvips.Image.new_from_source(pyvips.Source.new_from_file(str(source)), "", access="sequential")


FileKey = tuple[str, int, int, int]


class Sizes:
    """The width and height of files read lately, by path and identity (inode, size, modification
    time), so that a render opens only the file its pixels come from. Renditions are written once
    under their name; one made again gets a new inode, and is read again.

    Shared by the render threads: each step is a single dictionary operation.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._kept: dict[FileKey, tuple[int, int]] = {}

    def of(self, path: Path) -> tuple[int, int] | None:
        """None when the file is missing or libvips cannot read its header."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        found = self._kept.get(key)
        if found is None:
            try:
                header = _load(path)
            except pyvips.Error:
                return None
            found = header.width, header.height
            if len(self._kept) >= self._limit:
                self._kept.clear()
            self._kept[key] = found
        return found


class _Levels:
    def __init__(self, source: Path, smaller: tuple[Path, ...], sizes: Sizes) -> None:
        self.source = source
        self.smaller = smaller
        self._sizes = sizes

    def size(self) -> tuple[int, int]:
        """The source's width and height; pyvips.Error if it cannot be read."""
        found = self._sizes.of(self.source)
        if found is None:
            # Raises what libvips says of the file.
            header = _load(self.source)
            return header.width, header.height
        return found

    def covering(self, width: int, height: int) -> Path:
        best = self.source
        for path in self.smaller:
            level = self._sizes.of(path)
            # A level that went missing or is unreadable only costs speed: use the larger one.
            if level is None or level[0] < width or level[1] < height:
                break
            best = path
        return best


def _thumbnail(levels: _Levels, width: int, height: int) -> pyvips.Image:
    # Exactly width x height: the box is computed by the caller, who already kept the aspect.
    return pyvips.Image.thumbnail_source(
        pyvips.Source.new_from_file(str(levels.covering(width, height))), width, height=height, size="force"
    )


def _sized(levels: _Levels, variant: Variant) -> pyvips.Image:
    source = levels.source
    if variant.width is None and variant.height is None:
        return _load(source)
    sw, sh = levels.size()
    match variant.fit:
        case "scale":
            return _thumbnail(levels, variant.width or sw, variant.height or sh)
        case "crop" | "min":
            return _cropped(levels, variant, sw, sh)
    scale = min(
        variant.width / sw if variant.width else math.inf,
        variant.height / sh if variant.height else math.inf,
    )
    if variant.fit == "max":
        scale = min(scale, 1.0)
    # The side not asked for follows the aspect, and must not pass MAX_SIDE either: a panorama
    # asked for h=2000 would otherwise be hundreds of thousands of pixels wide.
    scale = min(scale, MAX_SIDE / sw, MAX_SIDE / sh)
    if scale == 1.0:
        return _load(source)
    return _thumbnail(levels, _side(sw, scale, variant.width), _side(sh, scale, variant.height))


def _side(source_side: int, scale: float, asked: int | None) -> int:
    exact = source_side * scale
    # The side that set the scale comes out exactly as asked, not off by a rounding error.
    if asked is not None and abs(exact - asked) < 0.5:
        return asked
    return max(1, math.floor(exact + 0.5))


def _cropped(levels: _Levels, variant: Variant, sw: int, sh: int) -> pyvips.Image:
    assert variant.width is not None and variant.height is not None
    box_w, box_h = variant.width, variant.height
    if variant.fit == "min":
        # The box keeps its aspect but shrinks until it fits inside the source: no upscaling.
        shrink = min(1.0, sw / box_w, sh / box_h)
        box_w, box_h = max(1, math.floor(box_w * shrink + 0.5)), max(1, math.floor(box_h * shrink + 0.5))
    cover = max(box_w / sw, box_h / sh)
    if max(_side(sw, cover, None), _side(sh, cover, None)) > MAX_SIDE:
        return _cropped_first(levels.source, variant, box_w, box_h, cover)
    covering = _thumbnail(levels, max(box_w, _side(sw, cover, None)), max(box_h, _side(sh, cover, None)))
    if variant.crop in ("entropy", "edges"):
        interesting = "entropy" if variant.crop == "entropy" else "attention"
        # smartcrop reads the image more than once; the thumbnail streams from its file only once.
        return covering.copy_memory().smartcrop(box_w, box_h, interesting=interesting)
    fp_x = 0.5 if variant.fp_x is None else variant.fp_x
    fp_y = 0.5 if variant.fp_y is None else variant.fp_y
    left = _offset(covering.width, box_w, fp_x)
    top = _offset(covering.height, box_h, fp_y)
    return covering.crop(left, top, box_w, box_h)


def _cropped_first(source: Path, variant: Variant, box_w: int, box_h: int, cover: float) -> pyvips.Image:
    """A box far from the source's aspect: the whole source scaled to cover it would be too large to
    hold or encode, so the part of the source the box shows is cut out first and then scaled."""
    image = _load(source).copy_memory()
    region_w = min(image.width, max(1, math.floor(box_w / cover + 0.5)))
    region_h = min(image.height, max(1, math.floor(box_h / cover + 0.5)))
    if variant.crop in ("entropy", "edges"):
        interesting = "entropy" if variant.crop == "entropy" else "attention"
        region = image.smartcrop(region_w, region_h, interesting=interesting)
    else:
        fp_x = 0.5 if variant.fp_x is None else variant.fp_x
        fp_y = 0.5 if variant.fp_y is None else variant.fp_y
        left = _offset(image.width, region_w, fp_x)
        top = _offset(image.height, region_h, fp_y)
        region = image.crop(left, top, region_w, region_h)
    return region.thumbnail_image(box_w, height=box_h, size="force")


def _offset(full: int, window: int, focus: float) -> int:
    """Where a window of `window` pixels starts so that it is centred on `focus` (0..1) if it can be."""
    return min(full - window, max(0, math.floor(focus * full - window / 2 + 0.5)))


def _displayable(image: pyvips.Image, variant: Variant) -> pyvips.Image:
    if image.format != "uchar":
        image = image.colourspace("b-w" if image.bands <= 2 else "srgb").cast("uchar")
    if variant.format == "jpg" and image.hasalpha():
        # JPEG has no alpha; transparent areas become white, as browsers show them on a page.
        image = image.flatten(background=[255] * (image.bands - 1))
    return image


def _encode(image: pyvips.Image, variant: Variant, keep: str) -> bytes:
    quality = variant.quality if variant.quality is not None else 100
    data: bytes
    match variant.format:
        case "jpg":
            # libjpeg's scale starts at 1; q=0 is the lowest quality it has.
            # Baseline: progressive encoding added a quarter to the time of a typical render.
            data = image.jpegsave_buffer(Q=max(1, quality), optimize_coding=True, keep=keep)
        case "png":
            data = image.pngsave_buffer(compression=9 if variant.compress else 6, interlace=False, keep=keep)
        case "webp":
            data = image.webpsave_buffer(Q=quality, effort=WEBP_EFFORT, keep=keep)
        case "avif":
            data = image.heifsave_buffer(
                Q=max(1, quality), compression="av1", effort=AVIF_EFFORT, keep=keep
            )
    return data
