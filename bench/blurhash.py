"""11. BlurHash: the encoder Mediaplex uses against the C encoder blurhash-python ships, same pixels.

Both get the 100 px input libvips prepares from a small rendition (processors.imaging does
that part unchanged), so the figure is the encoding alone; the preparation is timed too and
given in a note. Every photo's two strings are compared: a faster encoder that writes another
string misses the goal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyvips
from blurhash import _functions as blurhash_c

from bench import bare, corpus, stats
from bench.common import Outcome, Row, Settings, verdict
from processors import blurhash_encoder
from processors.imaging import BLURHASH_COMPONENTS, BLURHASH_INPUT_SIZE, configure_vips

GOAL = 0.001
# Source sizes, as uploads come: landscape and portrait photos, a square, a panorama.
SOURCES = ((4000, 3000), (3024, 4032), (1920, 1080), (1080, 1920), (2048, 2048), (6000, 1500))


@dataclass(frozen=True)
class Prepared:
    pixels: bytes
    width: int
    height: int


def prepare(small: pyvips.Image) -> Prepared:
    preview = small.thumbnail_image(BLURHASH_INPUT_SIZE, height=BLURHASH_INPUT_SIZE, size="down")
    rgb = preview.colourspace("srgb").extract_band(0, n=3).cast("uchar")
    return Prepared(rgb.write_to_memory(), rgb.width, rgb.height)


def c_encoder(photo: Prepared) -> str:
    destination = blurhash_c.ffi.new("char[]", bare.BLURHASH_BUFFER)
    result = blurhash_c.lib.create_hash_from_pixels(
        BLURHASH_COMPONENTS, BLURHASH_COMPONENTS, photo.width, photo.height,
        blurhash_c.ffi.from_buffer("uint8_t[]", photo.pixels), photo.width * 3, destination,
    )
    if result == blurhash_c.ffi.NULL:
        raise ValueError("blurhash encoder rejected its arguments")
    encoded: str = blurhash_c.ffi.string(result).decode("ascii")
    return encoded


def mediaplex_encoder(photo: Prepared) -> str:
    return blurhash_encoder.encode(photo.pixels, photo.width, photo.height, BLURHASH_COMPONENTS, BLURHASH_COMPONENTS)


def per_photo(encode: Callable[[Prepared], str], photos: list[Prepared], repeat: int) -> float:
    """Seconds an encoding takes, the median over photos of each photo's mean over ``repeat`` calls."""
    times = []
    for photo in photos:
        started = time.perf_counter()
        for _ in range(repeat):
            encode(photo)
        times.append((time.perf_counter() - started) / repeat)
    return stats.median(times)


def run(settings: Settings) -> Outcome:
    configure_vips()
    smalls = []
    for seed, (width, height) in enumerate(SOURCES * settings.scaled(2, 1), start=1):
        small_box = bare.box(width, height, bare.SMALL_PIXELS)
        smalls.append(corpus.photo(*small_box, seed=seed).copy_memory())
    photos = [prepare(small) for small in smalls]
    repeat = settings.scaled(20, 3)

    different = [f"{p.width}x{p.height}" for p in photos if mediaplex_encoder(p) != c_encoder(p)]
    # Untimed: numpy's and the C library's first calls page in code and tables.
    per_photo(mediaplex_encoder, photos[:1], 2)
    per_photo(c_encoder, photos[:1], 2)
    mine, theirs, ratios, preparing = [], [], [], []
    for run_index in range(settings.runs):
        # Alternating the order keeps a drift in machine load from favouring one side.
        if run_index % 2 == 0:
            ours, reference = per_photo(mediaplex_encoder, photos, repeat), per_photo(c_encoder, photos, repeat)
        else:
            reference, ours = per_photo(c_encoder, photos, repeat), per_photo(mediaplex_encoder, photos, repeat)
        mine.append(ours)
        theirs.append(reference)
        ratios.append(ours / reference)
        started = time.perf_counter()
        for small in smalls:
            prepare(small)
        preparing.append((time.perf_counter() - started) / len(smalls))

    seconds = stats.median(mine)
    sizes = sorted({f"{p.width}x{p.height}" for p in photos})
    row = Row(
        key="11",
        what=f"BlurHash: 4x4 components of the {BLURHASH_INPUT_SIZE} px input libvips prepares from the small "
             f"rendition ({', '.join(sizes)}), {len(photos)} photos, {repeat} encodings each per run; "
             "encoding only, median photo",
        result=f"{stats.seconds(seconds)} a photo, "
               + ("every string the same" if not different else f"{len(different)} strings differ"),
        reference=f"blurhash-python's C encoder, same pixels: {stats.seconds(stats.median(theirs))}",
        ratio=stats.ratio(stats.median(ratios)),
        goal=f"< {stats.seconds(GOAL)} a photo, same string",
        verdict=verdict(seconds < GOAL and not different),
    )
    notes = [f"BlurHash (11): preparing the input (thumbnail_image to {BLURHASH_INPUT_SIZE} px, sRGB, 3 bands, "
             f"8 bits, write_to_memory), unchanged and not part of the figure, takes "
             f"{stats.seconds(stats.median(preparing))} a photo."]
    if different:
        notes.append(f"BlurHash (11): the strings differ for {', '.join(different)}.")
    return Outcome(rows=[row], notes=notes)
