"""An upload's header and completeness read from the bytes held in memory match those read from a file.

Uploads up to the staging spool size are never written before they are kept (store/staging.py), so the
gateway reads them from memory: every kind of file, good or refused, must be judged the same both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.completeness import check_complete
from core.probe import Header, MediaRejected
from processors.header import read_header
from tests import avsamples, images

Make = Callable[[Path], Path]

SAMPLES: dict[str, Make] = {
    "jpeg": lambda path: images.jpeg(path, 120, 80),
    "jpeg turned": lambda path: images.jpeg(path, 120, 80, orientation=6),
    "png": lambda path: images.png(path, 64, 48, alpha=True),
    "webp": lambda path: images.webp(path, 64, 48),
    "gif": lambda path: images.gif(path, 64, 48),
    "animated gif": lambda path: images.animated_gif(path, 61, 45, 4),
    "avif": lambda path: images.heif(path, 64, 48),
    "heic": lambda path: images.hevc(path, 64, 48),
    "tiff": lambda path: images.tiff(path, 32, 32),
    "truncated jpeg": lambda path: images.truncate(images.jpeg(path, 400, 300)),
    "truncated png": lambda path: images.truncate(images.png(path, 300, 200)),
    "truncated gif": lambda path: images.truncate(images.gif(path, 300, 200)),
    "truncated webp": lambda path: images.truncate(images.webp(path, 300, 200)),
    "png header only": lambda path: _written(path, images.png_header_only(5000, 5000)),
    "garbage": lambda path: _written(path, b"\x00not a picture" * 40),
    "empty": lambda path: _written(path, b""),
    "mp4": avsamples.h264_mp4,
    "webm": avsamples.vp9_webm,
    "mov": avsamples.hevc_mov,
    "truncated mp4": lambda path: images.truncate(avsamples.h264_mp4(path), 0.3),
    "empty video stream": avsamples.empty_video_stream,
    "long declared": lambda path: avsamples.long_declared(path, hours=5),
    **{f"audio {name}": make for name, make in avsamples.AUDIO.items()},
}


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _judged(read: Callable[[], Header]) -> Header | tuple[str, str]:
    try:
        return read()
    except MediaRejected as refused:
        return (refused.kind, str(refused))


@pytest.mark.parametrize("name", SAMPLES)
def test_held_bytes_are_judged_as_their_file_is(tmp_path: Path, name: str) -> None:
    path = SAMPLES[name](tmp_path / "in")
    data = path.read_bytes()
    from_file = _judged(lambda: read_header(path))
    assert _judged(lambda: read_header(data)) == from_file
    if isinstance(from_file, Header):
        complete = _judged(lambda: (check_complete(path, from_file.content_type), from_file)[1])
        assert _judged(lambda: (check_complete(data, from_file.content_type), from_file)[1]) == complete


def test_a_cut_image_is_incomplete_from_memory_too(tmp_path: Path) -> None:
    whole = images.png(tmp_path / "whole.png", 300, 200).read_bytes()
    check_complete(whole, "image/png")
    with pytest.raises(MediaRejected) as refused:
        check_complete(whole[:-12], "image/png")
    assert refused.value.kind == "corrupt"
