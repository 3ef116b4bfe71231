"""Deterministic inputs, generated on the spot: the same call always gives the same bytes.

Photographs get mild Gaussian noise on top of the structured test pattern, so that JPEG and
WebP encoders work about as hard as on camera output and files come out at realistic sizes;
PNGs stay noise-free, as screenshots and graphics are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pyvips

from tests import images

PHOTO_NOISE_SIGMA = 8


@dataclass(frozen=True)
class Sample:
    path: Path
    content_type: str
    label: str


def photo(width: int, height: int, seed: int) -> pyvips.Image:
    noise = pyvips.Image.gaussnoise(width, height, mean=0, sigma=PHOTO_NOISE_SIGMA, seed=seed)
    return (images.pattern(width, height, seed) + noise).cast("uchar").copy(interpretation="srgb")


def graphic(width: int, height: int, seed: int) -> pyvips.Image:
    return images.pattern(width, height, seed)


def jpeg(path: Path, image: pyvips.Image, *, progressive: bool = False, quality: int = 85) -> Path:
    image.jpegsave(str(path), Q=quality, interlace=progressive)
    return path


def variant(jpeg_bytes: bytes, n: int) -> bytes:
    """The same picture with a different comment segment: new bytes, so a new blob, same work.

    Uploads of identical bytes would all land on one content-addressed blob and skip the
    rename and fsync a fresh upload costs.
    """
    if not jpeg_bytes.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    text = f"mediaplex bench {n}".encode()
    return jpeg_bytes[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg_bytes[2:]


def processing_corpus(directory: Path, per_kind: int) -> list[Sample]:
    """12 MP and 2 MP JPEGs, 1920x1080 PNGs and WebPs, ``per_kind`` of each."""
    directory.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    for i in range(per_kind):
        seed = i + 1
        samples.append(Sample(jpeg(directory / f"12mp-{i}.jpg", photo(4000, 3000, seed)), "image/jpeg",
                              "12 MP JPEG"))
        samples.append(Sample(jpeg(directory / f"2mp-{i}.jpg", photo(1632, 1224, seed)), "image/jpeg",
                              "2 MP JPEG"))
        png = directory / f"fullhd-{i}.png"
        graphic(1920, 1080, seed).pngsave(str(png))
        samples.append(Sample(png, "image/png", "1920x1080 PNG"))
        webp = directory / f"fullhd-{i}.webp"
        photo(1920, 1080, seed).webpsave(str(webp), Q=80)
        samples.append(Sample(webp, "image/webp", "1920x1080 WebP"))
    return samples


def photo_series(directory: Path, count: int, width: int, height: int, pictures: int = 4) -> list[Sample]:
    """``count`` JPEGs of ``width`` x ``height``: a few pictures, each repeated as variants (new bytes, same work)."""
    directory.mkdir(parents=True, exist_ok=True)
    originals = [jpeg(directory / f"picture-{seed}.jpg", photo(width, height, seed)).read_bytes()
                 for seed in range(1, min(pictures, count) + 1)]
    samples: list[Sample] = []
    for i in range(count):
        path = directory / f"photo-{i}.jpg"
        path.write_bytes(variant(originals[i % len(originals)], i))
        samples.append(Sample(path, "image/jpeg", f"{width}x{height} JPEG"))
    return samples


def bomb(path: Path, width: int, height: int) -> Path:
    """A PNG of a few dozen bytes whose header claims ``width`` x ``height`` pixels."""
    path.write_bytes(images.png_header_only(width, height))
    return path
