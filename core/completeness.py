"""Whether an upload's container reaches its end, judged from its last bytes without decoding.

An upload cut off in transit keeps a valid header, so the header checks pass it; its end marker is
what is missing. Damage inside the data is left to the processor, which decodes everything anyway.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import BinaryIO

from core.probe import MediaRejected

PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_END = b"\xff\xd9"
# Cameras and editors append their own trailers after the JPEG end marker; look this far back for it.
# Inside entropy-coded data 0xFF is always followed by 0x00, so the marker cannot appear there by chance.
JPEG_TAIL = 1024 * 1024
GIF_TRAILER = 0x3B


def check_complete(source: Path | bytes, content_type: str) -> None:
    """MediaRejected("corrupt") when a file, or bytes held in memory, of `content_type` ends before its
    container does."""
    if isinstance(source, bytes):
        complete = _complete(io.BytesIO(source), len(source), content_type)
    else:
        with source.open("rb") as file:
            complete = _complete(file, source.stat().st_size, content_type)
    if not complete:
        raise MediaRejected("corrupt", f"the {content_type} data ends before the image does")


def _complete(file: BinaryIO, size: int, content_type: str) -> bool:
    match content_type:
        case "image/png":
            return _tail(file, size, len(PNG_END)) == PNG_END
        case "image/jpeg":
            return JPEG_END in _tail(file, size, JPEG_TAIL)
        case "image/gif":
            # Some encoders pad after the trailer with zero bytes.
            tail = _tail(file, size, 4096).rstrip(b"\x00")
            return bool(tail) and tail[-1] == GIF_TRAILER
        case "image/webp":
            head = file.read(12)
            if len(head) < 12 or head[:4] != b"RIFF":
                return False
            (riff_size,) = struct.unpack("<I", head[4:8])
            return size >= 8 + riff_size
    # Other types are not checked here.
    return True


def _tail(file: BinaryIO, size: int, count: int) -> bytes:
    start = max(0, size - count)
    file.seek(start, os.SEEK_SET)
    return file.read(size - start)
