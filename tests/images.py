"""Test images made at test time: libvips and pillow-heif for real encodings, hand-built bytes for headers.

Everything is deterministic: the same call always writes the same bytes.
"""

import io
import struct
import zlib
from pathlib import Path

import pillow_heif
import pyvips


def pattern(width: int, height: int, seed: int = 0) -> pyvips.Image:
    """An 8-bit sRGB image with structure in it, different for every ``seed``."""
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    red = (x * 255 / max(width - 1, 1) + seed * 53) % 256
    green = (y * 255 / max(height - 1, 1) + seed * 101) % 256
    blue = ((x + y) * 4 + seed * 29) % 256
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")


def solid(width: int, height: int, rgb: tuple[int, int, int] = (90, 140, 200)) -> pyvips.Image:
    """A flat colour: cheap to encode and decode even at tens of megapixels."""
    return (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar").copy(interpretation="srgb")


def jpeg(
    path: Path,
    width: int,
    height: int,
    *,
    seed: int = 0,
    flat: bool = False,
    orientation: int | None = None,
    profile: str | None = None,
) -> Path:
    """A JPEG; libvips always writes an EXIF block, with ``orientation`` in it when given.

    ``profile`` embeds an ICC profile, e.g. libvips' built-in "p3".
    """
    image = solid(width, height) if flat else pattern(width, height, seed)
    if orientation is not None:
        image = image.copy()
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    options: dict[str, object] = {"Q": 85}
    if profile is not None:
        options["profile"] = profile
    image.jpegsave(str(path), **options)
    return path


def png(path: Path, width: int, height: int, *, seed: int = 0, alpha: bool = False) -> Path:
    image = pattern(width, height, seed)
    if alpha:
        image = image.bandjoin(200).copy(interpretation="srgb")
    image.pngsave(str(path))
    return path


def webp(path: Path, width: int, height: int, *, seed: int = 0) -> Path:
    pattern(width, height, seed).webpsave(str(path), Q=80)
    return path


def gif(path: Path, width: int, height: int, *, seed: int = 0) -> Path:
    """A single-frame GIF."""
    pattern(width, height, seed).gifsave(str(path))
    return path


def animated_gif(path: Path, width: int, height: int, frames: int) -> Path:
    """A looping GIF whose frames are flat colours, so quantising them is quick."""
    pages = [solid(width, height, (40 * i % 256, 255 - 40 * i % 256, 120)) for i in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [80] * frames)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    strip.gifsave(str(path))
    return path


def long_gif(path: Path, width: int, height: int, frames: int) -> Path:
    """An animated GIF of many frames that is still a small file: two colours, one palette for all.

    960x960 with 110 frames is about 180 KB, written in a few seconds.
    """
    light, dark = solid(width, height // 2, (230, 200, 40)), solid(width, height - height // 2, (30, 60, 150))
    pages = [(light.join(dark, "vertical") if i % 2 == 0 else dark.join(light, "vertical")) for i in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [40] * frames)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    # One palette, computed once and reused for every frame, is most of what keeps this quick.
    strip.gifsave(str(path), effort=1, dither=0, reuse=True)
    return path


def heif(path: Path, width: int, height: int, *, brand: bytes = b"avif", seed: int = 0) -> Path:
    """An AV1-coded HEIF from libvips' heifsave, with ``brand`` as its major brand.

    libheif picks the codec from the item type, not the brand, so relabelling an AV1 file
    makes an AV1-coded "heic" or "mif1" one; ``hevc`` makes HEVC-coded ones.
    """
    data = pattern(width, height, seed).heifsave_buffer(compression="av1", Q=60, effort=0)
    assert data[4:8] == b"ftyp"
    path.write_bytes(data[:8] + brand + data[12:])
    return path


def hevc(
    path: Path,
    width: int,
    height: int,
    *,
    seed: int = 0,
    flat: bool = False,
    brand: bytes = b"heic",
    grid: bool = False,
    orientation: int | None = None,
    profile: str | None = None,
) -> Path:
    """An HEVC-coded HEIF from the x265 encoder in pillow-heif's wheel, with ``brand`` as its major brand.

    ``grid`` stores the picture as a grid of 512x512 tiles, as iPhones do. ``orientation`` is
    written both as EXIF orientation and as the irot/imir transformation that libheif applies
    when decoding, as iPhones do. ``profile`` embeds one of libvips' built-in ICC profiles.
    """
    image = solid(width, height) if flat else pattern(width, height, seed)
    options: dict[str, object] = {"quality": 60, "enc_params": {"preset": "ultrafast"}}
    if grid:
        options["tile_size"] = 512
    if orientation is not None:
        options["exif"] = _exif_orientation(orientation)
    if profile is not None:
        options["icc_profile"] = pyvips.Image.profile_load(profile)
    out = io.BytesIO()
    pillow_heif.from_bytes("RGB", (width, height), image.write_to_memory()).save(out, **options)
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"
    path.write_bytes(data[:8] + brand + data[12:])
    return path


def _exif_orientation(orientation: int) -> bytes:
    """An EXIF block holding nothing but an orientation tag."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"Exif\x00\x00" + b"MM\x00*" + struct.pack(">IH", 8, 1) + entry + struct.pack(">I", 0)


def tiff(path: Path, width: int, height: int) -> Path:
    pattern(width, height).tiffsave(str(path))
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut ``path`` short in place, as an interrupted upload would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming ``width`` x ``height`` over a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def gif_header_only(width: int, height: int, frames: int) -> bytes:
    """A GIF with a ``width`` x ``height`` canvas and ``frames`` one-pixel frames."""
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for _ in range(frames):
        out += b"\x21\xf9\x04\x04\x0a\x00\x00\x00"
        # One pixel, LZW minimum code size 2: clear, index 0, end of information.
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return out + b"\x3b"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ISO-BMFF ``ftyp`` box, as found at the start of MP4, MOV, HEIF and AVIF files."""
    return _box(b"ftyp", major + b"\x00\x00\x00\x00" + b"".join(compatible))


def hevc_heic(width: int = 64, height: int = 48) -> bytes:
    """A structurally valid HEIC whose single HEVC item holds junk instead of a bitstream.

    libheif reads its header happily; decoding needs an HEVC decoder.
    """
    hvcc = _box(
        b"hvcC",
        bytes([1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 0]),
    )
    ispe = _full_box(b"ispe", 0, struct.pack(">II", width, height))
    infe = _full_box(b"infe", 2, struct.pack(">HH", 1, 0) + b"hvc1" + b"\x00")
    properties = _box(
        b"iprp",
        _box(b"ipco", hvcc + ispe) + _full_box(b"ipma", 0, struct.pack(">IHB", 1, 1, 2) + b"\x81\x02"),
    )
    mdat_payload = struct.pack(">I", 20) + b"\x26\x01" + b"\xaf" * 18

    def meta(data_offset: int) -> bytes:
        iloc = _full_box(
            b"iloc", 0, b"\x44\x00" + struct.pack(">HHHHII", 1, 1, 0, 1, data_offset, len(mdat_payload))
        )
        return _full_box(
            b"meta",
            0,
            _full_box(b"hdlr", 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
            + _full_box(b"pitm", 0, struct.pack(">H", 1))
            + iloc
            + _full_box(b"iinf", 0, struct.pack(">H", 1) + infe)
            + properties,
        )

    head = ftyp(b"heic", b"mif1", b"heic")
    data_offset = len(head) + len(meta(0)) + 8
    return head + meta(data_offset) + _box(b"mdat", mdat_payload)
