"""The JPEG, PNG and WebP headers read in Python (processors/quickheader.py) answer only what libvips does.

For every file they read, the size and orientation equal libvips' header for the same bytes; for every
file libvips refuses they give None, so libvips refuses it as before. Checked on files of several
encoders and settings, and on thousands of copies of them damaged where the header is.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import numpy as np
import pytest
import pyvips

from core.probe import Header, MediaRejected
from processors.header import FAIL_ON, read_header
from processors.quickheader import QUICK_READERS, quick_jpeg_header, quick_png_header, quick_webp_header

SOS = b"\xff\xda"


def libvips_header(data: bytes, content_type: str = "image/jpeg") -> Header | tuple[str, str]:
    """libvips' own judgement of the bytes, as read_header gave it before the quick path."""
    loader = f"{content_type.removeprefix('image/')}load_buffer"
    try:
        image = pyvips.Operation.call(loader, data, access="sequential", fail_on=FAIL_ON)
        width, height = image.width, image.height
        orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    except pyvips.Error as error:
        return ("corrupt", str(error).splitlines()[0])
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Header(content_type=content_type, width=width, height=height, frames=1, kind="image")


def libvips_jpegs() -> Iterator[bytes]:
    noise = pyvips.Image.gaussnoise(120, 90, mean=128, sigma=40).cast("uchar")
    colour = noise.bandjoin([noise.rot180(), noise.flip("horizontal")])
    settings: list[dict[str, object]] = [
        {}, {"interlace": True}, {"optimize_coding": True}, {"subsample_mode": "off"}, {"Q": 100},
        {"strip": True}, {"quant_table": 3}, {"restart_interval": 2},
    ]
    for image in (colour, noise, colour.crop(0, 0, 17, 9)):
        for options in settings + ([{"profile": "p3"}] if image.bands == 3 else []):
            for orientation in (None, 3, 6, 8):
                marked = image.copy()
                if orientation is not None:
                    marked.set_type(pyvips.GValue.gint_type, "orientation", orientation)
                yield marked.jpegsave_buffer(**options)


def ffmpeg_stills(codec_name: str, layouts: tuple[str, ...], width: int, height: int) -> Iterator[bytes]:
    """Stills FFmpeg's encoders write (its JPEGs: a comment first, no JFIF or EXIF block)."""
    pixels = (np.random.default_rng(5).random((height, width, 3)) * 255).astype("uint8")
    for layout in layouts:
        codec = av.CodecContext.create(codec_name, "w")
        codec.width, codec.height, codec.pix_fmt, codec.time_base = width, height, layout, Fraction(1, 25)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format=layout)
        (packet,) = [*codec.encode(frame), *codec.encode(None)]
        yield bytes(packet)


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [*libvips_jpegs(), *ffmpeg_stills("mjpeg", ("yuvj420p", "yuvj422p", "yuvj444p"), 96, 64)]


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/webp"])
def test_every_sample_is_read_quickly_and_as_libvips_reads_it(request: pytest.FixtureRequest,
                                                               content_type: str) -> None:
    samples: list[bytes] = request.getfixturevalue(content_type.removeprefix("image/") + "s")
    for data in samples:
        assert QUICK_READERS[content_type](data) == libvips_header(data, content_type)


def damaged(data: bytes, rng: random.Random) -> bytes:
    """A copy with a few bytes changed, inserted or removed, or cut short, where the header is."""
    header_end = max(data.find(SOS) + 16, 32)
    copy = bytearray(data)
    at = rng.randrange(2, min(header_end, len(copy)))
    choice = rng.random()
    if choice < 0.5:
        for _ in range(rng.choice((1, 1, 2, 3))):
            spot = rng.randrange(2, min(header_end, len(copy)))
            copy[spot] = rng.choice((0, 0xFF, rng.randrange(256), (copy[spot] + 1) & 0xFF, (copy[spot] - 1) & 0xFF))
    elif choice < 0.65:
        del copy[rng.randrange(2, min(header_end + 40, len(copy))):]
    elif choice < 0.8:
        copy[at:at] = bytes([rng.randrange(256)]) * rng.choice((1, 2, 4))
    else:
        del copy[at:at + rng.choice((1, 2, 4))]
    return bytes(copy)


