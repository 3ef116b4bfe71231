"""The original of a video or animated GIF: H.264 yuv420p in a fast-start MP4, as every client plays it.

An MP4 that already is what we would make is remuxed with its packets untouched; anything else is
decoded one frame at a time and encoded again. Either way no tag of the upload survives.
"""

from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.filter
import pyvips

from core.probe import Header, Limits, MediaRejected
from processors.avheader import open_input, picture_stream
from processors.encoding import CODEC_FLAGS, THREADS, Deadline, open_output
from processors.stills import frame_image, packed_pixels

_MP4_OPTIONS = {"movflags": "+faststart"}
_X264_OPTIONS = {**CODEC_FLAGS, "preset": "veryfast"}
AUDIO_BITRATE = 192_000
# Transparent GIF pixels are shown over white, the page colour most GIFs were drawn against.
GIF_BACKGROUND = [255, 255, 255]


def write_video(src: Path, header: Header, limits: Limits, deadline: Deadline, out_path: Path) -> pyvips.Image | None:
    """Write the MP4 original of `src` to `out_path`; returns its first frame, None when it has none."""
    with open_input(src, header.content_type) as container:
        video = picture_stream(container, header.content_type)
        if video is None:
            raise MediaRejected("no_video_stream", "Video has no video stream", media="video")
        audio = container.streams.audio[0] if container.streams.audio and header.kind == "video" else None
        video.codec_context.thread_count = THREADS
        video.codec_context.thread_type = "AUTO"
        if _is_playable_mp4(header, video, audio, limits):
            return _remux(container, video, audio, deadline, out_path)
        return _transcode(container, video, audio, header.kind == "gifv", limits, deadline, out_path)


def _is_playable_mp4(header: Header, video: av.VideoStream, audio: av.AudioStream | None, limits: Limits) -> bool:
    context = video.codec_context
    return (
        header.content_type == "video/mp4"
        and context.name == "h264"
        and context.pix_fmt == "yuv420p"
        and context.width % 2 == 0
        and context.height % 2 == 0
        and (audio is None or audio.codec_context.name == "aac")
        # Unknown (0) is not known to be under the cap.
        and 0 < video.frames <= limits.max_frames
    )


def _remux(
    container: av.container.InputContainer,
    video: av.VideoStream,
    audio: av.AudioStream | None,
    deadline: Deadline,
    out_path: Path,
) -> pyvips.Image | None:
    first: pyvips.Image | None = None
    packets = 0
    with open_output(out_path, "mp4", _MP4_OPTIONS) as out:
        out_video = out.add_stream_from_template(video)
        out_audio = out.add_stream_from_template(audio) if audio is not None else None
        for packet in container.demux(*[s for s in (video, audio) if s is not None]):
            deadline.check("video")
            if packet.size == 0:
                continue
            if packet.is_corrupt:
                raise MediaRejected("corrupt", "the video data is truncated or corrupt", media="video")
            if packet.stream.index == video.index:
                packets += 1
                if first is None:
                    # Only until the first frame comes out: the rest is copied, not decoded.
                    first = _first_image(video.decode(packet))
                packet.stream = out_video
            elif out_audio is not None:
                packet.stream = out_audio
            out.mux(packet)
        if first is None:
            first = _first_image(video.decode(None))
    if first is None:
        raise MediaRejected("corrupt", "no frame of the video could be decoded", media="video")
    if packets < video.frames:
        raise MediaRejected("corrupt", f"the video ends after {packets} of {video.frames} frames", media="video")
    return first


def _first_image(frames: list[av.VideoFrame]) -> pyvips.Image | None:
    return frame_image(frames[0], frames[0].rotation).copy_memory() if frames else None


