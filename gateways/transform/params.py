"""Query parameters of a transformation, parsed strictly and normalized into a cache key.

Parsing (`parse`) needs nothing but the query; normalizing (`normalize`) also takes what the
answer may depend on besides the URL: the source rendition's format, the Accept header (for
`auto=format`) and the media's focus point (for `crop=focalpoint` without `fp-x`/`fp-y`).
Two URLs that must give the same pixels normalize to the same `Variant`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Literal

import msgspec

MAX_SIDE = 8192
MAX_DPR = 5.0
DEFAULT_QUALITY = 75
# imgix lowers the default quality to 45 under auto=compress; an explicit q still wins.
COMPRESS_QUALITY = 45

Fit = Literal["clip", "crop", "max", "min", "scale"]
Format = Literal["jpg", "png", "webp", "avif"]
Crop = Literal["focalpoint", "entropy", "edges"]

FITS: tuple[str, ...] = ("clip", "crop", "max", "min", "scale")
FORMATS: tuple[str, ...] = ("jpg", "png", "webp", "avif")
AUTOS: tuple[str, ...] = ("format", "compress")
# Directional crops are focal points on the image's edges.
EDGES = {"left": ("x", 0.0), "right": ("x", 1.0), "top": ("y", 0.0), "bottom": ("y", 1.0)}
SMART_CROPS: tuple[str, ...] = ("entropy", "edges")

# The signature is not a transformation; it is checked, never ignored (see routes).
SIGNATURE = "s"
NAMES = frozenset({"w", "h", "fit", "crop", "fp-x", "fp-y", "q", "dpr", "fm", "auto"})

_INTEGER = re.compile(r"[0-9]{1,6}")
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]{1,8})?|\.[0-9]{1,8}")
# Keys round focal points so that 0.5 and 0.50000000001 share a cached file.
_FP_DIGITS = 4


class InvalidParameter(Exception):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


class Transform(msgspec.Struct, frozen=True, kw_only=True):
    """What the query asked for, every value checked, nothing filled in yet."""

    w: int | None = None
    h: int | None = None
    fit: Fit = "clip"
    crop: str | None = None
    fp_x: float | None = None
    fp_y: float | None = None
    q: int | None = None
    dpr: float | None = None
    fm: Format | None = None
    auto_format: bool = False
    auto_compress: bool = False


class Variant(msgspec.Struct, frozen=True, kw_only=True):
    """One output image: every default filled in, dpr folded into the size, auto=format resolved.

    Equal variants of the same source are the same bytes, so this is the cache key.
    """

    width: int | None
    height: int | None
    fit: Fit
    # Only set when the fit crops; a focal point (fp_x, fp_y) only with "focalpoint".
    crop: Crop | None
    fp_x: float | None
    fp_y: float | None
    format: Format
    # None for PNG, which is lossless.
    quality: int | None
    compress: bool


def requested(names: Iterable[str]) -> bool:
    """Whether a query asks for a transformation at all; unknown names alone do not."""
    return any(name in NAMES for name in names)


def parse(pairs: Iterable[tuple[str, str]]) -> Transform:
    """The transformation a query's (name, value) pairs ask for; unknown names are ignored.

    Raises InvalidParameter naming the first parameter that is repeated, malformed or out of range.
    """
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in NAMES:
            continue
        if name in values:
            raise InvalidParameter(name, f"{name} is given more than once")
        values[name] = value
    autos = _auto(values["auto"]) if "auto" in values else frozenset()
    crop = values.get("crop")
    if crop is not None:
        crop = _crop(crop)
    return Transform(
        w=_side(values, "w"),
        h=_side(values, "h"),
        fit=_choice(values, "fit", FITS, "clip"),  # type: ignore[arg-type]
        crop=crop,
        fp_x=_unit(values, "fp-x"),
        fp_y=_unit(values, "fp-y"),
        q=_quality(values),
        dpr=_dpr(values),
        fm=_choice(values, "fm", FORMATS, None),  # type: ignore[arg-type]
        auto_format="format" in autos,
        auto_compress="compress" in autos,
    )


def _side(values: dict[str, str], name: str) -> int | None:
    raw = values.get(name)
    if raw is None:
        return None
    if not _INTEGER.fullmatch(raw) or not 1 <= int(raw) <= MAX_SIDE:
        raise InvalidParameter(name, f"{name} must be a whole number of pixels from 1 to {MAX_SIDE}")
    return int(raw)


def _unit(values: dict[str, str], name: str) -> float | None:
    raw = values.get(name)
    if raw is None:
        return None
    if not _DECIMAL.fullmatch(raw) or not 0.0 <= float(raw) <= 1.0:
        raise InvalidParameter(name, f"{name} must be a number from 0 to 1")
    return float(raw)


def _quality(values: dict[str, str]) -> int | None:
    raw = values.get("q")
    if raw is None:
        return None
    if not _INTEGER.fullmatch(raw) or not 0 <= int(raw) <= 100:
        raise InvalidParameter("q", "q must be a whole number from 0 to 100")
    return int(raw)


def _dpr(values: dict[str, str]) -> float | None:
    raw = values.get("dpr")
    if raw is None:
        return None
    # 0 would ask for an image of no pixels at all.
    if not _DECIMAL.fullmatch(raw) or not 0.0 < float(raw) <= MAX_DPR:
        raise InvalidParameter("dpr", f"dpr must be a number greater than 0 and at most {MAX_DPR:g}")
    return float(raw)


def _choice(values: dict[str, str], name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    raw = values.get(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(allowed)}")
    return raw


def _auto(raw: str) -> frozenset[str]:
    parts = raw.split(",")
    if not all(part in AUTOS for part in parts):
        raise InvalidParameter("auto", f"auto must be a comma-separated list of {', '.join(AUTOS)}")
    return frozenset(parts)


def _crop(raw: str) -> str:
    """The crop mode in canonical spelling: focalpoint, entropy, edges, or sorted edge names."""
    parts = raw.split(",")
    if len(parts) == 1 and parts[0] in ("focalpoint", *SMART_CROPS):
        return parts[0]
    axes = [EDGES[part][0] for part in parts if part in EDGES]
    if len(axes) != len(parts) or len(set(axes)) != len(axes):
        raise InvalidParameter(
            "crop", "crop must be focalpoint, entropy, edges, or one or two of top, bottom, left, right"
        )
    return ",".join(sorted(parts))


def needs_focus(transform: Transform) -> bool:
    """Whether the answer depends on the media's focus point, which can change under the same URL."""
    return (
        _crops(transform)
        and transform.crop == "focalpoint"
        and transform.fp_x is None
        and transform.fp_y is None
    )


