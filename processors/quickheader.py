"""The header of a plain JPEG, PNG or WebP held in memory, read in Python: a tenth of libvips' cost.

libvips spends about 100 µs of GObject machinery on a header whatever the file's size, and on a busy
server every one of its forty-odd calls also gives up and takes back the interpreter lock. These
readers walk what libjpeg reads before the first scan, libspng before the first IDAT or libwebp's
demuxer in the whole container, and check it as they do, but answer only for files they find entirely
well formed: anything they do not know, or that the library would warn about or refuse, gives None,
and libvips judges that file as before. So no file is let in that libvips would have refused, and the
size and orientation they answer are libvips' own (held to that by tests/test_quick_header.py, on a
corpus and on thousands of damaged copies of it).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from core.probe import Header

# SOF0 (baseline), SOF1 (extended sequential) and SOF2 (progressive), Huffman-coded: what cameras and
# encoders write. Arithmetic coding, lossless and hierarchical frames are left to libvips.
_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_DHT, _DQT, _DRI, _SOS, _APP1 = 0xC4, 0xDB, 0xDD, 0xDA, 0xE1
_SKIPPED = frozenset(range(0xE0, 0xF0)) | {0xFE}  # APPn and COM: read by libvips only as metadata
_TIFF_SHORT = 3
_ORIENTATION_TAG = 0x0112


def quick_jpeg_header(data: bytes) -> Header | None:
    """The header libvips reads for these JPEG bytes, or None where libvips must be asked."""
    if not data.startswith(b"\xff\xd8"):
        return None
    end = len(data)
    pos = 2
    frame: tuple[int, int, frozenset[int]] | None = None
    orientation: int | None = None
    while True:
        if pos + 4 > end or data[pos] != 0xFF:
            return None
        # Fill bytes before a marker are allowed, and libjpeg skips them without a word.
        while data[pos + 1] == 0xFF:
            pos += 1
            if pos + 4 > end:
                return None
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        body, pos = pos + 4, pos + 2 + length
        if length < 2 or pos > end:
            return None
        if marker in _FRAMES:
            if frame is not None:
                return None
            frame = _frame(data, body, pos)
            if frame is None:
                return None
        elif marker == _SOS:
            if frame is None or not _scan(data, body, pos, frame[2]):
                return None
            break
        elif marker == _DHT:
            if not _huffman(data, body, pos):
                return None
        elif marker == _DQT:
            if not _quantization(data, body, pos):
                return None
        elif marker == _DRI:
            if length != 4:
                return None
        elif marker == _APP1 and data.startswith(b"Exif", body):
            if orientation is not None:
                return None
            orientation = _prefixed_exif_orientation(data[body:pos])
            if orientation is None:
                return None
        elif marker not in _SKIPPED:
            return None
    height, width, _ = frame
    return upright("image/jpeg", width, height, orientation or 1)


def _frame(data: bytes, start: int, stop: int) -> tuple[int, int, frozenset[int]] | None:
    """(height, width, component ids) of a frame header libjpeg takes without complaint."""
    if stop - start < 6:
        return None
    precision, height, width, count = struct.unpack_from(">BHHB", data, start)
    if precision != 8 or height == 0 or width == 0 or count not in (1, 3) or stop - start != 6 + 3 * count:
        return None
    ids = set()
    for at in range(start + 6, stop, 3):
        sampling, table = data[at + 1], data[at + 2]
        if not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 0x0F <= 4) or table > 3 or data[at] in ids:
            return None
        ids.add(data[at])
    return height, width, frozenset(ids)


def _scan(data: bytes, start: int, stop: int, components: frozenset[int]) -> bool:
    """A scan header naming components of the frame, each once, with tables that can exist."""
    count = data[start] if start < stop else 0
    if not 1 <= count <= len(components) or stop - start != 4 + 2 * count:
        return False
    seen = set()
    for at in range(start + 1, start + 1 + 2 * count, 2):
        tables = data[at + 1]
        if data[at] not in components or data[at] in seen or tables >> 4 > 3 or tables & 0x0F > 3:
            return False
        seen.add(data[at])
    return True


def _huffman(data: bytes, start: int, stop: int) -> bool:
    """One or more Huffman tables that fill the segment exactly, none holding more than 256 codes."""
    at = start
    while at < stop:
        if at + 17 > stop or data[at] >> 4 > 1 or data[at] & 0x0F > 3:
            return False
        codes = sum(data[at + 1:at + 17])
        at += 17 + codes
        if codes > 256 or at > stop:
            return False
    return at == stop


def _quantization(data: bytes, start: int, stop: int) -> bool:
    """One or more 8-bit quantization tables without a zero step, filling the segment exactly."""
    at = start
    while at < stop:
        if data[at] > 3:
            return False
        at += 65
        if at > stop or 0 in data[at - 64:at]:
            return False
    return at == stop


def _prefixed_exif_orientation(block: bytes) -> int | None:
    """`_exif_orientation` of a block that may start with the "Exif\\0\\0" of a JPEG's APP1: libvips
    reads EXIF with or without it, as writers differ."""
    if block.startswith(b"Exif"):
        if not block.startswith(b"Exif\x00\x00"):
            return None
        block = block[6:]
    return _exif_orientation(block)


def _exif_orientation(tiff: bytes) -> int | None:
    """The orientation (1 when none is given) of a plain EXIF block; None for anything else."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if tiff[0] == 0x49 else ">"
    (first,) = struct.unpack_from(order + "I", tiff, 4)
    if first < 8 or first + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, first)
    if count == 0 or first + 2 + 12 * count + 4 > len(tiff):
        return None
    found: int | None = None
    for at in range(first + 2, first + 2 + 12 * count, 12):
        tag, kind, values = struct.unpack_from(order + "HHI", tiff, at)
        if tag == _ORIENTATION_TAG:
            if found is not None or kind != _TIFF_SHORT or values != 1:
                return None
            (found,) = struct.unpack_from(order + "H", tiff, at + 8)
            if not 1 <= found <= 8:
                return None
    return found or 1


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The bit depths each colour type may have.
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# The chunks this reader knows before the image data, each with the length it must have (None: any).
_PNG_KNOWN = {b"PLTE": None, b"tRNS": None, b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"eXIf": None}
_INT31 = 2**31 - 1
# The largest side libvips makes an image of (VIPS_MAX_COORD).
_MAX_SIDE = 10_000_000