def exif_damaged(data: bytes, rng: random.Random) -> bytes:
    at = data.find(b"\xff\xe1")
    (length,) = struct.unpack_from(">H", data, at + 2)
    copy = bytearray(data)
    for _ in range(rng.choice((1, 1, 2))):
        spot = rng.randrange(at + 4, at + 2 + length)
        copy[spot] = rng.choice((0, 0xFF, 6, 8, rng.randrange(256), (copy[spot] + 1) & 0xFF))
    return bytes(copy)


def read_of_damaged(samples: list[bytes], damage: Callable[[bytes, random.Random], bytes], copies: int,
                    content_type: str) -> int:
    """How many damaged copies of the samples the quick reader read, each as libvips reads it."""
    rng = random.Random(17)
    read = 0
    for data in samples:
        for _ in range(copies):
            copy = damage(data, rng)
            quick = QUICK_READERS[content_type](copy)
            if quick is not None:
                read += 1
                assert quick == libvips_header(copy, content_type), copy[:256].hex()
    return read


@pytest.mark.parametrize("damage", [damaged, exif_damaged])
def test_a_damaged_header_is_read_as_libvips_reads_it_or_left_to_libvips(
        jpegs: list[bytes], damage: Callable[[bytes, random.Random], bytes]) -> None:
    samples = [data for data in jpegs if damage is damaged or b"\xff\xe1" in data]
    # Most damage that keeps a header well formed is in pixels or metadata: those copies are read here.
    assert read_of_damaged(samples, damage, 40, "image/jpeg") > len(samples) * 40 // 5


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def rebuilt(data: bytes, replace: dict[int, bytes | None] | None = None, before_scan: bytes = b"") -> bytes:
    """The JPEG's segments up to its scan with some bodies replaced (None drops them), then the rest."""
    out, at = bytearray(data[:2]), 2
    while data[at + 1] != 0xDA:
        marker = data[at + 1]
        (length,) = struct.unpack_from(">H", data, at + 2)
        body = data[at + 4:at + 2 + length]
        if replace and marker in replace:
            body = replace.pop(marker)  # type: ignore[assignment]
        if body is not None:
            out += segment(marker, body)
        at += 2 + length
    assert not replace, f"no such segments: {replace}"
    return bytes(out + before_scan + data[at:])


@pytest.fixture(scope="module")
def plain(jpegs: list[bytes]) -> bytes:
    return jpegs[0]


def sof(data: bytes) -> bytes:
    at = data.find(b"\xff\xc0")
    (length,) = struct.unpack_from(">H", data, at + 2)
    return data[at + 4:at + 2 + length]


def exif(*entries: bytes) -> bytes:
    """An EXIF block whose first directory holds `entries`."""
    directory = struct.pack("<H", len(entries)) + b"".join(entries) + b"\x00" * 4
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + directory


def scan_component(data: bytes, component: int) -> bytes:
    at = data.find(SOS) + 5
    return data[:at] + bytes([component]) + data[at + 1:]


LEFT_TO_LIBVIPS: dict[str, Callable[[bytes], bytes]] = {
    "arithmetic coding": lambda plain: plain.replace(b"\xff\xc0", b"\xff\xc9", 1),
    "cmyk": lambda plain: rebuilt(plain, {0xC0: sof(plain)[:5] + b"\x04" + sof(plain)[6:] + b"\x04\x11\x00"}),
    "12-bit": lambda plain: rebuilt(plain, {0xC0: b"\x0c" + sof(plain)[1:]}),
    "no width": lambda plain: rebuilt(plain, {0xC0: sof(plain)[:3] + b"\x00\x00" + sof(plain)[5:]}),
    "two frames": lambda plain: rebuilt(plain, before_scan=segment(0xC0, sof(plain))),
    "no scan": lambda plain: plain[:plain.find(SOS)],
    "extraneous bytes": lambda plain: rebuilt(plain, before_scan=b"\x00"),
    "16-bit quantization": lambda plain: rebuilt(plain, {0xDB: b"\x10" + b"\x00\x01" * 64}),
    "257 huffman codes": lambda plain: rebuilt(plain, before_scan=segment(
        0xC4, b"\x10" + bytes([255, 2] + [0] * 14) + bytes(range(256)) + b"\x00")),
    "a scan of a component the frame lacks": lambda plain: scan_component(plain, 9),
    "orientation out of range": lambda plain: rebuilt(plain, {0xE1: exif(struct.pack("<HHIHH", 0x0112, 3, 1, 9, 0))}),
    "two orientations": lambda plain: rebuilt(plain, {0xE1: exif(*[struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)] * 2)}),
    "orientation as a long": lambda plain: rebuilt(plain, {0xE1: exif(struct.pack("<HHII", 0x0112, 4, 1, 6))}),
    "exif header without its zeros": lambda plain: rebuilt(plain, {0xE1: b"Exif" + exif()[6:]}),
}


