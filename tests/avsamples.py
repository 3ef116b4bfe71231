"""Video and audio samples written with PyAV at test time: short, small, and the same bytes on every call."""

import math
import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.stream
import pyvips

from tests import images

BITEXACT = {"fflags": "+bitexact"}
CODEC_BITEXACT = {"flags": "+bitexact"}


def _rgb_frame(width: int, height: int, seed: int) -> av.VideoFrame:
    return _frame(images.pattern(width, height, seed))


def _frame(image: pyvips.Image) -> av.VideoFrame:
    # PyAV builds frames from packed bytes only as RGBA.
    data = bytes(image.bandjoin(255).write_to_memory())
    return av.VideoFrame.from_bytes(data, image.width, image.height, format="rgba")


def _tone(samples: int, rate: int, start: int, channels: int = 2) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="stereo" if channels == 2 else "mono", samples=samples)
    frame.sample_rate = rate
    values = [int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate)) for i in range(samples)]
    frame.planes[0].update(b"".join(struct.pack("<h", v) * channels for v in values))
    frame.pts = start
    frame.time_base = Fraction(1, rate)
    return frame


def _add_audio(container: av.container.OutputContainer, codec: str, rate: int = 48_000) -> av.AudioStream:
    stream = container.add_stream(codec, rate=rate, options=dict(CODEC_BITEXACT))
    stream.layout = "stereo"
    if codec == "vorbis":
        # FFmpeg's own Vorbis encoder is marked experimental.
        stream.codec_context.options = {**CODEC_BITEXACT, "strict": "experimental"}
    return stream


def _write_audio(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    total = int(seconds * rate)
    for start in range(0, total, 1024):
        container.mux(stream.encode(_tone(min(1024, total - start), rate, start)))
    container.mux(stream.encode(None))


def video(
    path: Path,
    *,
    format: str = "mp4",
    codec: str = "libx264",
    width: int = 96,
    height: int = 64,
    pix_fmt: str = "yuv420p",
    rate: int = 24,
    frames: int = 24,
    audio: str | None = "aac",
    options: dict[str, str] | None = None,
    codec_options: dict[str, str] | None = None,
    flat: bool = False,
    rotation: int = 0,
) -> Path:
    """A video of `frames` frames of a moving pattern (a flat colour when `flat`), with a tone when `audio`."""
    with av.open(str(path), "w", format=format, options={**BITEXACT, **(options or {})}) as out:
        stream = out.add_stream(codec, rate=rate, options={**CODEC_BITEXACT, **(codec_options or {})})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.thread_count = 1
        if rotation:
            # Counter-clockwise, as phones that record sideways write it.
            stream.set_display_rotation(rotation)
        sound = _add_audio(out, audio) if audio else None
        for i in range(frames):
            frame = _frame(images.solid(width, height)) if flat else _rgb_frame(width, height, i)
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            _write_audio(out, sound, frames / rate)
    return path


def h264_mp4(path: Path, **kwargs: Any) -> Path:
    """H.264 yuv420p with AAC in MP4: what is passed through as is."""
    return video(path, options={"movflags": "+faststart"}, **kwargs)


def vp9_webm(path: Path, **kwargs: Any) -> Path:
    fast = {"deadline": "realtime", "cpu-used": "8"}
    return video(path, format="webm", codec="libvpx-vp9", audio="libopus", codec_options=fast, **kwargs)


def hevc_mov(path: Path) -> Path:
    fast = {"preset": "ultrafast", "x265-params": "log-level=0"}
    return video(path, format="mov", codec="libx265", codec_options=fast)


def prores_mov(path: Path) -> Path:
    return video(path, format="mov", codec="prores_ks", pix_fmt="yuv422p10le", audio=None, frames=6)


def audio(path: Path, *, format: str, codec: str, seconds: float = 1.0, rate: int = 48_000) -> Path:
    with av.open(str(path), "w", format=format, options=dict(BITEXACT)) as out:
        _write_audio(out, _add_audio(out, codec, rate), seconds)
    return path


def mp3(path: Path, *, cover: tuple[int, int] | None = None, seconds: float = 1.0) -> Path:
    """A CBR MP3 with ID3 tags, and a PNG cover of `cover` = (width, height) as an attached picture."""
    with av.open(str(path), "w", format="mp3", options=dict(BITEXACT)) as out:
        out.metadata["title"] = "A tone"
        sound = out.add_stream("libmp3lame", rate=44_100, options={**CODEC_BITEXACT, "b": "128k"})
        sound.layout = "stereo"
        if cover is not None:
            picture = out.add_stream("png")
            picture.width, picture.height, picture.pix_fmt = cover[0], cover[1], "rgb24"
            picture.disposition = av.stream.Disposition.attached_pic
            out.mux(picture.encode(_rgb_frame(cover[0], cover[1], 7)))
            out.mux(picture.encode(None))
        _write_audio(out, sound, seconds)
    return path


def streams(path: Path, count: int) -> Path:
    """A Matroska file of `count` short FLAC streams."""
    with av.open(str(path), "w", format="matroska", options=dict(BITEXACT)) as out:
        tracks = [_add_audio(out, "flac", 8000) for _ in range(count)]
        for track in tracks:
            out.mux(track.encode(_tone(256, 8000, 0)))
            out.mux(track.encode(None))
    return path


def long_declared(path: Path, hours: float) -> Path:
    """A Matroska file of two tiny frames `hours` apart: a few KB that claim to last hours."""
    with av.open(str(path), "w", format="matroska", options=dict(BITEXACT)) as out:
        stream = out.add_stream("libx264", rate=1, options=dict(CODEC_BITEXACT))
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts in (0, int(hours * 3600 * 1000)):
            frame = _rgb_frame(32, 32, pts % 7)
            frame.pts = pts
            frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def empty_video_stream(path: Path) -> Path:
    """An MP4 whose one video stream has no frames at all."""
    with av.open(str(path), "w", format="mp4", options=dict(BITEXACT)) as out:
        stream = out.add_stream("libx264", rate=24, options=dict(CODEC_BITEXACT))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        # Nothing is muxed, so the header would otherwise never be written.
        out.start_encoding()
    return path


def video_packets(path: Path) -> list[bytes]:
    """The payload of every video packet, in file order."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


Maker = Callable[[Path], Path]

AUDIO: dict[str, Maker] = {
    "opus": lambda path: audio(path, format="ogg", codec="libopus"),
    "vorbis": lambda path: audio(path, format="ogg", codec="vorbis", rate=44_100),
    "flac": lambda path: audio(path, format="flac", codec="flac"),
    "wav": lambda path: audio(path, format="wav", codec="pcm_s16le"),
    "m4a": lambda path: audio(path, format="ipod", codec="aac"),
    "adts": lambda path: audio(path, format="adts", codec="aac"),
    "mp3": mp3,
    "mp3 with cover": lambda path: mp3(path, cover=(120, 90)),
}
