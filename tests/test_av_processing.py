"""Video, animated GIF and audio processing, checked by decoding what was written with PyAV and libvips."""

import threading
from pathlib import Path

import av
import blurhash
import pytest
import pyvips

from core.events import MediaMeta
from core.probe import Limits, MediaRejected
from processors.av import process_av
from processors.encoding import Deadline, Stopped
from processors.header import read_header
from processors.rendered import Rendered
from tests import avsamples, images

LIMITS = Limits()


def run(src: Path, out_dir: Path, limits: Limits = LIMITS) -> Rendered:
    return process_av(src, out_dir, read_header(src), limits, Deadline(60))


def listing(out_dir: Path) -> list[str]:
    return sorted(path.name for path in out_dir.iterdir())


def streams(path: Path) -> list[tuple[str, str, str]]:
    """(type, codec, pixel format or sample layout) of each stream."""
    with av.open(str(path)) as container:
        return [
            (s.type, s.codec_context.name, s.codec_context.pix_fmt or "" if s.type == "video" else s.layout.name)
            for s in container.streams
        ]


def decoded_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.duration is not None
        return container.duration / av.time_base


def check_video(processed: Rendered, out_dir: Path, size: tuple[int, int], frames: int, audio: bool) -> None:
    original = out_dir / "original.mp4"
    expected = [("video", "h264", "yuv420p")] + ([("audio", "aac", "stereo")] if audio else [])
    assert streams(original) == expected
    decoded = decoded_frames(original)
    assert len(decoded) == frames
    assert {(frame.width, frame.height) for frame in decoded} == {size}
    assert processed.kind in ("video", "gifv")
    assert processed.renditions[0].style == "original"
    assert (processed.renditions[0].width, processed.renditions[0].height) == size
    assert processed.renditions[0].size == original.stat().st_size
    assert (processed.meta.width, processed.meta.height) == size
    assert processed.meta.duration == round(duration(original), 2)
    assert processed.meta.bitrate == round(original.stat().st_size * 8 / duration(original))
    assert listing(out_dir) == ["original.mp4", "small.png", "thumb.png"]
    assert blurhash.is_valid_blurhash(processed.blurhash)


def test_h264_mp4_is_passed_through(tmp_path: Path) -> None:
    src = avsamples.h264_mp4(tmp_path / "in")
    processed = run(src, tmp_path / "out")
    original = tmp_path / "out" / "original.mp4"
    check_video(processed, tmp_path / "out", (96, 64), 24, audio=True)
    assert avsamples.video_packets(original) == avsamples.video_packets(src)
    assert processed.meta == MediaMeta(
        width=96, height=64, frame_rate="24/1", duration=1.0, bitrate=processed.meta.bitrate
    )
    data = original.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "not fast-start"


def test_tags_are_dropped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    plain = avsamples.h264_mp4(tmp_path / "plain")
    with av.open(str(plain), "r") as source, av.open(str(src), "w", format="mp4") as out:
        out.metadata["title"] = "Secret place"
        out.metadata["location"] = "+48.8577+002.2950/"
        copy = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.size:
                packet.stream = copy
                out.mux(packet)
    assert b"Secret place" in src.read_bytes()
    run(src, tmp_path / "out")
    written = (tmp_path / "out" / "original.mp4").read_bytes()
    assert b"Secret place" not in written
    assert b"+48.8577" not in written


@pytest.mark.parametrize(
    ("make", "size", "audio"),
    [
        (lambda p: avsamples.video(p, width=63, height=47, pix_fmt="yuv444p"), (62, 46), True),
        (lambda p: avsamples.video(p, pix_fmt="yuv444p"), (96, 64), True),
        (avsamples.vp9_webm, (96, 64), True),
        (avsamples.hevc_mov, (96, 64), True),
        (avsamples.prores_mov, (96, 64), False),
    ],
    ids=["odd-h264-444", "h264-444", "vp9-webm", "hevc-mov", "prores-mov"],
)
def test_transcoded(tmp_path: Path, make: avsamples.Maker, size: tuple[int, int], audio: bool) -> None:
    src = make(tmp_path / "in")
    header = read_header(src)
    processed = run(src, tmp_path / "out")
    check_video(processed, tmp_path / "out", size, header.frames or 24, audio)
    assert processed.meta.frame_rate == "24/1"
    assert avsamples.video_packets(tmp_path / "out" / "original.mp4") != avsamples.video_packets(src)
    assert duration(tmp_path / "out" / "original.mp4") == pytest.approx(header.duration, abs=0.05)


