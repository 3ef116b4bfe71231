"""What a video or audio upload declares, read by FFmpeg's demuxers (through PyAV) without decoding it.

The demuxer is chosen from our own sniff, never guessed by FFmpeg, and probing is bounded: a stream
whose parameters are not in the container headers is given up on rather than decoded at length.
"""

import io
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.stream

from core.kinds import AUDIO_CONTAINERS
from core.probe import Header, MediaRejected

# Bytes and microseconds FFmpeg may read looking for stream parameters the headers do not give.
PROBE_SIZE = 1 << 20
ANALYZE_DURATION = 1_000_000


def demuxer(content_type: str) -> str:
    """The FFmpeg demuxer for a sniffed type (core/sniff.py)."""
    match content_type:
        case "video/mp4" | "video/quicktime" | "audio/mp4":
            return "mov"
        case "video/webm" | "video/x-matroska":
            return "matroska"
        case "video/ogg" | "audio/ogg":
            return "ogg"
        case "audio/mpeg":
            return "mp3"
        case "audio/wav":
            return "wav"
        case "audio/flac":
            return "flac"
        case "audio/aac":
            return "aac"
        case "image/gif":
            return "gif"
    raise ValueError(f"no demuxer for {content_type}")


def open_input(source: Path | bytes, content_type: str) -> av.container.InputContainer:
    """A file, or bytes held in memory, opened with the demuxer for `content_type`; FFmpeg errors are
    left to the caller."""
    return av.open(
        io.BytesIO(source) if isinstance(source, bytes) else str(source),
        "r",
        format=demuxer(content_type),
        container_options={"probesize": str(PROBE_SIZE), "analyzeduration": str(ANALYZE_DURATION)},
        # Tags are dropped from every output; undecodable ones must not fail the upload.
        metadata_errors="replace",
    )


def is_cover(stream: av.stream.Stream) -> bool:
    """An embedded picture (album art) rather than a video track."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def picture_stream(container: av.container.InputContainer, content_type: str) -> av.VideoStream | None:
    """The video track that is played, or None when there is none (audio, maybe with a cover)."""
    if content_type in AUDIO_CONTAINERS and container.streams.audio:
        # A video stream in an audio file is its cover, whatever its disposition says.
        return None
    return next((stream for stream in container.streams.video if not is_cover(stream)), None)


def read_av_header(source: Path | bytes, content_type: str) -> Header:
    """The header of a sniffed video or audio container; MediaRejected("corrupt") when FFmpeg cannot read it."""
    try:
        with open_input(source, content_type) as container:
            return _header(container, content_type)
    except MediaRejected:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as error:
        raise MediaRejected("corrupt", f"the file cannot be read: {error}", media=_media(content_type)) from error


def _media(content_type: str) -> str:
    return "audio" if content_type in AUDIO_CONTAINERS else "video"


def _header(container: av.container.InputContainer, content_type: str) -> Header:
    streams = len(container.streams)
    duration = _duration(container)
    bitrate = max(container.bit_rate or 0, 0)
    video = picture_stream(container, content_type)
    if video is None:
        if not container.streams.audio:
            raise MediaRejected("no_video_stream", "Video has no video stream", media="video")
        return Header(
            content_type=content_type, width=0, height=0, frames=0, kind="audio",
            duration=duration, bitrate=bitrate, streams=streams,
        )
    width, height = video.codec_context.width, video.codec_context.height
    if width <= 0 or height <= 0:
        raise MediaRejected("corrupt", "the video stream has no picture size", media="video")
    return Header(
        content_type=content_type,
        width=width,
        height=height,
        frames=max(video.frames, 0),
        kind="video",
        duration=duration,
        frame_rate=ratio(video.average_rate or video.guessed_rate),
        bitrate=bitrate,
        streams=streams,
    )


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    longest = 0.0
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest


def ratio(rate: Fraction | None) -> str:
    """A frame rate as "num/den", "" when unknown."""
    if rate is None or rate <= 0:
        return ""
    return f"{rate.numerator}/{rate.denominator}"