def quick_png_header(data: bytes) -> Header | None:
    """The header libvips reads for these PNG bytes, or None where libvips must be asked."""
    if not data.startswith(_PNG_SIGNATURE) or len(data) < 33:
        return None
    length, kind = struct.unpack_from(">I4s", data, 8)
    if length != 13 or kind != b"IHDR" or not _crc_holds(data, 8, 13):
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE and depth in _PNG_DEPTHS.get(colour, ())
            and compression == 0 and filtering == 0 and interlace <= 1):
        return None
    seen: dict[bytes, bytes] = {}
    orientation = 1
    pos = 33
    while True:
        if pos + 8 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            # libspng reads the first image data chunk's length with the header: it must be whole here.
            if length > _INT31 or pos + 12 + length > len(data):
                return None
            break
        if length > _INT31 or pos + 12 + length > len(data) or kind in seen or not _crc_holds(data, pos, length):
            return None
        if kind not in _PNG_KNOWN or _PNG_KNOWN[kind] not in (None, length):
            return None
        body = data[pos + 8:pos + 8 + length]
        if not _png_chunk_fits(kind, body, seen, colour, depth):
            return None
        if kind == b"eXIf":
            turned = _exif_orientation(body)
            if turned is None:
                return None
            orientation = turned
        seen[kind] = body
        pos += 12 + length
    if colour == 3 and b"PLTE" not in seen:
        return None
    return upright("image/png", width, height, orientation)


