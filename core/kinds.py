"""The kinds of media the pipeline moves, and which processor consumer each goes to.

A kind is decided from the bytes (core/sniff.py and the header readers), never from what a client
says. Animated GIFs are processed like video, into a silent MP4 (Mastodon's "gifv").
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["image", "gifv", "video", "audio"]
KINDS: tuple[Kind, ...] = ("image", "gifv", "video", "audio")

# What `mediaplex processor --media` takes: each names one durable consumer; gifv is video work.
Lane = Literal["image", "video", "audio"]
LANES: tuple[Lane, ...] = ("image", "video", "audio")

# Containers sniffed from their first bytes; whether one holds video or only audio is read from its streams.
VIDEO_CONTAINERS: frozenset[str] = frozenset(
    {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/ogg"}
)
AUDIO_CONTAINERS: frozenset[str] = frozenset(
    {"audio/mpeg", "audio/ogg", "audio/wav", "audio/flac", "audio/mp4", "audio/aac"}
)
AV_CONTAINERS: frozenset[str] = VIDEO_CONTAINERS | AUDIO_CONTAINERS


def kind_of_type(content_type: str) -> Kind:
    """The kind a declared or sniffed type suggests before its streams are read: a container that can
    hold video counts as video."""
    if content_type in VIDEO_CONTAINERS:
        return "video"
    if content_type in AUDIO_CONTAINERS:
        return "audio"
    return "image"


def lane_of(kind: str) -> Lane:
    """The consumer that processes `kind`; anything unknown (an older event's "") is an image."""
    if kind in ("video", "gifv"):
        return "video"
    if kind == "audio":
        return "audio"
    return "image"


def is_played(kind: str) -> bool:
    """Video or audio proper: the size limits, previews and grants of those. An animated GIF is
    taken and sized as the image it was sent as, however it is processed."""
    return kind in ("video", "audio")


def is_av(kind: str) -> bool:
    """Processed with FFmpeg rather than libvips."""
    return lane_of(kind) != "image"
