"""The header of a plain JPEG held in memory, read in Python: a tenth of what libvips costs for it.

libvips spends about 100 µs of GObject machinery on a JPEG header whatever its size, and on a busy
server every one of its forty-odd calls also gives up and takes back the interpreter lock. This reader
walks the same markers libjpeg reads before the first scan and checks them as libjpeg does, but it
answers only for files it finds entirely well formed: anything it does not know, or that libjpeg
would warn about or refuse, gives None, and libvips judges that file as before. So no file is let in
that libvips would have refused, and the size and orientation it answers are libvips' own (held to
that by tests/test_quick_header.py, on a corpus and on thousands of damaged copies of it).
"""

from __future__ import annotations

import struct

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
            if orientation is not None or not data.startswith(b"Exif\x00\x00", body):
                return None
            orientation = _exif_orientation(data[body + 6:pos])
            if orientation is None:
                return None
        elif marker not in _SKIPPED:
            return None
    height, width, _ = frame
    turned = orientation or 1
    if turned in (5, 6, 7, 8):
        width, height = height, width
    return Header(content_type="image/jpeg", width=width, height=height, frames=1, kind="image")


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
    found = 1
    for at in range(first + 2, first + 2 + 12 * count, 12):
        tag, kind, values = struct.unpack_from(order + "HHI", tiff, at)
        if tag == _ORIENTATION_TAG:
            if kind != _TIFF_SHORT or values != 1:
                return None
            (found,) = struct.unpack_from(order + "H", tiff, at + 8)
            if not 1 <= found <= 8:
                return None
    return found