def _crc_holds(data: bytes, pos: int, length: int) -> bool:
    (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
    return zlib.crc32(data[pos + 4:pos + 8 + length]) == crc


def _png_chunk_fits(kind: bytes, body: bytes, seen: dict[bytes, bytes], colour: int, depth: int) -> bool:
    """Whether a chunk before the image data is valid where it stands, as libspng checks it."""
    if kind == b"PLTE":
        entries, extra = divmod(len(body), 3)
        return (colour in (2, 3, 6) and not extra and 1 <= entries <= 256
                and (colour != 3 or entries <= 1 << depth) and b"tRNS" not in seen)
    if kind == b"tRNS":
        if colour == 0:
            return len(body) == 2
        if colour == 2:
            return len(body) == 6
        return colour == 3 and b"PLTE" in seen and 0 < len(body) <= len(seen[b"PLTE"]) // 3
    if kind in (b"gAMA", b"cHRM", b"sRGB"):
        if b"PLTE" in seen:
            return False
        if kind == b"sRGB":
            return body[0] <= 3
        values = struct.unpack(f">{len(body) // 4}I", body)
        return all(0 < value <= _INT31 for value in values)
    if kind == b"pHYs":
        across, down, unit = struct.unpack(">IIB", body)
        return across <= _INT31 and down <= _INT31 and unit <= 1
    return True


_VP8X_ICC, _VP8X_ALPHA, _VP8X_EXIF, _VP8X_XMP, _VP8X_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
_VP8X_KNOWN = _VP8X_ICC | _VP8X_ALPHA | _VP8X_EXIF | _VP8X_XMP | _VP8X_ANIMATION
_VP8_START = b"\x9d\x01\x2a"


def quick_webp_header(data: bytes) -> Header | None:
    """The header libvips reads for these WebP bytes, or None where libvips must be asked.

    Only a still image: one lossy or lossless bitstream, alone or in an extended container whose flags
    name exactly the chunks it holds (ICC profile, alpha, EXIF, XMP) in the order the format gives.
    """
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    (size,) = struct.unpack_from("<I", data, 4)
    if size + 8 != len(data) or size % 2:
        return None
    chunks: list[tuple[bytes, int, int]] = []
    pos = 12
    while pos < len(data):
        if pos + 8 > len(data):
            return None
        kind, length = struct.unpack_from("<4sI", data, pos)
        end = pos + 8 + length
        if end + (length & 1) > len(data):
            return None
        chunks.append((kind, pos + 8, end))
        pos = end + (length & 1)
    kinds = [kind for kind, _, _ in chunks]
    if kinds in ([b"VP8 "], [b"VP8L"]):
        _, start, stop = chunks[0]
        size_read = _bitstream_size(data, kinds[0], start, stop)
        if size_read is None:
            return None
        width, height = size_read
        orientation = 1
    else:
        found = _extended(data, chunks)
        if found is None:
            return None
        width, height, orientation = found
    return upright("image/webp", width, height, orientation)


def _extended(data: bytes, chunks: list[tuple[bytes, int, int]]) -> tuple[int, int, int] | None:
    """(canvas width, height, orientation) of an extended still image laid out as the format gives it."""
    kind, start, stop = chunks[0]
    if kind != b"VP8X" or stop - start != 10:
        return None
    flags = data[start]
    if flags & ~_VP8X_KNOWN or flags & _VP8X_ANIMATION or data[start + 1:start + 4] != b"\x00\x00\x00":
        return None
    width = int.from_bytes(data[start + 4:start + 7], "little") + 1
    height = int.from_bytes(data[start + 7:start + 10], "little") + 1
    kinds = [kind for kind, _, _ in chunks[1:]]
    image = [index for index, kind in enumerate(kinds) if kind in (b"VP8 ", b"VP8L")]
    if len(image) != 1:
        return None
    bitstream = kinds[image[0]]
    before, after = kinds[:image[0]], kinds[image[0] + 1:]
    # ICCP first, then ALPH (a lossy image's alpha), then the image, then EXIF and XMP, each once.
    if before not in ([], [b"ICCP"], [b"ALPH"], [b"ICCP", b"ALPH"]) or after not in ([], [b"EXIF"], [b"XMP "],
                                                                                      [b"EXIF", b"XMP "]):
        return None
    if b"ALPH" in before and bitstream != b"VP8 ":
        return None
    named = {_VP8X_ICC: b"ICCP" in before, _VP8X_EXIF: b"EXIF" in after, _VP8X_XMP: b"XMP " in after}
    if any(bool(flags & flag) != present for flag, present in named.items()):
        return None
    # Each kind is there at most once now, so a chunk is found by its kind.
    places = {kind: (start, stop) for kind, start, stop in chunks[1:]}
    if _bitstream_size(data, bitstream, *places[bitstream]) != (width, height):
        return None
    if b"EXIF" not in places:
        return width, height, 1
    start, stop = places[b"EXIF"]
    orientation = _prefixed_exif_orientation(data[start:stop])
    return None if orientation is None else (width, height, orientation)


def _bitstream_size(data: bytes, kind: bytes, start: int, stop: int) -> tuple[int, int] | None:
    """(width, height) of a lossy or lossless bitstream header libwebp takes without complaint."""
    if kind == b"VP8 ":
        if stop - start < 10 or data[start + 3:start + 6] != _VP8_START:
            return None
        bits = int.from_bytes(data[start:start + 3], "little")
        # A key frame, a known profile, shown, and a first partition within the chunk.
        if bits & 1 or (bits >> 1) & 7 > 3 or not (bits >> 4) & 1 or bits >> 5 >= stop - start:
            return None
        width, height = struct.unpack_from("<HH", data, start + 6)
        width, height = width & 0x3FFF, height & 0x3FFF
        return (width, height) if width and height else None
    if stop - start < 5 or data[start] != 0x2F:
        return None
    (bits,) = struct.unpack_from("<I", data, start + 1)
    if bits >> 29:
        return None
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def upright(content_type: str, width: int, height: int, orientation: int, frames: int = 1) -> Header:
    """The header of an image shown turned by its EXIF orientation: 5 to 8 swap its sides."""
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    # Only GIF animation is kept (see core.probe.is_animated), and it is kept as video.
    kind = "gifv" if content_type == "image/gif" and frames > 1 else "image"
    return Header(content_type=content_type, width=width, height=height, frames=frames, kind=kind)


# By sniffed type: what reads a header of that type held in memory, before libvips is asked.
QUICK_READERS: dict[str, Callable[[bytes], Header | None]] = {
    "image/jpeg": quick_jpeg_header,
    "image/png": quick_png_header,
    "image/webp": quick_webp_header,
}