def test_cropped_not_scaled(tmp_path: Path) -> None:
    src = avsamples.video(tmp_path / "in", width=63, height=47, pix_fmt="yuv444p", audio=None, frames=1)
    run(src, tmp_path / "out")
    source = decoded_frames(src)[0].reformat(format="rgb24")
    output = decoded_frames(tmp_path / "out" / "original.mp4")[0].reformat(format="rgb24")
    # The pattern's pixels stay where they were; a scaled frame would have every column moved.
    for x, y in ((0, 0), (61, 0), (0, 45), (61, 45), (30, 20)):
        a, b = _pixel(source, x, y), _pixel(output, x, y)
        assert max(abs(i - j) for i, j in zip(a, b, strict=True)) < 24, (x, y, a, b)


def _pixel(frame: av.VideoFrame, x: int, y: int) -> tuple[int, ...]:
    plane = frame.planes[0]
    start = y * plane.line_size + x * 3
    return tuple(bytes(plane)[start : start + 3])


@pytest.mark.parametrize("format", ["mp4", "mov"], ids=["passthrough", "transcode"])
def test_rotation_is_kept(tmp_path: Path, format: str) -> None:
    src = avsamples.video(tmp_path / "in", format=format, audio=None, frames=3, rotation=90)
    processed = run(src, tmp_path / "out")
    assert decoded_frames(tmp_path / "out" / "original.mp4")[0].rotation == 90
    assert (processed.meta.width, processed.meta.height) == (64, 96)
    assert [(r.width, r.height) for r in processed.renditions] == [(64, 96)] * 3
    small = pyvips.Image.new_from_file(str(tmp_path / "out" / "small.png"))
    upright = decoded_frames(src)[0].reformat(format="rgb24")
    # Turned a quarter counter-clockwise: the frame's top right corner is the still's top left.
    corner = [round(v) for v in small(0, 0)]
    assert corner == pytest.approx(list(_pixel(upright, 95, 0)), abs=24)


def test_frames_past_the_cap_are_cut(tmp_path: Path) -> None:
    src = avsamples.h264_mp4(tmp_path / "in")
    processed = run(src, tmp_path / "out", Limits(max_frames=10))
    original = tmp_path / "out" / "original.mp4"
    check_video(processed, tmp_path / "out", (96, 64), 10, audio=True)
    # Not passed through: it has more frames than allowed. The audio ends with the video.
    assert avsamples.video_packets(original) != avsamples.video_packets(src)
    assert duration(original) == pytest.approx(10 / 24, abs=0.05)


def test_animated_gif_becomes_silent_mp4(tmp_path: Path) -> None:
    src = images.animated_gif(tmp_path / "in", 61, 45, 4)
    processed = run(src, tmp_path / "out")
    assert processed.kind == "gifv"
    check_video(processed, tmp_path / "out", (60, 44), 4, audio=False)
    assert processed.meta.duration == pytest.approx(0.32, abs=0.01)
    assert processed.meta.frame_rate == "25/2"


