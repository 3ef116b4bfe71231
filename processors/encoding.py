"""Settings every FFmpeg output shares, and the time cap checked while one is written."""

import threading
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


class Stopped(Exception):
    """The processor is shutting down: the job is given back, to be done by a replica, or after a restart."""


class Deadline:
    """When a job must end: past its wall-clock cap (the media fails), or when its processor stops (the
    job is given back). Checked between packets, so neither waits for a whole transcode."""

    def __init__(self, seconds: float, stop: threading.Event | None = None) -> None:
        self._at = time.monotonic() + seconds
        self._stop = stop

    def check(self, media: str) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped(f"the processor stopped while processing the {media}")
        if time.monotonic() > self._at:
            raise MediaRejected("timed_out", f"processing the {media} took longer than allowed", media=media)
