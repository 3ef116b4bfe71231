"""The original of an audio upload, an MP3 without tags, and its cover picture if it has one."""

from pathlib import Path

import av
import av.container
import pyvips

from core.probe import Header, Limits, MediaRejected
from processors.avheader import open_input
from processors.encoding import Deadline, open_output
from processors.stills import frame_image

# LAME's own scale, 0 (best) to 9: 2 is `lame -V2` and FFmpeg's `-q:a 2`, about 190 kbit/s.
VBR_QUALITY = 2
# FFmpeg's FF_QP2LAMBDA: global_quality counts in lambda units.
_QP2LAMBDA = 118
# No ID3v2 or ID3v1 tags at all: titles, comments and pictures of the upload stay out.
_MP3_OPTIONS = {"id3v2_version": "0", "write_id3v1": "0"}
# A cover is the first picture of its stream; a video in an audio file is not read to its end for one.
_COVER_PACKETS = 16


def write_audio(src: Path, header: Header, deadline: Deadline, out_path: Path) -> None:
    """Write the MP3 original of `src` to `out_path`."""
    with open_input(src, header.content_type) as container:
        if not container.streams.audio:
            raise MediaRejected("no_video_stream", "the file has no audio stream", media="audio")
        audio = container.streams.audio[0]
        with open_output(out_path, "mp3", _MP3_OPTIONS) as out:
            if header.content_type == "audio/mpeg" and audio.codec_context.name in ("mp3", "mp3float"):
                _copy(container, audio, out, deadline)
            else:
                _encode(container, audio, out, deadline)


def _copy(
    container: av.container.InputContainer,
    audio: av.AudioStream,
    out: av.container.OutputContainer,
    deadline: Deadline,
) -> None:
    stream = out.add_stream_from_template(audio)
    written = 0
    for packet in container.demux(audio):
        deadline.check("audio")
        if packet.size == 0:
            continue
        if packet.is_corrupt:
            raise MediaRejected("corrupt", "the audio data is truncated or corrupt", media="audio")
        packet.stream = stream
        out.mux(packet)
        written += 1
    if written == 0:
        raise MediaRejected("corrupt", "the file holds no audio", media="audio")


def _encode(
    container: av.container.InputContainer,
    audio: av.AudioStream,
    out: av.container.OutputContainer,
    deadline: Deadline,
) -> None:
    context = audio.codec_context
    supported = av.codec.Codec("libmp3lame", "w").audio_rates or ()
    rate = context.sample_rate if context.sample_rate in supported else 44_100
    # qscale with a global quality is how FFmpeg asks LAME for VBR instead of a constant bitrate;
    # bitexact as for every encoder (processors/encoding.py).
    options = {"flags": "+qscale+bitexact", "global_quality": str(VBR_QUALITY * _QP2LAMBDA)}
    stream = out.add_stream("libmp3lame", rate=rate, options=options)
    stream.codec_context.layout = "mono" if context.channels == 1 else "stereo"
    samples = 0
    # demux() ends with an empty packet, which drains the decoder.
    for packet in container.demux(audio):
        deadline.check("audio")
        if packet.is_corrupt:
            raise MediaRejected("corrupt", "the audio data is truncated or corrupt", media="audio")
        for frame in audio.decode(packet):
            samples += _encode_frame(out, stream, frame)
    if samples == 0:
        raise MediaRejected("corrupt", "no audio could be decoded", media="audio")
    out.mux(stream.encode(None))


def _encode_frame(out: av.container.OutputContainer, stream: av.AudioStream, frame: av.AudioFrame) -> int:
    # Numbered by the encoder: the output starts at 0 and has no gaps.
    frame.pts = None
    out.mux(stream.encode(frame))
    return frame.samples


def cover_image(src: Path, header: Header, limits: Limits, deadline: Deadline) -> pyvips.Image | None:
    """The embedded picture of an audio file; None when it has none, or one too large or broken to show."""
    with open_input(src, header.content_type) as container:
        if not container.streams.video:
            return None
        cover = container.streams.video[0]
        pixels = cover.codec_context.width * cover.codec_context.height
        if not 0 < pixels <= limits.max_pixels:
            return None
        try:
            for seen, packet in enumerate(container.demux(cover)):
                deadline.check("audio")
                frames = cover.decode(packet)
                if frames:
                    return frame_image(frames[0]).copy_memory()
                if seen >= _COVER_PACKETS:
                    break
            return None
        except (av.FFmpegError, pyvips.Error):
            # A broken cover is a missing cover: the sound is what was uploaded.
            return None
