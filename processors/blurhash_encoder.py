"""BlurHash of packed 8-bit RGB rows, character for character what blurhash-python's C encoder writes.

The C encoder (blurhash-python 1.2, ``blurHashForPixels``) evaluates ``cosf`` twice and
``sRGBToLinear`` (a ``powf``) once per pixel and channel for every component, which is most
of its cost. Here the cosines are tabled per image side and the sRGB decoding per byte, and
the per-pixel work runs in numpy; every step keeps the C code's precision so that the string
comes out the same:

- ``cosf``, ``powf``: the same libm functions the C encoder calls, through ctypes, on the same
  single-precision arguments. Computing them in double and rounding gives other results for
  about one argument in a hundred.
- Products and sums are float32, as in C, and each component's sum is accumulated pixel after
  pixel in the C loop's order (rows top to bottom, pixels left to right). numpy's
  ``add.reduce`` over the leading axis of a C-ordered array adds one row after the other,
  whereas along the contiguous axis it sums pairwise, which rounds differently; so the
  pixels stand in rows and the components' sums, 3 a component, in columns.
- The quantisation mixes float and double exactly where the C expressions do (a ``float``
  times an ``int`` stays float; a ``double`` literal widens the expression).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import math

import numpy as np
import numpy.typing as npt

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
MAX_COMPONENTS = 9
# Image sides whose cosines are computed once at import: the BlurHash input is at most
# 100 x 100 (processors.imaging.BLURHASH_INPUT_SIZE). Longer sides are computed per call.
TABLED_SIDE = 100
# Pixels per block of the accumulation: enough that numpy's cost per call is spread thin,
# few enough that a block's buffers (under 1 MB) stay in the CPU's cache.
_BLOCK_PIXELS = 2048

_F32 = np.float32
Floats = npt.NDArray[np.float32]


def _libm() -> ctypes.CDLL:
    # The C encoder's module names no libm of its own: its cosf and powf come from the process,
    # as these do. A Python built without libm in its own image still finds it by name.
    library = ctypes.CDLL(None)
    if not hasattr(library, "cosf"):
        library = ctypes.CDLL(ctypes.util.find_library("m"))
    library.cosf.argtypes = [ctypes.c_float]
    library.cosf.restype = ctypes.c_float
    library.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    library.powf.restype = ctypes.c_float
    return library


_LIBM = _libm()
_cosf = _LIBM.cosf
_powf = _LIBM.powf


def _srgb_to_linear(value: int) -> float:
    v = _F32(value) / _F32(255)
    if float(v) <= 0.04045:
        return float(_F32(float(v) / 12.92))
    return float(_powf(float(_F32((float(v) + 0.055) / 1.055)), float(_F32(2.4))))


def _cosines(side: int, components: int) -> Floats:
    """cos(pi * k * i / side) as the C encoder rounds it, one row per component k."""
    steps = np.arange(side, dtype=np.float64)
    # M_PI * k * i / side in double, handed to cosf as a float: the C expression, in its order.
    arguments = [((math.pi * k) * steps / side).astype(np.float32).tolist() for k in range(components)]
    table = np.array([[_cosf(a) for a in row] for row in arguments], dtype=np.float32)
    table.flags.writeable = False
    return table


def _frozen(values: list[float]) -> Floats:
    array = np.array(values, dtype=np.float32)
    array.flags.writeable = False
    return array


SRGB_TO_LINEAR: Floats = _frozen([_srgb_to_linear(i) for i in range(256)])
# Computed for the 4 x 4 components the service uses; other counts get theirs per call.
_TABLED_COMPONENTS = 4
_COSINES: tuple[Floats, ...] = tuple(_cosines(side, _TABLED_COMPONENTS) for side in range(TABLED_SIDE + 1))
_ONE_OVER_2_4 = float(_F32(1 / 2.4))


def cosines(side: int, components: int) -> Floats:
    if side <= TABLED_SIDE and components <= _TABLED_COMPONENTS:
        return _COSINES[side][:components]
    return _cosines(side, components)


def _base83(value: int, length: int) -> str:
    return "".join(_ALPHABET[(value // 83 ** (length - 1 - i)) % 83] for i in range(length))


def _linear_to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * _powf(v, _ONE_OVER_2_4) - 0.055) * 255 + 0.5)


def _quantise_ac(values: Floats) -> npt.NDArray[np.int64]:
    """floorf(signPow(v, 0.5) * 9 + 9.5) clamped to 0..18, for each float32 ``v``."""
    # powf in float (the libm function itself), * 9 in float, + 9.5 in double, then floorf.
    roots = np.array([_powf(v, 0.5) for v in np.abs(values).tolist()], dtype=np.float32)
    scaled = np.copysign(roots, values) * _F32(9)
    shifted = (scaled.astype(np.float64) + 9.5).astype(np.float32)
    return np.clip(np.floor(shifted), 0, 18).astype(np.int64)


def factor_sums(rgb: npt.NDArray[np.uint8], x_components: int, y_components: int) -> Floats:
    """Per component and channel, the float32 sum of basis x linear value over every pixel, in C order.

    ``rgb`` is (height, width, 3). The result holds y_components * x_components * 3 sums,
    component (x, y) at (y * x_components + x) * 3.
    """
    height, width = rgb.shape[0], rgb.shape[1]
    components = x_components * y_components
    lanes = components * 3
    cos_x = cosines(width, x_components)
    cos_y = cosines(height, y_components)
    rows = max(1, _BLOCK_PIXELS // width)
    capacity = rows * width
    # One allocation for every buffer: glibc serves a single large block from the heap again
    # once one of its size was freed, while several at once fall back to fresh mappings
    # whose page faults cost more than the encoding.
    sizes = ((capacity + 1) * lanes, capacity * lanes, components * capacity, 3 * capacity)
    scratch = np.empty(sum(sizes), dtype=np.float32)
    edges = np.cumsum((0, *sizes)).tolist()
    block, planar, basis, linear = (scratch[a:b] for a, b in itertools.pairwise(edges))
    sums = np.zeros(lanes, dtype=np.float32)
    for top in range(0, height, rows):
        count = min(rows, height - top)
        pixels = count * width
        lin = linear[: 3 * pixels].reshape(3, pixels)
        np.take(SRGB_TO_LINEAR, rgb[top : top + count].reshape(pixels, 3).T, out=lin, mode="clip")
        weights = basis[: components * pixels].reshape(y_components, x_components, count, width)
        # cosf(y) * cosf(x), rounded to float, as the C loop computes its basis.
        np.multiply(cos_y[:, None, top : top + count, None], cos_x[None, :, None, :], out=weights)
        products = planar[: lanes * pixels].reshape(components, 3, pixels)
        np.multiply(weights.reshape(components, 1, pixels), lin[None, :, :], out=products)
        terms = block[: (pixels + 1) * lanes].reshape(pixels + 1, lanes)
        # Row 0 carries the sums so far, so that the reduction continues the one sequence;
        # below it the products, a pixel a row.
        terms[0] = sums
        np.copyto(terms[1:], products.reshape(lanes, pixels).T)
        np.add.reduce(terms, axis=0, out=sums)
    return sums


def encode(pixels: bytes | bytearray | memoryview, width: int, height: int,
           x_components: int = 4, y_components: int = 4) -> str:
    """The BlurHash of ``width`` x ``height`` packed RGB bytes (rows of ``width * 3``, no padding)."""
    if not (1 <= x_components <= MAX_COMPONENTS and 1 <= y_components <= MAX_COMPONENTS):
        raise ValueError("blurhash components must be 1 to 9 in each direction")
    if width < 1 or height < 1:
        raise ValueError("blurhash needs at least one pixel")
    rgb = np.frombuffer(pixels, dtype=np.uint8)
    if rgb.size != width * height * 3:
        raise ValueError(f"{rgb.size} bytes are not {width} x {height} RGB pixels")
    return from_sums(factor_sums(rgb.reshape(height, width, 3), x_components, y_components),
                     width, height, x_components, y_components)


def from_sums(sums: Floats, width: int, height: int, x_components: int, y_components: int) -> str:
    """The hash for the float32 sums ``factor_sums`` gives: scaling, quantisation and base 83 as in C."""
    # normalisation / (width * height) in float, then each sum times it in float.
    area = _F32(width * height)
    scale = np.full(x_components * y_components, _F32(2) / area, dtype=np.float32)
    scale[0] = _F32(1) / area
    factors = sums.reshape(-1, 3) * scale[:, None]
    dc = factors[0].tolist()
    ac = factors[1:].reshape(-1)

    parts = [_base83((x_components - 1) + (y_components - 1) * 9, 1)]
    if ac.size:
        largest = np.abs(ac).max()
        # floorf(actualMaximumValue * 166 - 0.5): the product in float, the difference in double.
        quantised = int(min(82.0, max(0.0, math.floor(float(_F32(float(largest * _F32(166)) - 0.5))))))
        maximum = (_F32(quantised) + _F32(1)) / _F32(166)
        parts.append(_base83(quantised, 1))
    else:
        maximum = _F32(1)
        parts.append(_base83(0, 1))
    parts.append(_base83((_linear_to_srgb(dc[0]) << 16) + (_linear_to_srgb(dc[1]) << 8) + _linear_to_srgb(dc[2]), 4))
    quantised_ac = _quantise_ac(ac / maximum).reshape(-1, 3)
    for r, g, b in (quantised_ac * (19 * 19, 19, 1)).tolist():
        parts.append(_base83(r + g + b, 2))
    return "".join(parts)
