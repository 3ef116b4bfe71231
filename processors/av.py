"""Video, animated GIF and audio uploads turned into their renditions: an MP4 or MP3 original, and stills.

Synchronous and CPU-bound like processors/imaging.py; callers run `process_av` in a worker thread.
The files appear together or not at all, written to temporaries in `out_dir` and renamed at the end.
"""

import os
from pathlib import Path

import av
import pyvips

from core.events import MediaMeta
from core.probe import Header, Limits, MediaRejected
from processors.audio import cover_image, write_audio
from processors.avheader import open_input, ratio
from processors.encoding import THREADS, Deadline
from processors.imaging import Rendition, extension, temporary
from processors.rendered import Rendered
from processors.stills import write_stills
from processors.video import write_video


def process_av(src: Path, out_dir: Path, header: Header, limits: Limits, deadline: Deadline) -> Rendered:
    """Write `out_dir/original.{mp4,mp3}` and, given a picture, `small.png` and `thumb.png`.

    `header` is read_header's for `src`, already checked against `limits`; past `deadline` the work is
    given up (MediaRejected("timed_out"), or Stopped when the processor stops).
    """
    media = "audio" if header.kind == "audio" else "video"
    original_type = "audio/mpeg" if media == "audio" else "video/mp4"
    out_dir.mkdir(parents=True, exist_ok=True)
    temporaries: list[Path] = []
    try:
        deadline.check(media)
        original_tmp = temporary(out_dir, "original", temporaries)
        if media == "audio":
            write_audio(src, header, deadline, original_tmp)
            picture = cover_image(src, header, limits, deadline)
        else:
            picture = write_video(src, header, limits, deadline, original_tmp)
        meta = _meta(original_tmp, original_type)
        original = Rendition(
            style="original", width=meta.width, height=meta.height,
            content_type=original_type, size=original_tmp.stat().st_size,
        )
        renditions = [original]
        blurhash = ""
        files = [(original_tmp, f"original.{extension(original_type)}")]
        if picture is not None:
            deadline.check(media)
            stills = write_stills(picture, out_dir, temporaries)
            renditions += [stills.small, stills.thumb]
            blurhash = stills.blurhash
            files += stills.files
        deadline.check(media)
        for temporary_path, name in files:
            os.replace(temporary_path, out_dir / name)
    except av.FFmpegError as error:
        raise MediaRejected("corrupt", f"the {media} cannot be processed: {error}", media=media) from error
    except pyvips.Error as error:
        raise MediaRejected("corrupt", f"the first frame cannot be rendered: {error}", media=media) from error
    finally:
        for temporary_path in temporaries:
            temporary_path.unlink(missing_ok=True)
    return Rendered(kind=header.kind, renditions=tuple(renditions), blurhash=blurhash, meta=meta)


def _meta(path: Path, content_type: str) -> MediaMeta:
    """What the written original is, read back from it."""
    with open_input(path, content_type) as container:
        duration = container.duration / av.time_base if container.duration else 0.0
        bitrate = round(path.stat().st_size * 8 / duration) if duration > 0 else 0
        if not container.streams.video:
            return MediaMeta(duration=round(duration, 2), bitrate=bitrate)
        video = container.streams.video[0]
        video.codec_context.thread_count = THREADS
        width, height = video.codec_context.width, video.codec_context.height
        # The rotation is only told with decoded frames; clients want the size as shown.
        first = next(container.decode(video), None)
        if first is not None and first.rotation % 180:
            width, height = height, width
        return MediaMeta(
            width=width,
            height=height,
            # FFmpeg's guess snaps an average thrown off by rounded timestamps back to the nominal rate.
            frame_rate=ratio(video.guessed_rate or video.average_rate),
            duration=round(duration, 2),
            bitrate=bitrate,
        )