def test_transparent_gif_is_shown_over_white(tmp_path: Path) -> None:
    src = tmp_path / "in.gif"
    frames = []
    for i in range(2):
        colour = images.solid(40, 40, (200, 20 + 100 * i, 20))
        # The left half is transparent.
        alpha = (pyvips.Image.xyz(40, 40)[0] >= 20).ifthenelse(255, 0).cast("uchar")
        frames.append(colour.bandjoin(alpha))
    strip = pyvips.Image.arrayjoin(frames, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", 40)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100, 100])
    strip.gifsave(str(src))
    run(src, tmp_path / "out")
    first = decoded_frames(tmp_path / "out" / "original.mp4")[0].reformat(format="rgb24")
    assert min(_pixel(first, 5, 20)) > 230
    assert _pixel(first, 35, 20)[0] > 170 and _pixel(first, 35, 20)[2] < 60
    small = pyvips.Image.new_from_file(str(tmp_path / "out" / "small.png"))
    assert small.bands == 3
    assert min(small(5, 20)) > 230


def test_stills_fit_their_boxes(tmp_path: Path) -> None:
    src = avsamples.video(tmp_path / "in", width=1280, height=720, frames=2, audio=None, flat=True)
    processed = run(src, tmp_path / "out")
    assert [(r.style, r.width, r.height, r.content_type) for r in processed.renditions] == [
        ("original", 1280, 720, "video/mp4"),
        ("small", 640, 360, "image/png"),
        ("thumb", 320, 180, "image/png"),
    ]
    for rendition in processed.renditions[1:]:
        image = pyvips.Image.new_from_file(str(tmp_path / "out" / f"{rendition.style}.png"))
        assert (image.width, image.height) == (rendition.width, rendition.height)
        assert rendition.size == (tmp_path / "out" / f"{rendition.style}.png").stat().st_size
        # The flat colour of the first frame, give or take the YUV round trip.
        assert [round(v) for v in image(100, 100)] == pytest.approx([90, 140, 200], abs=6)
    assert blurhash.is_valid_blurhash(processed.blurhash)


@pytest.mark.parametrize("name", sorted(set(avsamples.AUDIO) - {"mp3", "mp3 with cover"}))
def test_audio_is_transcoded_to_vbr_mp3(tmp_path: Path, name: str) -> None:
    src = avsamples.AUDIO[name](tmp_path / "in")
    processed = run(src, tmp_path / "out")
    original = tmp_path / "out" / "original.mp3"
    assert listing(tmp_path / "out") == ["original.mp3"]
    assert [(t, codec) for t, codec, _ in streams(original)] == [("audio", "mp3float")]
    data = original.read_bytes()
    # LAME's VBR header is "Xing"; a constant bitrate one would be "Info".
    assert b"Xing" in data[:2048] and b"Info" not in data[:2048]
    assert not data.startswith(b"ID3")
    assert processed.kind == "audio"
    assert processed.blurhash == ""
    assert [(r.style, r.width, r.height, r.content_type, r.size) for r in processed.renditions] == [
        ("original", 0, 0, "audio/mpeg", len(data))
    ]
    assert processed.meta == MediaMeta(
        duration=round(duration(original), 2), bitrate=round(len(data) * 8 / duration(original))
    )
    assert processed.meta.duration == pytest.approx(1.0, abs=0.06)


def test_mp3_is_remuxed_without_tags(tmp_path: Path) -> None:
    src = avsamples.mp3(tmp_path / "in")
    assert src.read_bytes().startswith(b"ID3") and b"A tone" in src.read_bytes()
    processed = run(src, tmp_path / "out")
    original = tmp_path / "out" / "original.mp3"
    data = original.read_bytes()
    assert not data.startswith(b"ID3") and b"A tone" not in data and b"TAG" not in data[-128:]
    with av.open(str(src)) as before, av.open(str(original)) as after:
        assert [bytes(p) for p in before.demux(audio=0) if p.size] == [bytes(p) for p in after.demux(audio=0) if p.size]
    assert processed.meta.duration == pytest.approx(1.0, abs=0.03)
    assert listing(tmp_path / "out") == ["original.mp3"]


def test_mp3_cover_becomes_the_stills(tmp_path: Path) -> None:
    src = avsamples.mp3(tmp_path / "in", cover=(1000, 750))
    processed = run(src, tmp_path / "out")
    assert listing(tmp_path / "out") == ["original.mp3", "small.png", "thumb.png"]
    assert [(r.style, r.width, r.height) for r in processed.renditions] == [
        ("original", 0, 0), ("small", 640, 480), ("thumb", 320, 240),
    ]
    assert blurhash.is_valid_blurhash(processed.blurhash)
    # The picture is not in the MP3.
    assert streams(tmp_path / "out" / "original.mp3") == [("audio", "mp3float", "stereo")]
    assert b"PNG" not in (tmp_path / "out" / "original.mp3").read_bytes()


def test_a_cover_past_the_image_limit_is_left_out(tmp_path: Path) -> None:
    src = avsamples.mp3(tmp_path / "in", cover=(120, 90))
    processed = run(src, tmp_path / "out", Limits(max_pixels=120 * 90 - 1))
    assert listing(tmp_path / "out") == ["original.mp3"]
    assert (len(processed.renditions), processed.blurhash) == (1, "")


def test_a_broken_cover_is_left_out(tmp_path: Path) -> None:
    src = avsamples.mp3(tmp_path / "in", cover=(120, 90))
    data = bytearray(src.read_bytes())
    # Garble the PNG's pixel data, not its header.
    start = data.index(b"IDAT") + 8
    data[start : start + 200] = b"\x55" * 200
    src.write_bytes(bytes(data))
    processed = run(src, tmp_path / "out")
    assert listing(tmp_path / "out") == ["original.mp3"]
    assert processed.blurhash == ""


@pytest.mark.parametrize(
    "make",
    [
        avsamples.vp9_webm,
        lambda p: images.animated_gif(p, 61, 45, 4),
        avsamples.AUDIO["opus"],
        avsamples.AUDIO["mp3 with cover"],
    ],
    ids=["webm", "gif", "opus", "mp3"],
)
def test_deterministic(tmp_path: Path, make: avsamples.Maker) -> None:
    src = make(tmp_path / "in")
    first, second = run(src, tmp_path / "a"), run(src, tmp_path / "b")
    assert first == second
    names = listing(tmp_path / "a")
    assert names == listing(tmp_path / "b")
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize("make", [avsamples.vp9_webm, avsamples.h264_mp4, avsamples.AUDIO["flac"]])
def test_past_the_deadline_nothing_is_left(tmp_path: Path, make: avsamples.Maker) -> None:
    src = make(tmp_path / "in")
    out_dir = tmp_path / "out"
    with pytest.raises(MediaRejected) as caught:
        process_av(src, out_dir, read_header(src), LIMITS, Deadline(-1))
    assert caught.value.kind == "timed_out"
    assert listing(out_dir) == []


@pytest.mark.parametrize("make", [avsamples.vp9_webm, avsamples.h264_mp4, avsamples.AUDIO["flac"]])
def test_a_processor_stopping_gives_the_job_back_with_nothing_left(tmp_path: Path, make: avsamples.Maker) -> None:
    src = make(tmp_path / "in")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        process_av(src, tmp_path / "out", read_header(src), LIMITS, Deadline(60, stop))
    assert listing(tmp_path / "out") == []


# An MP4 that is passed through, and a MOV of the same frames that is transcoded.
BOTH_PATHS = pytest.mark.parametrize(
    "make",
    [
        avsamples.h264_mp4,
        lambda p: avsamples.video(p, format="mov", pix_fmt="yuv444p", options={"movflags": "+faststart"}),
    ],
    ids=["passthrough", "transcode"],
)


@BOTH_PATHS
def test_truncated_video_is_refused(tmp_path: Path, make: avsamples.Maker) -> None:
    src = make(tmp_path / "in")
    header = read_header(src)
    images.truncate(src, 0.6)
    out_dir = tmp_path / "out"
    with pytest.raises(MediaRejected) as caught:
        process_av(src, out_dir, header, LIMITS, Deadline(60))
    assert caught.value.kind == "corrupt"
    assert listing(out_dir) == []


@BOTH_PATHS
def test_garbage_after_a_valid_header_is_refused(tmp_path: Path, make: avsamples.Maker) -> None:
    src = make(tmp_path / "in")
    data = src.read_bytes()
    # The index comes first and stays; every frame's data is overwritten.
    payload = data.index(b"mdat") + 4
    src.write_bytes(data[:payload] + bytes(len(data) - payload))
    header = read_header(src)
    with pytest.raises(MediaRejected) as caught:
        process_av(src, tmp_path / "out", header, LIMITS, Deadline(60))
    assert caught.value.kind == "corrupt"
    assert listing(tmp_path / "out") == []
