"""One upload's renditions, by its kind: libvips for images, FFmpeg (PyAV) for video, gifv and audio.

The processor and the re-rendering of missing files both come here, so a rendition is the same
function of (blob, kind, processing version) whoever makes it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from core.kinds import is_av
from core.probe import Limits, check_limits
from processors.av import process_av
from processors.encoding import Deadline
from processors.header import read_header
from processors.imaging import process
from processors.rendered import Rendered


def render(src: Path, out_dir: Path, kind: str, limits: Limits, seconds: float,
           stop: threading.Event | None = None) -> Rendered:
    """Write the renditions of the `kind` upload at `src` into `out_dir`; video and audio work stops
    with MediaRejected("timed_out") once it has taken `seconds`, and with Stopped once `stop` is set.

    An upload taken before video was (an animated GIF kept as a GIF, say) is an image, and stays one.
    """
    if not is_av(kind):
        done = process(src, out_dir, limits)
        return Rendered(kind="image", renditions=(done.original, done.small, done.thumb), blurhash=done.blurhash)
    deadline = Deadline(seconds, stop)
    header = read_header(src)
    check_limits(header, limits)
    return process_av(src, out_dir, header, limits, deadline)