@pytest.mark.parametrize("what", LEFT_TO_LIBVIPS)
def test_what_the_quick_reader_leaves_to_libvips(plain: bytes, what: str) -> None:
    data = LEFT_TO_LIBVIPS[what](plain)
    assert quick_jpeg_header(data) is None
    judged_as_before(data, "image/jpeg")


def judged_as_before(data: bytes, content_type: str) -> None:
    """libvips still has the last word on a file left to it: the same one as before."""
    judged = libvips_header(data, content_type)
    try:
        assert read_header(data) == judged
    except MediaRejected as refused:
        assert isinstance(judged, tuple) and refused.kind == judged[0]


def test_an_orientation_turns_the_size_as_libvips_does(plain: bytes) -> None:
    turned = rebuilt(plain, {0xE1: exif(struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0))})
    header = quick_jpeg_header(turned)
    assert header is not None and header == libvips_header(turned)
    assert (header.width, header.height) == (libvips_header(plain).height, libvips_header(plain).width)



def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def before_data(data: bytes, extra: bytes) -> bytes:
    """The PNG with `extra` chunks just before its first IDAT."""
    at = data.find(b"IDAT") - 4
    return data[:at] + extra + data[at:]


def libvips_pngs() -> Iterator[bytes]:
    grey = pyvips.Image.gaussnoise(37, 29).cast("uchar")
    colour = grey.bandjoin([grey.rot180(), grey.flip("horizontal")])
    for image in (grey, colour, colour.bandjoin(200), grey.bandjoin(100)):
        for options in ({}, {"interlace": True}, {"strip": True}, {"bitdepth": 16}):
            for orientation in (None, 6):
                marked = image.copy()
                if orientation is not None:
                    marked.set_type(pyvips.GValue.gint_type, "orientation", orientation)
                yield marked.pngsave_buffer(**options)
    for depth in (1, 2, 4):
        yield grey.pngsave_buffer(bitdepth=depth)
    palette = colour.pngsave_buffer(palette=True, strip=True)
    yield from (palette, colour.pngsave_buffer(palette=True, bitdepth=4),
                before_data(palette, chunk(b"tRNS", bytes(9))))
    plain = colour.pngsave_buffer(strip=True)
    yield from (before_data(plain, chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"sRGB", b"\x00")),
                before_data(plain, chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000,
                                                               15000, 6000))),
                before_data(plain, chunk(b"tRNS", struct.pack(">3H", 1, 2, 3))),
                before_data(grey.pngsave_buffer(strip=True), chunk(b"tRNS", struct.pack(">H", 7))))


@pytest.fixture(scope="module")
def pngs() -> list[bytes]:
    return [*libvips_pngs(), *ffmpeg_stills("png", ("rgb24", "rgba", "gray", "rgb48be"), 40, 24)]


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each chunk before the image data."""
    found, at = [], 8
    while data[at + 4:at + 8] != b"IDAT":
        (length,) = struct.unpack_from(">I", data, at)
        found.append((at, length))
        at += 12 + length
    return found


def png_damaged(data: bytes, rng: random.Random) -> bytes:
    """A few bytes changed, inserted or removed, or the file cut short, before the image data's start."""
    header_end = data.find(b"IDAT") + 8
    copy = bytearray(data)
    at = rng.randrange(8, header_end)
    choice = rng.random()
    if choice < 0.5:
        copy[at] = rng.choice((0, 0xFF, rng.randrange(256), (copy[at] + 1) & 0xFF, (copy[at] - 1) & 0xFF))
    elif choice < 0.7:
        del copy[rng.randrange(8, header_end + 40):]
    elif choice < 0.85:
        copy[at:at] = bytes([rng.randrange(256)]) * rng.choice((1, 4))
    else:
        del copy[at:at + rng.choice((1, 4))]
    return bytes(copy)