def varies_on_accept(transform: Transform) -> bool:
    return transform.auto_format and transform.fm is None


def _crops(transform: Transform) -> bool:
    # Cropping needs a box with both sides; with one side the fill box is the clip box.
    return transform.fit in ("crop", "min") and transform.w is not None and transform.h is not None


def normalize(
    transform: Transform,
    *,
    source_format: Format,
    accept: str = "",
    focus: tuple[float, float] | None = None,
) -> Variant:
    """The variant a transformation gives of a source in `source_format`.

    `focus` is the media's focus point as fp-x, fp-y (0..1, y down), used by crop=focalpoint
    when the URL gives no fp-x/fp-y.
    """
    width, height = _scaled(transform.w, transform.dpr), _scaled(transform.h, transform.dpr)
    fit: Fit = transform.fit
    crop: Crop | None = None
    fp_x = fp_y = None
    if width is None and height is None:
        fit = "clip"
    elif _crops(transform):
        crop, fp_x, fp_y = _crop_point(transform, focus)
    elif width is None or height is None:
        # One side given: filling or stretching to a box of the image's own aspect is clipping.
        fit = {"crop": "clip", "scale": "clip", "min": "max"}.get(fit, fit)  # type: ignore[assignment]
    output = transform.fm or _auto_format(transform, accept) or source_format
    quality = None
    if output != "png":
        default = COMPRESS_QUALITY if transform.auto_compress else DEFAULT_QUALITY
        quality = transform.q if transform.q is not None else default
    return Variant(
        width=width, height=height, fit=fit, crop=crop, fp_x=fp_x, fp_y=fp_y,
        format=output, quality=quality, compress=transform.auto_compress,
    )


def _scaled(side: int | None, dpr: float | None) -> int | None:
    if side is None or dpr is None:
        return side
    return min(MAX_SIDE, max(1, math.floor(side * dpr + 0.5)))


def _crop_point(
    transform: Transform, focus: tuple[float, float] | None
) -> tuple[Crop, float | None, float | None]:
    crop = transform.crop
    if crop in SMART_CROPS:
        return crop, None, None  # type: ignore[return-value]
    if crop == "focalpoint":
        if transform.fp_x is None and transform.fp_y is None:
            x, y = focus if focus is not None else (0.5, 0.5)
        else:
            x = transform.fp_x if transform.fp_x is not None else 0.5
            y = transform.fp_y if transform.fp_y is not None else 0.5
    else:
        # No crop, or edges: the centre moved to the named edges.
        point = {"x": 0.5, "y": 0.5}
        for part in (crop or "").split(",") if crop else ():
            axis, value = EDGES[part]
            point[axis] = value
        x, y = point["x"], point["y"]
    return "focalpoint", round(_clamp(x), _FP_DIGITS), round(_clamp(y), _FP_DIGITS)


def _auto_format(transform: Transform, accept: str) -> Format | None:
    if not transform.auto_format:
        return None
    accepted = accepted_types(accept)
    if "image/avif" in accepted:
        return "avif"
    if "image/webp" in accepted:
        return "webp"
    return None


def accepted_types(accept: str) -> frozenset[str]:
    """The media types an Accept header names explicitly with a non-zero q (wildcards do not count)."""
    found = set()
    for item in accept.split(","):
        kind, *options = (part.strip() for part in item.split(";"))
        refused = False
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    refused = float(value) <= 0.0
                except ValueError:
                    refused = True
        if kind and not refused:
            found.add(kind.lower())
    return frozenset(found)


def focus_point(x: float, y: float) -> tuple[float, float]:
    """Mastodon's focus (x, y in -1..1, y up) as fp-x, fp-y (0..1, y down)."""
    return _clamp((x + 1.0) / 2.0), _clamp((1.0 - y) / 2.0)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
