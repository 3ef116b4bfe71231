import pickle
import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blurhash
import pytest
import pyvips

from core.probe import Header, Limits, MediaRejected, check_limits
from core.sniff import sniff
from processors.header import read_header
from processors.imaging import Processed, configure_vips, extension, fit_box, process
from tests import images

LIMITS = Limits()


@pytest.fixture(autouse=True, scope="module")
def _vips() -> None:
    configure_vips()


def run(src: Path, out_dir: Path, limits: Limits = LIMITS) -> Processed:
    processed = process(src, out_dir, limits)
    for rendition in (processed.original, processed.small):
        path = out_dir / f"{rendition.style}.{extension(rendition.content_type)}"
        assert path.stat().st_size == rendition.size
        assert sniff(path.read_bytes()[:64]) == rendition.content_type
        image = pyvips.Image.new_from_file(str(path))
        assert (image.width, image.height) == (rendition.width, rendition.height)
    assert not [p.name for p in out_dir.iterdir() if p.name.startswith(".")]
    return processed


def load(path: Path) -> pyvips.Image:
    if path.suffix == ".gif":
        return pyvips.Image.new_from_file(str(path), n=-1)
    return pyvips.Image.new_from_file(str(path))


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# -- geometry ---------------------------------------------------------------------------


SIZES = [
    ((640, 480), (554, 416), (640, 480)),
    ((600, 400), (588, 392), (600, 400)),
    ((1920, 1080), (640, 360), (1920, 1080)),
    ((4000, 3000), (554, 416), (3325, 2494)),
    ((3024, 4032), (415, 554), (2494, 3325)),
]


@pytest.mark.parametrize(("source", "small", "original"), SIZES, ids=[f"{w}x{h}" for (w, h), _, _ in SIZES])
def test_rendition_sizes(
    tmp_path: Path, source: tuple[int, int], small: tuple[int, int], original: tuple[int, int]
) -> None:
    src = images.jpeg(tmp_path / "in", *source, flat=True)
    processed = run(src, tmp_path / "out")
    assert (processed.small.width, processed.small.height) == small
    assert (processed.original.width, processed.original.height) == original
    # pump.io's thumbnail fits 320x320 with the same shape.
    thumb = (processed.thumb.width, processed.thumb.height)
    assert max(thumb) == 320 and abs(thumb[0] / thumb[1] - small[0] / small[1]) < 0.01


def test_fit_box() -> None:
    assert fit_box(640, 480, 230_400) == (554, 416)
    assert fit_box(480, 640, 230_400) == (416, 554)
    assert fit_box(4000, 3000, 8_294_400) == (3326, 2494)
    assert fit_box(1, 1, 4) == (2, 2)
    # Extreme aspect ratios still get a box at least one pixel across.
    assert fit_box(1_000_000, 1, 100) == (10_000, 1)
    with pytest.raises(ValueError):
        fit_box(0, 10, 100)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    src = images.jpeg(tmp_path / "in", 600, 400, orientation=6)
    assert read_header(src) == Header(content_type="image/jpeg", width=400, height=600, frames=1)
    processed = run(src, tmp_path / "out")
    assert (processed.original.width, processed.original.height) == (400, 600)
    assert (processed.small.width, processed.small.height) == (392, 588)
    assert not load(tmp_path / "out" / "original.jpg").get_typeof("orientation")


# -- metadata ---------------------------------------------------------------------------


def test_icc_profile_kept_and_exif_dropped(tmp_path: Path) -> None:
    src = images.jpeg(tmp_path / "in", 300, 200, orientation=1, profile="p3")
    source = pyvips.Image.new_from_file(str(src))
    assert source.get_typeof("exif-data") and source.get_typeof("icc-profile-data")
    run(src, tmp_path / "out")
    for name in ("original.jpg", "small.jpg"):
        fields = set(load(tmp_path / "out" / name).get_fields())
        assert "icc-profile-data" in fields
        assert load(tmp_path / "out" / name).get("icc-profile-data") == source.get("icc-profile-data")
        assert not {f for f in fields if f.startswith(("exif", "xmp", "iptc"))}
        assert "orientation" not in fields