class _Encoder:
    """Frames in source order to H.264: rebased to start at 0, cropped to even sides, cut at the cap."""

    def __init__(self, out: av.container.OutputContainer, video: av.VideoStream, gif: bool, max_frames: int) -> None:
        context = video.codec_context
        self.width, self.height = context.width // 2 * 2, context.height // 2 * 2
        if self.width == 0 or self.height == 0:
            raise MediaRejected("corrupt", f"a video of {context.width}x{context.height} cannot be encoded")
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        # The source's time base keeps variable frame timing as it was.
        self.time_base = video.time_base or 1 / rate
        self.step = max(1, round(1 / (rate * self.time_base)))
        self.stream = out.add_stream("libx264", rate=rate, options=dict(_X264_OPTIONS))
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        self.stream.codec_context.time_base = self.time_base
        self.stream.codec_context.thread_count = THREADS
        self.out = out
        self.gif = gif
        self.max_frames = max_frames
        self.graph: av.filter.Graph | None = None
        self.shape: tuple[int, int, str] = (0, 0, "")
        self.origin: int | None = None
        self.last_pts = -1
        self.encoded = 0
        self.first: pyvips.Image | None = None

    @property
    def full(self) -> bool:
        return self.encoded >= self.max_frames

    @property
    def seconds(self) -> float:
        """Where the output video ends."""
        return float((self.last_pts + self.step) * self.time_base) if self.encoded else 0.0

    def add(self, frame: av.VideoFrame) -> None:
        if self.full:
            return
        pts = frame.pts if frame.pts is not None else self.last_pts + self.step + (self.origin or 0)
        if self.origin is None:
            self.origin = pts
        pts -= self.origin
        if pts <= self.last_pts:
            # Out-of-order or repeated timestamps cannot be muxed; such frames are dropped.
            return
        # Phones record sideways and say how to turn the picture; the output says the same.
        rotation = frame.rotation
        if self.gif:
            frame = _flatten(frame)
        if self.graph is None:
            self.graph = self._crop_graph(frame)
            if rotation:
                self.stream.set_display_rotation(rotation)
        elif (frame.width, frame.height, frame.format.name) != self.shape:
            # Streams may change size mid-way; every frame is scaled to the first one's.
            frame = frame.reformat(width=self.shape[0], height=self.shape[1], format=self.shape[2])
        if self.first is None:
            self.first = frame_image(frame, rotation).copy_memory()
        frame.pts = pts
        frame.time_base = self.time_base
        self.last_pts = pts
        self.graph.push(frame)
        self._encode(self.graph.vpull())

    def _crop_graph(self, frame: av.VideoFrame) -> av.filter.Graph:
        self.shape = (frame.width, frame.height, frame.format.name)
        graph = av.filter.Graph()
        graph.threads = THREADS
        source = graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format, time_base=self.time_base
        )
        # Cropped, not scaled: one line or column at most goes, and nothing is resampled.
        crop = graph.add("crop", f"{self.width}:{self.height}:0:0")
        convert = graph.add("format", "yuv420p")
        sink = graph.add("buffersink")
        source.link_to(crop)
        crop.link_to(convert)
        convert.link_to(sink)
        graph.configure()
        return graph

    def _encode(self, frame: av.VideoFrame) -> None:
        self.out.mux(self.stream.encode(frame))
        self.encoded += 1

    def close(self) -> None:
        self.out.mux(self.stream.encode(None))


def _flatten(frame: av.VideoFrame) -> av.VideoFrame:
    image = pyvips.Image.new_from_memory(packed_pixels(frame, "rgba", 4), frame.width, frame.height, 4, "uchar")
    opaque = image.flatten(background=GIF_BACKGROUND).cast("uchar").bandjoin(255)
    flat = av.VideoFrame.from_bytes(bytes(opaque.write_to_memory()), frame.width, frame.height, format="rgba")
    flat.pts = frame.pts
    return flat


class _AudioEncoder:
    """AAC of the first audio stream, ending where the video ends when the video was cut."""

    def __init__(self, out: av.container.OutputContainer, audio: av.AudioStream) -> None:
        context = audio.codec_context
        supported = av.codec.Codec("aac", "w").audio_rates or ()
        self.rate = context.sample_rate if context.sample_rate in supported else 48_000
        self.stream = out.add_stream("aac", rate=self.rate, options=dict(CODEC_FLAGS))
        self.stream.codec_context.bit_rate = AUDIO_BITRATE
        self.stream.codec_context.layout = "mono" if context.channels == 1 else "stereo"
        self.out = out
        self.samples = 0

    def add(self, frame: av.AudioFrame, cut: float | None) -> bool:
        """False once `cut` (seconds) is reached and no more audio is wanted."""
        if cut is not None and self.samples / self.rate >= cut:
            return False
        # Numbered by the encoder from 0: the audio starts with the video, gaps closed.
        frame.pts = None
        self.samples += round(frame.samples * self.rate / frame.sample_rate)
        self.out.mux(self.stream.encode(frame))
        return True

    def close(self) -> None:
        self.out.mux(self.stream.encode(None))


def _transcode(
    container: av.container.InputContainer,
    video: av.VideoStream,
    audio: av.AudioStream | None,
    gif: bool,
    limits: Limits,
    deadline: Deadline,
    out_path: Path,
) -> pyvips.Image | None:
    packets = 0
    with open_output(out_path, "mp4", _MP4_OPTIONS) as out:
        encoder = _Encoder(out, video, gif, limits.max_frames)
        sound = _AudioEncoder(out, audio) if audio is not None else None
        audio_open = sound is not None
        # demux() ends each stream with an empty packet, which drains its decoder.
        for packet in container.demux(*[s for s in (video, audio) if s is not None]):
            deadline.check("video")
            if packet.is_corrupt:
                raise MediaRejected("corrupt", "the video data is truncated or corrupt", media="video")
            if packet.stream.index == video.index:
                if encoder.full:
                    continue
                packets += packet.size > 0
                for frame in video.decode(packet):
                    encoder.add(frame)
            elif sound is not None and audio is not None and audio_open:
                cut = encoder.seconds if encoder.full else None
                for sample in audio.decode(packet):
                    audio_open = sound.add(sample, cut) and audio_open
            if encoder.full and not audio_open:
                break
        if encoder.encoded == 0:
            raise MediaRejected("corrupt", "no frame of the video could be decoded", media="video")
        encoder.close()
        if sound is not None:
            sound.close()
    if not encoder.full and packets < video.frames:
        raise MediaRejected("corrupt", f"the video ends after {packets} of {video.frames} frames", media="video")
    return encoder.first
