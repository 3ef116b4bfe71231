"""What an upload may be: the limits on its header and the refusal that names why it is refused.

Pure data and checks; reading a header takes libvips and lives with the media code
(processors/header.py). Gateways check before an upload is stored; processors again before work.
"""

from fractions import Fraction
from typing import Literal

import msgspec

RejectKind = Literal[
    "unidentified", "unsupported", "too_many_pixels", "corrupt",
    # Video and audio: a frame rate above the limit, a video container with no stream to play,
    # a declared duration or stream count past the limits, processing past its time cap.
    "frame_rate", "no_video_stream", "too_long", "too_many_streams", "timed_out",
]


class Limits(msgspec.Struct, frozen=True):
    max_pixels: int = 33_177_600
    # Per frame of an animated GIF (Mastodon's rule).
    max_gif_pixels: int = 921_600
    # Across all frames of an animated GIF: every frame is decoded at the full canvas, so this is
    # what one GIF costs a processor (seconds of a core per 100,000,000 px), however small its file.
    max_animation_pixels: int = 100_000_000
    # None: only the area counts (Mastodon's rule); a long thin strip is as costly as a square.
    max_side: int | None = None
    # Video (Mastodon's video_matrix_limit and video_frame_rate_limit); longer videos are cut at max_frames.
    max_video_pixels: int = 8_294_400
    max_frame_rate: float = 120.0
    max_frames: int = 36_000
    # Declared in the container and checked before anything is decoded.
    max_duration: float = 6 * 3600.0
    max_streams: int = 16


def widest(*limits: Limits) -> Limits:
    """Limits that pass whatever any of `limits` passes: a processor must not fail media a gateway accepted."""
    sides = [lim.max_side for lim in limits]
    return Limits(
        max_pixels=max(lim.max_pixels for lim in limits),
        max_gif_pixels=max(lim.max_gif_pixels for lim in limits),
        max_animation_pixels=max(lim.max_animation_pixels for lim in limits),
        max_side=None if None in sides else max(side for side in sides if side is not None),
        max_video_pixels=max(lim.max_video_pixels for lim in limits),
        max_frame_rate=max(lim.max_frame_rate for lim in limits),
        max_frames=max(lim.max_frames for lim in limits),
        max_duration=max(lim.max_duration for lim in limits),
        max_streams=max(lim.max_streams for lim in limits),
    )


class Header(msgspec.Struct, frozen=True):
    """What an upload claims to be; width and height are as displayed, i.e. after EXIF rotation.

    For video and audio, what the container declares: 0 x 0 for audio, `frames` as declared (0 when
    it does not say), `duration` in seconds, `frame_rate` as a ratio like "30/1", `bitrate` in bit/s.
    """

    content_type: str
    width: int
    height: int
    frames: int
    kind: str = "image"
    duration: float = 0.0
    frame_rate: str = ""
    bitrate: int = 0
    # Streams in the container, of any type; 0 for images.
    streams: int = 0


class MediaRejected(Exception):
    """An upload that will not be processed; ``kind`` says why, ``str(e)`` says it to a human."""

    def __init__(
        self,
        kind: RejectKind,
        message: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        media: str = "image",
        frame_rate: float | None = None,
    ) -> None:
        super().__init__(message or _default_message(kind))
        self.kind: RejectKind = kind
        self.width = width
        self.height = height
        # The kind of media refused ("image", "video", ...), for protocols whose texts name it.
        self.media = media
        self.frame_rate = frame_rate

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments would otherwise be lost when the error crosses a process boundary.
        return (_rebuild_rejection, (self.kind, str(self), self.width, self.height, self.media, self.frame_rate))


def _default_message(kind: RejectKind) -> str:
    match kind:
        case "unidentified":
            return "the file type could not be identified"
        case "unsupported":
            return "the file type is not a supported image type"
        case "too_many_pixels":
            return "the image has too many pixels"
        case "corrupt":
            return "the image data is truncated or corrupt"
        case "frame_rate":
            return "the video's frame rate is above the limit"
        case "no_video_stream":
            return "the file has no video or audio stream"
        case "too_long":
            return "the file declares a longer duration than allowed"
        case "too_many_streams":
            return "the file has more streams than allowed"
        case "timed_out":
            return "processing took longer than allowed"


def _rebuild_rejection(
    kind: RejectKind, message: str, width: int | None, height: int | None, media: str, frame_rate: float | None
) -> MediaRejected:
    return MediaRejected(kind, message, width=width, height=height, media=media, frame_rate=frame_rate)


def check_limits(header: Header, limits: Limits) -> None:
    """MediaRejected when `header` claims more than `limits` allow; nothing is decoded."""
    if header.kind in ("video", "gifv", "audio"):
        _check_av_limits(header, limits)
    if header.kind in ("video", "audio"):
        return
    # Images, and animated GIFs, which are decoded by libvips' rules whatever they become.
    animated = is_animated(header)
    limit = limits.max_gif_pixels if animated else limits.max_pixels
    pixels = header.width * header.height
    if pixels > limit:
        what = "animated GIF" if animated else "image"
        raise MediaRejected(
            "too_many_pixels",
            f"{what} of {header.width}x{header.height} ({pixels:,} px) exceeds the limit of {limit:,} px",
            width=header.width,
            height=header.height,
        )
    if animated and pixels * header.frames > limits.max_animation_pixels:
        raise MediaRejected(
            "too_many_pixels",
            f"animated GIF of {header.frames} frames of {header.width}x{header.height}"
            f" ({pixels * header.frames:,} px in all) exceeds the limit of {limits.max_animation_pixels:,} px"
            " across its frames",
            width=header.width,
            height=header.height,
        )
    side = max(header.width, header.height)
    if limits.max_side is not None and side > limits.max_side:
        raise MediaRejected(
            "too_many_pixels",
            f"image of {header.width}x{header.height} exceeds the limit of {limits.max_side:,} px per side",
            width=header.width,
            height=header.height,
        )


def is_animated(header: Header) -> bool:
    # Only GIF animation is preserved; other multi-image formats (animated WebP, HEIF
    # collections) are reduced to their primary image like any still.
    return header.content_type == "image/gif" and header.frames > 1


def _check_av_limits(header: Header, limits: Limits) -> None:
    if header.streams > limits.max_streams:
        raise MediaRejected(
            "too_many_streams",
            f"the file has {header.streams} streams; at most {limits.max_streams} are allowed",
            media=header.kind,
        )
    if header.duration > limits.max_duration:
        raise MediaRejected(
            "too_long",
            f"the file declares {header.duration:,.0f} s; at most {limits.max_duration:,.0f} s are allowed",
            media=header.kind,
        )
    if header.kind != "video":
        return
    pixels = header.width * header.height
    if pixels > limits.max_video_pixels:
        raise MediaRejected(
            "too_many_pixels",
            f"video of {header.width}x{header.height} ({pixels:,} px)"
            f" exceeds the limit of {limits.max_video_pixels:,} px",
            width=header.width,
            height=header.height,
            media="video",
        )
    rate = frame_rate(header.frame_rate)
    if rate > limits.max_frame_rate:
        raise MediaRejected(
            "frame_rate",
            f"video of {float(rate):g} frames per second exceeds the limit of {limits.max_frame_rate:g}",
            media="video",
            frame_rate=float(rate),
        )


def frame_rate(ratio: str) -> Fraction:
    """The rate a ratio like "30000/1001" names; 0 when it names none (missing, malformed or dividing by 0)."""
    try:
        return Fraction(ratio) if ratio else Fraction(0)
    except (ValueError, ZeroDivisionError):
        return Fraction(0)
