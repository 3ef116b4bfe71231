"""Video and audio headers read by FFmpeg, and the refusals decided from them before anything is decoded."""

import io
import zipfile
from pathlib import Path

import pytest

from core.probe import Header, Limits, MediaRejected, check_limits
from processors.avheader import read_av_header
from processors.header import read_header
from tests import avsamples, images

LIMITS = Limits()


def test_mp4_header(tmp_path: Path) -> None:
    header = read_header(avsamples.h264_mp4(tmp_path / "in"))
    assert header.bitrate > 0
    assert header == Header(
        content_type="video/mp4", width=96, height=64, frames=24, kind="video",
        duration=1.0, frame_rate="24/1", bitrate=header.bitrate, streams=2,
    )
    check_limits(header, LIMITS)


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        (avsamples.vp9_webm, "video/webm"),
        (avsamples.hevc_mov, "video/quicktime"),
        (avsamples.prores_mov, "video/quicktime"),
    ],
)
def test_other_video_headers(tmp_path: Path, make: avsamples.Maker, content_type: str) -> None:
    header = read_header(make(tmp_path / "in"))
    assert (header.content_type, header.kind, header.width, header.height) == (content_type, "video", 96, 64)
    assert header.frame_rate == "24/1"
    assert 0.2 < header.duration <= 1.01


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("opus", "audio/ogg"),
        ("vorbis", "audio/ogg"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
        ("m4a", "audio/mp4"),
        ("adts", "audio/aac"),
        ("mp3", "audio/mpeg"),
        ("mp3 with cover", "audio/mpeg"),
    ],
)
def test_audio_headers(tmp_path: Path, name: str, content_type: str) -> None:
    header = read_header(avsamples.AUDIO[name](tmp_path / "in"))
    assert (header.content_type, header.kind, header.width, header.height, header.frames) == (
        content_type, "audio", 0, 0, 0,
    )
    assert header.frame_rate == ""
    assert header.duration == pytest.approx(1.0, abs=0.03)
    assert header.streams == (2 if name == "mp3 with cover" else 1)
    check_limits(header, LIMITS)


def test_an_animated_gif_is_gifv_and_a_still_one_an_image(tmp_path: Path) -> None:
    animated = read_header(images.animated_gif(tmp_path / "a.gif", 61, 45, 4))
    assert (animated.kind, animated.frames) == ("gifv", 4)
    check_limits(animated, LIMITS)
    assert read_header(images.gif(tmp_path / "s.gif", 61, 45)).kind == "image"


def test_too_many_pixels(tmp_path: Path) -> None:
    header = read_header(avsamples.video(tmp_path / "in", width=4000, height=2250, frames=1, audio=None, flat=True))
    assert (header.width, header.height) == (4000, 2250)
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert (caught.value.kind, caught.value.media) == ("too_many_pixels", "video")
    assert (caught.value.width, caught.value.height) == (4000, 2250)
    # The image limit is higher and does not apply to video.
    assert 4000 * 2250 < LIMITS.max_pixels


def test_frame_rate_limit(tmp_path: Path) -> None:
    header = read_header(avsamples.video(tmp_path / "in", rate=240, frames=12, audio=None))
    assert header.frame_rate == "240/1"
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert (caught.value.kind, caught.value.frame_rate) == ("frame_rate", 240.0)
    check_limits(read_header(avsamples.video(tmp_path / "ok", rate=120, frames=6, audio=None)), LIMITS)


def test_too_many_streams(tmp_path: Path) -> None:
    header = read_header(avsamples.streams(tmp_path / "in", 17))
    assert header.streams == 17
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert caught.value.kind == "too_many_streams"
    check_limits(read_header(avsamples.streams(tmp_path / "ok", 16)), LIMITS)


def test_declared_hours_in_a_few_kilobytes(tmp_path: Path) -> None:
    src = avsamples.long_declared(tmp_path / "in", hours=7)
    assert src.stat().st_size < 4096
    header = read_header(src)
    assert header.duration == pytest.approx(7 * 3600, abs=2)
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert caught.value.kind == "too_long"
    check_limits(read_header(avsamples.long_declared(tmp_path / "ok", hours=5)), LIMITS)


def test_zip_named_mp4(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("movie.mp4", b"\x00" * 1000)
    src = tmp_path / "movie.mp4"
    src.write_bytes(archive.getvalue())
    with pytest.raises(MediaRejected) as caught:
        read_header(src)
    assert caught.value.kind == "unidentified"
    # Even when told it is an MP4, FFmpeg's MP4 demuxer is the one asked, and it refuses.
    with pytest.raises(MediaRejected) as caught:
        read_av_header(src, "video/mp4")
    assert caught.value.kind == "corrupt"


def test_truncated_header(tmp_path: Path) -> None:
    # Without faststart the index is at the end, so half a file has none.
    src = images.truncate(avsamples.video(tmp_path / "in"))
    with pytest.raises(MediaRejected) as caught:
        read_header(src)
    assert caught.value.kind == "corrupt"


def test_mp4_whose_only_stream_is_empty(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        read_header(avsamples.empty_video_stream(tmp_path / "in"))
    assert (caught.value.kind, caught.value.media) == ("no_video_stream", "video")


def test_the_demuxer_follows_the_sniffed_type(tmp_path: Path) -> None:
    # A WebM told to be an MP3 is not read as a WebM behind our back.
    src = avsamples.vp9_webm(tmp_path / "in")
    with pytest.raises(MediaRejected) as caught:
        read_av_header(src, "audio/mpeg")
    assert caught.value.kind in ("corrupt", "no_video_stream")
