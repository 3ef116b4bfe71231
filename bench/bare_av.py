"""The reference for video processing: a plain PyAV transcode to what processors/video.py makes, nothing else.

The same output as the video lane's transcode: H.264 (libx264, preset veryfast) in yuv420p cropped to
even sides, AAC at 192 kbit/s, a fast-start MP4, bit-exact flags, 2 threads per codec context and in
the filter graph. No sniffing, header checks, limits, deadlines, temporary names, stills, read-back
of the output or event log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter

THREADS = 2
X264 = {"flags": "+bitexact", "preset": "veryfast"}
AAC_BITRATE = 192_000


@dataclass(frozen=True)
class Made:
    frames: int
    width: int
    height: int
    sha256: str


def transcode(src: Path, out_path: Path) -> None:
    """Write the MP4 of `src` (its first video and audio streams) to `out_path`."""
    with av.open(str(src)) as container, av.open(
        str(out_path), "w", format="mp4", options={"fflags": "+bitexact", "movflags": "+faststart"}
    ) as out:
        video = container.streams.video[0]
        video.codec_context.thread_count = THREADS
        video.codec_context.thread_type = "AUTO"
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.codec_context.width // 2 * 2, video.codec_context.height // 2 * 2
        time_base = video.time_base or 1 / (video.average_rate or Fraction(30))
        stream = out.add_stream("libx264", rate=video.average_rate or video.guessed_rate, options=dict(X264))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.codec_context.thread_count = THREADS
        sound = None
        if audio is not None:
            rates = av.codec.Codec("aac", "w").audio_rates or ()
            rate = audio.codec_context.sample_rate if audio.codec_context.sample_rate in rates else 48_000
            sound = out.add_stream("aac", rate=rate, options={"flags": "+bitexact"})
            sound.codec_context.bit_rate = AAC_BITRATE
            sound.codec_context.layout = "mono" if audio.codec_context.channels == 1 else "stereo"
        graph: av.filter.Graph | None = None
        origin: int | None = None
        for packet in container.demux(*[s for s in (video, audio) if s is not None]):
            if packet.stream.index == video.index:
                for frame in video.decode(packet):
                    if graph is None:
                        graph = av.filter.Graph()
                        graph.threads = THREADS
                        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                                  time_base=time_base)
                        crop = graph.add("crop", f"{width}:{height}:0:0")
                        convert = graph.add("format", "yuv420p")
                        sink = graph.add("buffersink")
                        source.link_to(crop)
                        crop.link_to(convert)
                        convert.link_to(sink)
                        graph.configure()
                    pts = frame.pts or 0
                    origin = pts if origin is None else origin
                    frame.pts = pts - origin
                    frame.time_base = time_base
                    graph.push(frame)
                    out.mux(stream.encode(graph.vpull()))
            elif sound is not None and audio is not None:
                for samples in audio.decode(packet):
                    samples.pts = None
                    out.mux(sound.encode(samples))
        out.mux(stream.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))


def describe(path: Path) -> Made:
    """Frames, size and digest of a written MP4."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for packet in container.demux(video) if packet.size)
        width, height = video.codec_context.width, video.codec_context.height
    return Made(frames, width, height, hashlib.sha256(path.read_bytes()).hexdigest())
