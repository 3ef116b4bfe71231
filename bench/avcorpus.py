"""Video inputs for the video and audio measurements, written with PyAV on the spot, the same bytes every call.

Frames pan across a noisy photograph-like texture with a little fresh noise on top, so motion search
and the entropy coder work about as hard as on camera footage; a tone plays along. Encoders run with
bit-exact flags and a fixed thread count, so a second call writes the same file.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import pyvips

from bench import corpus

RATE = 30
AUDIO_RATE = 48_000
AUDIO_CHUNK = 1024
# How far the picture pans, and how far the noise layer jumps, between frames.
PAN = 64
JUMP = 192
BITEXACT = {"fflags": "+bitexact"}
CODEC_BITEXACT = {"flags": "+bitexact"}


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    frames: int
    width: int
    height: int


@dataclass(frozen=True)
class Codec:
    format: str
    video: str
    pix_fmt: str
    audio: str
    options: dict[str, str]


VP9_WEBM = Codec("webm", "libvpx-vp9", "yuv420p", "libopus", {"deadline": "realtime", "cpu-used": "8"})
# 4:4:4 chroma, which no browser plays: always transcoded.
H264_444_MP4 = Codec("mp4", "libx264", "yuv444p", "aac", {"preset": "ultrafast", "crf": "20"})


def _frames(width: int, height: int, count: int, sigma: float) -> Iterator[av.VideoFrame]:
    texture = corpus.photo(width + PAN, height + PAN, 5).copy_memory()
    noise = pyvips.Image.gaussnoise(width + JUMP, height + JUMP, mean=0, sigma=sigma, seed=7).copy_memory()
    for i in range(count):
        picture = texture.crop((3 * i) % PAN, (2 * i) % PAN, width, height)
        grain = noise.crop((37 * i) % JUMP, (53 * i) % JUMP, width, height)
        image = (picture + grain).cast("uchar")
        # PyAV builds frames from packed bytes only as RGBA.
        frame = av.VideoFrame.from_bytes(bytes(image.bandjoin(255).write_to_memory()), width, height,
                                         format="rgba")
        frame.pts = i
        frame.time_base = Fraction(1, RATE)
        yield frame


def _tone_chunk() -> bytes:
    # 468.75 Hz: a whole number of periods in every chunk, so one chunk repeats without a click.
    values = (int(8000 * math.sin(2 * math.pi * 10 * i / AUDIO_CHUNK)) for i in range(AUDIO_CHUNK))
    return b"".join(struct.pack("<h", v) * 2 for v in values)


class _Tone:
    """A stereo tone encoded alongside the video, up to wherever the video has got to."""

    def __init__(self, out: av.container.OutputContainer, codec: str) -> None:
        stream = out.add_stream(codec, rate=AUDIO_RATE, options=dict(CODEC_BITEXACT))
        if not isinstance(stream, av.AudioStream):
            raise TypeError(f"{codec} is not an audio encoder")
        self.stream = stream
        self.stream.layout = "stereo"
        self.out = out
        self.chunk = _tone_chunk()
        self.samples = 0

    def until(self, seconds: float) -> None:
        while self.samples + AUDIO_CHUNK <= seconds * AUDIO_RATE:
            frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_CHUNK)
            frame.sample_rate = AUDIO_RATE
            frame.planes[0].update(self.chunk)
            frame.pts = self.samples
            frame.time_base = Fraction(1, AUDIO_RATE)
            self.out.mux(self.stream.encode(frame))
            self.samples += AUDIO_CHUNK

    def close(self) -> None:
        self.out.mux(self.stream.encode(None))


def clip(path: Path, codec: Codec, width: int, height: int, frames: int, *, sigma: float = 3.0,
         max_bytes: int | None = None, label: str = "") -> Clip:
    """`frames` frames of `width` x `height` at 30 fps with a stereo tone; with `max_bytes`, fewer once the
    video reaches that size."""
    with av.open(str(path), "w", format=codec.format,
                 options={**BITEXACT, **({"movflags": "+faststart"} if codec.format == "mp4" else {})}) as out:
        stream = out.add_stream(codec.video, rate=RATE, options={**CODEC_BITEXACT, **codec.options})
        if not isinstance(stream, av.VideoStream):
            raise TypeError(f"{codec.video} is not a video encoder")
        stream.width, stream.height, stream.pix_fmt = width, height, codec.pix_fmt
        stream.codec_context.thread_count = 2
        tone = _Tone(out, codec.audio)
        size = 0
        written = 0
        for frame in _frames(width, height, frames, sigma):
            for packet in stream.encode(frame):
                size += packet.size
                out.mux(packet)
            written += 1
            tone.until(written / RATE)
            if max_bytes is not None and size >= max_bytes:
                break
        out.mux(stream.encode(None))
        tone.close()
    return Clip(path, label or f"{width}x{height} {codec.video} {codec.pix_fmt}", written, width, height)


def as_mov(src: Path, path: Path) -> Path:
    """The streams of `src` copied untouched into a QuickTime file: the same pictures, not passed through."""
    with av.open(str(src)) as container, av.open(str(path), "w", format="mov", options=dict(BITEXACT)) as out:
        copies = {stream.index: out.add_stream_from_template(stream) for stream in container.streams}
        for packet in container.demux():
            if packet.size == 0:
                continue
            packet.stream = copies[packet.stream.index]
            out.mux(packet)
    return path
