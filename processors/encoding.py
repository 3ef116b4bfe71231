"""Settings every FFmpeg output shares, and the time cap checked while one is written."""

import time
from pathlib import Path

import av
import av.container

from core.probe import MediaRejected

# Per codec context: a processor runs several uploads at once, each of them gets a bounded share.
THREADS = 2
# No encoder version strings or random identifiers: the same input must give the same bytes.
CODEC_FLAGS = {"flags": "+bitexact"}
_MUXER_FLAGS = {"fflags": "+bitexact"}


def open_output(path: Path, format: str, options: dict[str, str] | None = None) -> av.container.OutputContainer:
    """`path` opened for writing by the muxer `format`, named explicitly since `path` ends in .tmp."""
    return av.open(str(path), "w", format=format, options={**_MUXER_FLAGS, **(options or {})})


def check_deadline(deadline: float, media: str) -> None:
    """MediaRejected("timed_out") once time.monotonic() has passed `deadline`."""
    if time.monotonic() > deadline:
        raise MediaRejected("timed_out", f"processing the {media} took longer than allowed", media=media)