def png_resealed(data: bytes, rng: random.Random) -> bytes:
    """A chunk's body changed and its CRC made right again, so what it says must be judged."""
    at, length = rng.choice([(at, length) for at, length in png_chunks(data) if length])
    copy = bytearray(data)
    for _ in range(rng.choice((1, 2))):
        spot = rng.randrange(at + 8, at + 8 + length)
        copy[spot] = rng.choice((0, 1, 2, 3, 6, 16, 0xFF, rng.randrange(256), (copy[spot] + 1) & 0xFF))
    struct.pack_into(">I", copy, at + 8 + length, zlib.crc32(bytes(copy[at + 4:at + 8 + length])))
    return bytes(copy)


@pytest.mark.parametrize("damage", [png_damaged, png_resealed])
def test_a_damaged_png_header_is_read_as_libvips_reads_it_or_left_to_libvips(
        pngs: list[bytes], damage: Callable[[bytes, random.Random], bytes]) -> None:
    # Most damage to a PNG breaks a CRC and is left to libvips; resealed copies are mostly read here.
    assert read_of_damaged(pngs, damage, 60, "image/png") > len(pngs) * 60 // (20 if damage is png_damaged else 3)


def rechunked(data: bytes, kind: bytes, body: bytes) -> bytes:
    """The PNG with the body of its first `kind` chunk replaced, its CRC made right."""
    at = data.find(kind) - 4
    (length,) = struct.unpack_from(">I", data, at)
    return data[:at] + chunk(kind, body) + data[at + 12 + length:]


def _ihdr(data: bytes, **fields: int) -> bytes:
    names = ("width", "height", "depth", "colour", "compression", "filtering", "interlace")
    values = dict(zip(names, struct.unpack_from(">IIBBBBB", data, 16), strict=True)) | fields
    return rechunked(data, b"IHDR", struct.pack(">IIBBBBB", *values.values()))


PNG_LEFT_TO_LIBVIPS: dict[str, Callable[[bytes], bytes]] = {
    "a wrong crc": lambda png: png[:29] + bytes([png[29] ^ 1]) + png[30:],
    "a text chunk": lambda png: before_data(png, chunk(b"tEXt", b"Software\x00pyvips")),
    "an animation": lambda png: before_data(png, chunk(b"acTL", struct.pack(">II", 2, 0))),
    "a palette in grey": lambda png: before_data(_ihdr(png, colour=0, depth=8), chunk(b"PLTE", bytes(6))),
    "transparency with alpha": lambda png: before_data(_ihdr(png, colour=6), chunk(b"tRNS", bytes(6))),
    "a palette image without its palette": lambda png: _ihdr(png, colour=3),
    "16-bit palette": lambda png: _ihdr(png, colour=3, depth=16),
    "no width": lambda png: _ihdr(png, width=0),
    "wider than libvips makes images": lambda png: _ihdr(png, width=10_000_001),
    "interlace 2": lambda png: _ihdr(png, interlace=2),
    "two pHYs": lambda png: before_data(png, chunk(b"pHYs", bytes(9)) * 2),
    "cut before the image data": lambda png: png[:png.find(b"IDAT") - 4],
    "image data longer than the file": lambda png: png[:png.find(b"IDAT") + 20],
}


@pytest.mark.parametrize("what", PNG_LEFT_TO_LIBVIPS)
def test_what_the_quick_png_reader_leaves_to_libvips(pngs: list[bytes], what: str) -> None:
    data = PNG_LEFT_TO_LIBVIPS[what](pngs[2])
    assert quick_png_header(data) is None
    judged_as_before(data, "image/png")