@pytest.mark.parametrize(
    "make",
    [
        lambda p: images.png(p, 120, 90),
        lambda p: images.webp(p, 120, 90),
        lambda p: images.heif(p, 120, 90),
    ],
    ids=["png", "webp", "avif"],
)
def test_no_exif_in_any_output(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    src = make(tmp_path / "in")
    # libvips writes an EXIF block by default, so there is something to lose.
    assert pyvips.Image.new_from_file(str(src)).get_typeof("exif-data")
    run(src, tmp_path / "out")
    for path in (tmp_path / "out").iterdir():
        fields = load(path).get_fields()
        assert not [f for f in fields if f.startswith(("exif", "xmp", "iptc"))], path.name


# -- formats ----------------------------------------------------------------------------


FORMATS: list[tuple[str, Callable[[Path], Path], str, str]] = [
    ("jpeg", lambda p: images.jpeg(p, 160, 120), "image/jpeg", "image/jpeg"),
    ("png", lambda p: images.png(p, 160, 120, alpha=True), "image/png", "image/png"),
    ("webp", lambda p: images.webp(p, 160, 120), "image/webp", "image/webp"),
    ("gif-static", lambda p: images.gif(p, 160, 120), "image/png", "image/png"),
    ("avif", lambda p: images.heif(p, 160, 120), "image/jpeg", "image/jpeg"),
    ("heif", lambda p: images.heif(p, 160, 120, brand=b"mif1"), "image/jpeg", "image/jpeg"),
    ("heic-av1", lambda p: images.heif(p, 160, 120, brand=b"heic"), "image/jpeg", "image/jpeg"),
    ("heic-hevc", lambda p: images.hevc(p, 160, 120), "image/jpeg", "image/jpeg"),
    ("heif-hevc", lambda p: images.hevc(p, 160, 120, brand=b"mif1"), "image/jpeg", "image/jpeg"),
    ("gif-animated", lambda p: images.animated_gif(p, 160, 120, 3), "image/gif", "image/png"),
]


@pytest.mark.parametrize(("make", "original", "small"), [f[1:] for f in FORMATS], ids=[f[0] for f in FORMATS])
def test_output_formats_are_deterministic(
    tmp_path: Path, make: Callable[[Path], Path], original: str, small: str
) -> None:
    src = make(tmp_path / "in")
    first = run(src, tmp_path / "a")
    second = run(src, tmp_path / "b")
    assert first == second
    assert (first.original.content_type, first.small.content_type) == (original, small)
    assert listing(tmp_path / "a") == sorted(
        [f"original.{extension(original)}", f"small.{extension(small)}", f"thumb.{extension(small)}"]
    )
    assert first.thumb.content_type == small
    assert max(first.thumb.width, first.thumb.height) <= 320
    for name in listing(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_concurrent_runs_match_sequential_ones(tmp_path: Path) -> None:
    sources = [images.jpeg(tmp_path / f"in{i}", 320, 240, seed=i) for i in range(4)]
    sequential = [run(src, tmp_path / f"seq{i}") for i, src in enumerate(sources)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda i: process(sources[i], tmp_path / f"par{i}", LIMITS), range(4)))
    assert concurrent == sequential
    for i in range(4):
        for name in listing(tmp_path / f"seq{i}"):
            assert (tmp_path / f"seq{i}" / name).read_bytes() == (tmp_path / f"par{i}" / name).read_bytes()


def test_animated_gif_keeps_every_frame(tmp_path: Path) -> None:
    src = images.animated_gif(tmp_path / "in", 160, 120, 3)
    assert read_header(src) == Header(content_type="image/gif", width=160, height=120, frames=3, kind="gifv")
    processed = run(src, tmp_path / "out")
    original = load(tmp_path / "out" / "original.gif")
    assert original.get("n-pages") == 3
    assert original.get("page-height") == 120
    assert original.get("delay") == [80, 80, 80]
    assert (processed.original.width, processed.original.height) == (160, 120)
    small = load(tmp_path / "out" / "small.png")
    assert not small.get_typeof("n-pages") or small.get("n-pages") == 1
    # The small rendition is the first frame, not a stack of them.
    assert (small.width, small.height) == (processed.small.width, processed.small.height) == (160, 120)


def test_animated_gif_is_resized_frame_by_frame(tmp_path: Path) -> None:
    # With a raised GIF limit the original box can be smaller than the frames.
    src = images.animated_gif(tmp_path / "in", 640, 480, 2)
    processed = process(src, tmp_path / "out", Limits(max_gif_pixels=10**7))
    assert processed.small.content_type == "image/png"
    original = load(tmp_path / "out" / "original.gif")
    assert (original.width, original.get("page-height"), original.get("n-pages")) == (640, 480, 2)


# -- HEVC-coded HEIC --------------------------------------------------------------------


def test_hevc_heic_renditions(tmp_path: Path) -> None:
    src = images.hevc(tmp_path / "in", 4000, 3000, flat=True, grid=True)
    assert read_header(src) == Header(content_type="image/heic", width=4000, height=3000, frames=1)
    processed = run(src, tmp_path / "out")
    assert (processed.original.content_type, processed.small.content_type) == ("image/jpeg", "image/jpeg")
    assert (processed.original.width, processed.original.height) == (3325, 2494)
    assert (processed.small.width, processed.small.height) == (554, 416)
    assert listing(tmp_path / "out") == ["original.jpg", "small.jpg", "thumb.jpg"]
    assert len(processed.blurhash) == 36
    assert blurhash.is_valid_blurhash(processed.blurhash)
    # Every tile was decoded: the whole picture has the source colour, no black or grey patches.
    for name in ("original.jpg", "small.jpg"):
        image = load(tmp_path / "out" / name)
        for band, expected in enumerate((90, 140, 200)):
            assert abs(image[band].min() - expected) <= 4, name
            assert abs(image[band].max() - expected) <= 4, name


def test_hevc_heic_is_deterministic(tmp_path: Path) -> None:
    src = images.hevc(tmp_path / "in", 800, 600, seed=3)
    first = run(src, tmp_path / "a")
    second = run(src, tmp_path / "b")
    assert first == second
    assert (first.small.width, first.small.height) == (554, 416)
    for name in ("original.jpg", "small.jpg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_hevc_heic_keeps_icc_profile_only(tmp_path: Path) -> None:
    src = images.hevc(tmp_path / "in", 300, 200, orientation=1, profile="p3")
    run(src, tmp_path / "out")
    for name in ("original.jpg", "small.jpg"):
        image = load(tmp_path / "out" / name)
        assert image.get("icc-profile-data") == pyvips.Image.profile_load("p3")
        fields = image.get_fields()
        assert not [f for f in fields if f.startswith(("exif", "xmp", "iptc"))], name
        assert "orientation" not in fields


@pytest.mark.parametrize("orientation", range(1, 9))
def test_hevc_heic_transformations_are_applied(tmp_path: Path, orientation: int) -> None:
    src = images.hevc(tmp_path / "in", 300, 200, seed=5, orientation=orientation)
    upright = images.pattern(300, 200, seed=5).copy()
    upright.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    upright = upright.autorot()
    assert read_header(src) == Header(content_type="image/heic", width=upright.width, height=upright.height, frames=1)
    processed = run(src, tmp_path / "out")
    assert (processed.original.width, processed.original.height) == (upright.width, upright.height)
    original = load(tmp_path / "out" / "original.jpg")
    # Lossy twice over, but a wrong rotation or mirroring differs by far more than this.
    assert (original - upright).abs().avg() < 8
    assert not original.get_typeof("orientation")


@pytest.mark.parametrize("brand", [b"heic", b"mif1", b"avif"])
def test_heif_decoder_follows_the_codec_not_the_brand(tmp_path: Path, brand: bytes) -> None:
    # libvips' heif-compression follows the brand; decoding must follow the coded item instead.
    av1 = run(images.heif(tmp_path / "av1", 160, 120, brand=brand), tmp_path / "av1-out")
    hevc = run(images.hevc(tmp_path / "hevc", 160, 120, brand=brand), tmp_path / "hevc-out")
    for processed in (av1, hevc):
        assert (processed.original.width, processed.original.height) == (160, 120)
        assert processed.original.content_type == "image/jpeg"


# -- blurhash ---------------------------------------------------------------------------


def test_blurhash(tmp_path: Path) -> None:
    hashes = set()
    for seed in range(3):
        src = images.png(tmp_path / f"in{seed}", 300, 200, seed=seed)
        processed = run(src, tmp_path / f"out{seed}")
        # 4x4 components: 1 size + 1 max-AC + 4 DC + 2 x 15 AC characters.
        assert len(processed.blurhash) == 36
        assert blurhash.is_valid_blurhash(processed.blurhash)
        hashes.add(processed.blurhash)
    assert len(hashes) == 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_blurhash_matches_the_public_encoder(tmp_path: Path) -> None:
    from PIL import Image

    processed = run(images.png(tmp_path / "in", 300, 200, seed=7), tmp_path / "out")
    # The small PNG is lossless, so its pixels are the ones the hash was computed from.
    small = load(tmp_path / "out" / "small.png").thumbnail_image(100, height=100, size="down")
    rgb = small.extract_band(0, n=3)
    pillow = Image.frombytes("RGB", (rgb.width, rgb.height), rgb.write_to_memory())
    assert blurhash.encode(pillow, 4, 4) == processed.blurhash


def test_blurhash_of_grey_and_translucent_images(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    images.pattern(64, 64)[0].copy(interpretation="b-w").bandjoin(128).pngsave(str(grey))
    assert len(run(grey, tmp_path / "out").blurhash) == 36


# -- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: images.jpeg(p, 400, 300),
        lambda p: images.png(p, 400, 300),
        lambda p: images.webp(p, 400, 300),
        lambda p: images.heif(p, 400, 300),
        lambda p: images.hevc(p, 400, 300),
        lambda p: images.gif(p, 120, 90),
        lambda p: images.animated_gif(p, 400, 300, 3),
    ],
    ids=["jpeg", "png", "webp", "avif", "heic-hevc", "gif", "gif-animated"],
)
def test_truncated_data_is_corrupt(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    src = images.truncate(make(tmp_path / "in"))
    out_dir = tmp_path / "out"
    with pytest.raises(MediaRejected) as caught:
        process(src, out_dir, LIMITS)
    assert caught.value.kind == "corrupt"
    assert listing(out_dir) == []


@pytest.mark.parametrize("fraction", [0.5, 0.7, 0.9, 0.998])
def test_animated_gif_cut_in_a_later_frame_is_corrupt(tmp_path: Path, fraction: float) -> None:
    src = images.truncate(images.animated_gif(tmp_path / "in", 400, 300, 3), fraction)
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "corrupt"
    assert listing(tmp_path / "out") == []


def test_animated_gif_without_trailer_is_accepted(tmp_path: Path) -> None:
    src = images.animated_gif(tmp_path / "in", 100, 80, 2)
    data = src.read_bytes()
    assert data.endswith(b";")
    src.write_bytes(data[:-1])
    assert process(src, tmp_path / "out", LIMITS).original.content_type == "image/gif"


def test_png_signature_over_junk_is_corrupt(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(MediaRejected) as caught:
        read_header(src)
    assert caught.value.kind == "corrupt"
    with pytest.raises(MediaRejected):
        process(src, tmp_path / "out", LIMITS)
    assert listing(tmp_path / "out") == []


def test_unknown_bytes_are_unidentified(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_text("just some text, not an image\n")
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "unidentified"


def test_identified_non_supported_types(tmp_path: Path) -> None:
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 100)
    for src in (images.tiff(tmp_path / "in.tiff", 32, 32), pdf):
        with pytest.raises(MediaRejected) as caught:
            read_header(src)
        assert caught.value.kind == "unsupported"
        assert "image/tiff" in str(caught.value) or "application/pdf" in str(caught.value)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_hevc_grid_cut_short_is_corrupt(tmp_path: Path, fraction: float) -> None:
    # libheif decodes a grid with missing tiles without complaint, leaving them black.
    src = images.truncate(images.hevc(tmp_path / "in", 1200, 900, grid=True), fraction)
    assert read_header(src) == Header(content_type="image/heic", width=1200, height=900, frames=1)
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "corrupt"
    assert listing(tmp_path / "out") == []


def test_hevc_heic_with_a_junk_bitstream_is_corrupt(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(images.hevc_heic())
    assert read_header(src) == Header(content_type="image/heic", width=64, height=48, frames=1)
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "corrupt"
    assert listing(tmp_path / "out") == []


def test_hevc_heic_pixel_limit_from_header(tmp_path: Path) -> None:
    # The bitstream is junk, so getting "too_many_pixels" rather than "corrupt" shows nothing was decoded.
    src = tmp_path / "in"
    src.write_bytes(images.hevc_heic(8000, 4250))
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "too_many_pixels"
    assert (caught.value.width, caught.value.height) == (8000, 4250)
    assert listing(tmp_path / "out") == []


def test_too_many_pixels_from_header(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(images.png_header_only(8000, 4250))  # 34,000,000 px
    header = read_header(src)
    assert (header.width, header.height) == (8000, 4250)
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert caught.value.kind == "too_many_pixels"
    assert (caught.value.width, caught.value.height) == (8000, 4250)
    assert "8000x4250" in str(caught.value)
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", LIMITS)
    assert caught.value.kind == "too_many_pixels"
    assert listing(tmp_path / "out") == []


def test_huge_header_is_rejected_without_decoding(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(images.png_header_only(50_000, 50_000))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    header = read_header(src)
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    elapsed = time.perf_counter() - started
    assert caught.value.kind == "too_many_pixels"
    assert elapsed < 0.1
    # 2.5 gigapixels would be 7.5 GB decoded; the peak RSS must not move noticeably.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_limits_are_taken_from_the_argument(tmp_path: Path) -> None:
    src = images.png(tmp_path / "in", 400, 300)
    with pytest.raises(MediaRejected) as caught:
        process(src, tmp_path / "out", Limits(max_pixels=100_000))
    assert caught.value.kind == "too_many_pixels"
    check_limits(read_header(src), Limits(max_pixels=120_000))


def test_animated_gif_pixel_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.gif"
    big.write_bytes(images.gif_header_only(1281, 720, 2))  # 922,320 px a frame
    header = read_header(big)
    assert header == Header(content_type="image/gif", width=1281, height=720, frames=2, kind="gifv")
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, LIMITS)
    assert caught.value.kind == "too_many_pixels"
    assert (caught.value.width, caught.value.height) == (1281, 720)

    # Exactly at the limit is fine, and a still GIF of the same size falls under the still limit.
    at_limit = tmp_path / "at.gif"
    at_limit.write_bytes(images.gif_header_only(1280, 720, 2))
    check_limits(read_header(at_limit), LIMITS)
    still = tmp_path / "still.gif"
    still.write_bytes(images.gif_header_only(1281, 720, 1))
    check_limits(read_header(still), LIMITS)


def test_rejection_survives_pickling() -> None:
    error = MediaRejected("too_many_pixels", "too big", width=9000, height=9000)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, str(copy), copy.width, copy.height) == ("too_many_pixels", "too big", 9000, 9000)
    assert str(MediaRejected("corrupt"))


def test_extension() -> None:
    assert [extension(t) for t in ("image/jpeg", "image/png", "image/gif", "image/webp")] == [
        "jpg",
        "png",
        "gif",
        "webp",
    ]
    with pytest.raises(ValueError):
        extension("image/heic")
