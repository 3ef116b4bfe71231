from pathlib import Path

import pytest

from core.sniff import SNIFF_BYTES, SUPPORTED_IMAGE_TYPES, sniff
from tests import images


def head_of(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def test_supported_types_are_mastodons_seven() -> None:
    assert {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/avif",
    } == SUPPORTED_IMAGE_TYPES


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: images.jpeg(p / "x", 32, 24), "image/jpeg"),
        (lambda p: images.png(p / "x", 32, 24), "image/png"),
        (lambda p: images.png(p / "x", 32, 24, alpha=True), "image/png"),
        (lambda p: images.gif(p / "x", 32, 24), "image/gif"),
        (lambda p: images.animated_gif(p / "x", 32, 24, 2), "image/gif"),
        (lambda p: images.webp(p / "x", 32, 24), "image/webp"),
        (lambda p: images.heif(p / "x", 32, 24), "image/avif"),
        (lambda p: images.heif(p / "x", 32, 24, brand=b"heic"), "image/heic"),
        (lambda p: images.heif(p / "x", 32, 24, brand=b"mif1"), "image/heif"),
        (lambda p: images.tiff(p / "x", 32, 24), "image/tiff"),
    ],
    ids=["jpeg", "png", "png-alpha", "gif", "gif-animated", "webp", "avif", "heic", "heif", "tiff"],
)
def test_files_written_by_libvips(tmp_path: Path, make, expected: str) -> None:
    assert sniff(head_of(make(tmp_path))) == expected


def test_real_avif_keeps_libvips_brand(tmp_path: Path) -> None:
    # heifsave's own ftyp, untouched: major "avif", compatible mif1/avif/miaf.
    path = tmp_path / "x.avif"
    images.pattern(16, 16).heifsave(str(path), compression="av1", effort=0)
    assert path.read_bytes()[8:12] == b"avif"
    assert sniff(head_of(path)) == "image/avif"


def test_hevc_heic() -> None:
    assert sniff(images.hevc_heic()[:SNIFF_BYTES]) == "image/heic"


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"])
def test_heic_brands(brand: bytes) -> None:
    assert sniff(images.ftyp(brand, b"mif1", brand)) == "image/heic"


@pytest.mark.parametrize(
    ("major", "compatible", "expected"),
    [
        (b"mif1", (b"mif1", b"miaf"), "image/heif"),
        (b"msf1", (b"msf1", b"iso8"), "image/heif"),
        (b"avif", (b"mif1", b"avif", b"miaf"), "image/avif"),
        (b"avis", (b"avis", b"msf1", b"iso8"), "image/avif"),
        (b"isom", (b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (b"mp41", (b"mp41", b"isom"), "video/mp4"),
        (b"mp42", (b"mp42", b"isom"), "video/mp4"),
        (b"M4V ", (b"M4V ", b"M4A ", b"mp42"), "video/mp4"),
        (b"3gp4", (b"3gp4", b"isom"), "video/mp4"),
        (b"qt  ", (b"qt  ",), "video/quicktime"),
        (b"M4A ", (b"M4A ", b"mp42", b"isom"), "audio/mp4"),
        # An unfamiliar major brand defers to a recognised compatible one.
        (b"zzzz", (b"mif1", b"heic"), "image/heif"),
        (b"zzzz", (b"zzzz",), "video/mp4"),
    ],
)
def test_iso_bmff_brands(major: bytes, compatible: tuple[bytes, ...], expected: str) -> None:
    assert sniff(images.ftyp(major, *compatible)) == expected


def test_compatible_brands_past_the_box_are_ignored() -> None:
    # The ftyp box ends after "zzzz"; what follows is the next box, not a brand.
    data = images.ftyp(b"zzzz", b"zzzz") + b"\x00\x00\x00\x10heic"
    assert sniff(data) == "video/mp4"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm\x42\x87", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska\x42\x87\x81\x04", "video/x-matroska"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis\x00\x00\x00\x00", "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x2a\x80theora\x03\x02\x01", "video/ogg"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00", "audio/wav"),
        (b"RIFF\x24\x08\x00\x00AVI LIST", "video/x-msvideo"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x44\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xf3\x48\xc4\x00\x00\x00\x00", "audio/mpeg"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x02\x00", "image/bmp"),
        (b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x7a\x00\x00\x00\x7c\x00\x00\x00\x02\x00", "image/bmp"),
    ],
    ids=[
        "webm", "matroska", "ogg-vorbis", "ogg-theora", "wav", "avi", "mp3-id3", "mp3-mpeg1",
        "mp3-mpeg2", "pdf", "tiff-le", "tiff-be", "bmp-v3", "bmp-v5",
    ],
)  # fmt: skip
def test_identified_non_images(head: bytes, expected: str) -> None:
    assert sniff(head) == expected
    assert expected not in SUPPORTED_IMAGE_TYPES


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, world\n",
        b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>",
        b"BMW is a brand of car and this is plain text",
        b"RIFF\x24\x08\x00\x00XXXX",
        b"\xff\xd8",  # too short to be a JPEG
        b"\xff\xff\xff\xff\xff\xff",  # MPEG sync bits, but every field reserved
        b"GIF90a",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ],
    ids=["empty", "text", "svg", "bm-text", "riff-other", "short-jpeg", "ff-run", "gif90", "zeros"],
)
def test_unknown(head: bytes) -> None:
    assert sniff(head) is None


def test_a_short_read_is_enough(tmp_path: Path) -> None:
    # Callers read exactly SNIFF_BYTES; a file shorter than that must still be identified.
    path = images.png(tmp_path / "x.png", 1, 1)
    assert sniff(path.read_bytes()[:12]) == "image/png"
