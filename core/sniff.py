"""Identify an upload from its leading bytes.

Clients routinely send the wrong Content-Type (or a deliberately misleading one), so the
type of an upload is decided here, from magic numbers alone.
"""

SNIFF_BYTES: int = 64

SUPPORTED_IMAGE_TYPES: frozenset[str] = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/avif",
    }
)

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_AUDIO_MP4_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# 3GPP is MP4 underneath, and reported as such.
_VIDEO_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"MSNV", b"mmp4"}
    | {b"M4V ", b"M4VH", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3ge6", b"3ge7", b"3gg6"}
    | {b"3g2a", b"3g2b", b"3g2c"}
)

# Sizes a BMP info header can have; "BM" alone is too weak a signature (plenty of text starts so).
_BMP_INFO_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def sniff(head: bytes) -> str | None:
    """The MIME type of a file given its first ``SNIFF_BYTES`` bytes, or None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF":
        return _riff(head[8:12])
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML DocType sits within the first few dozen bytes of the header.
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head else "audio/ogg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if _is_bmp(head):
        return "image/bmp"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if _is_adts_frame(head):
        return "audio/aac"
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return "audio/mpeg"
    return None


def _riff(form: bytes) -> str | None:
    if form == b"WEBP":
        return "image/webp"
    if form == b"WAVE":
        return "audio/wav"
    if form == b"AVI ":
        return "video/x-msvideo"
    return None


def _iso_bmff(head: bytes) -> str:
    box_size = int.from_bytes(head[0:4], "big")
    # A size of 0 or 1 means "to end of file" / "64-bit size"; either way, read what we have.
    end = min(box_size, len(head)) if box_size >= 16 else len(head)
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    major = head[8:12]
    # The major brand is authoritative when we know it; some writers put a generic major
    # brand first and the meaningful one among the compatible brands.
    for brand in (major, *compatible):
        kind = _brand(brand)
        if kind is not None:
            return kind
    return "video/mp4"


def _brand(brand: bytes) -> str | None:
    if brand in _HEIC_BRANDS:
        return "image/heic"
    if brand in _HEIF_BRANDS:
        return "image/heif"
    if brand in _AVIF_BRANDS:
        return "image/avif"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in _AUDIO_MP4_BRANDS:
        return "audio/mp4"
    if brand in _VIDEO_MP4_BRANDS:
        return "video/mp4"
    return None


def _is_bmp(head: bytes) -> bool:
    if len(head) < 18 or not head.startswith(b"BM"):
        return False
    reserved = head[6:10]
    info_size = int.from_bytes(head[14:18], "little")
    return reserved == b"\x00\x00\x00\x00" and info_size in _BMP_INFO_HEADER_SIZES


def _is_adts_frame(head: bytes) -> bool:
    # A raw AAC stream: sync word, layer 00, a sampling index below the reserved ones.
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0:
        return False
    return (head[2] >> 2) & 0x0F < 13


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    # Each field has one reserved value; random data rarely avoids all four of them.
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and sample_rate != 0b11