def libvips_webps() -> Iterator[bytes]:
    grey = pyvips.Image.gaussnoise(37, 29).cast("uchar")
    colour = grey.bandjoin([grey.rot180(), grey.flip("horizontal")])
    for image in (colour, colour.bandjoin(200), grey):
        for options in ({}, {"lossless": True}, {"strip": True}, {"strip": True, "lossless": True}, {"profile": "p3"}):
            for orientation in (None, 6):
                marked = image.copy()
                if orientation is not None:
                    marked.set_type(pyvips.GValue.gint_type, "orientation", orientation)
                yield marked.webpsave_buffer(**options)


@pytest.fixture(scope="module")
def webps() -> list[bytes]:
    return [*libvips_webps(), *ffmpeg_stills("libwebp", ("yuv420p", "yuva420p"), 40, 24)]


def resized(data: bytes) -> bytes:
    """The WebP with its RIFF size made right for its length again."""
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]


def webp_damaged(data: bytes, rng: random.Random) -> bytes:
    """A few bytes changed, inserted or removed, mostly in the headers, the RIFF size made right or not."""
    copy = bytearray(data)
    at = rng.randrange(0, 80) if rng.random() < 0.8 else rng.randrange(0, len(copy))
    choice = rng.random()
    if choice < 0.5:
        copy[at] = rng.choice((0, 0xFF, rng.randrange(256), (copy[at] + 1) & 0xFF, (copy[at] - 1) & 0xFF))
    elif choice < 0.65:
        del copy[rng.randrange(1, len(copy)):]
    elif choice < 0.8:
        copy[at:at] = bytes([rng.randrange(256)]) * rng.choice((1, 2, 4))
    else:
        del copy[at:at + rng.choice((1, 2, 4))]
    return resized(bytes(copy)) if rng.random() < 0.5 and len(copy) >= 8 else bytes(copy)


def test_a_damaged_webp_header_is_read_as_libvips_reads_it_or_left_to_libvips(webps: list[bytes]) -> None:
    assert read_of_damaged(webps, webp_damaged, 60, "image/webp") > len(webps) * 60 // 10


def with_flags(data: bytes, flags: int) -> bytes:
    return data[:20] + bytes([flags]) + data[21:]


def riff_chunks(data: bytes) -> list[bytes]:
    found, at = [], 12
    while at < len(data):
        (length,) = struct.unpack_from("<I", data, at + 4)
        found.append(data[at:at + 8 + length + (length & 1)])
        at += 8 + length + (length & 1)
    return found


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


WEBP_LEFT_TO_LIBVIPS: dict[str, Callable[[list[bytes]], bytes]] = {
    "an animation flag": lambda webps: with_flags(webps[0], webps[0][20] | 0x02),
    "an EXIF flag without its chunk": lambda webps: riff(*riff_chunks(webps[0])[:2]),
    "an EXIF chunk without its flag": lambda webps: with_flags(webps[0], 0x00),
    "a reserved flag": lambda webps: with_flags(webps[0], webps[0][20] | 0x01),
    "a trailing byte": lambda webps: resized(webps[4] + b"\x00\x00"),
    "a riff size past the end": lambda webps: webps[4][:4] + struct.pack("<I", len(webps[4])) + webps[4][8:],
    "two bitstreams": lambda webps: riff(*riff_chunks(webps[4]) * 2),
    "no key frame": lambda webps: webps[4][:20] + bytes([webps[4][20] | 1]) + webps[4][21:],
    "a lossless version of 1": lambda webps: webps[6][:24] + bytes([webps[6][24] | 0x20]) + webps[6][25:],
    "a canvas larger than the image": lambda webps: webps[0][:24] + bytes([webps[0][24] + 1]) + webps[0][25:],
    "exif after xmp": lambda webps: riff(*riff_chunks(with_flags(webps[0], 0x0C))[:2],
                                         b"XMP \x01\x00\x00\x00x\x00", riff_chunks(webps[0])[2]),
}


@pytest.mark.parametrize("what", WEBP_LEFT_TO_LIBVIPS)
def test_what_the_quick_webp_reader_leaves_to_libvips(webps: list[bytes], what: str) -> None:
    data = WEBP_LEFT_TO_LIBVIPS[what](webps)
    assert quick_webp_header(data) is None
    judged_as_before(data, "image/webp")
