"""How a media is drawn on a page: the sources a browser picks a size from, its box, and its placeholder.

Images are offered at several widths through the transformation URLs (`?w=`), so a phone fetches a small
file and a wide screen a large one. Every picture carries its width and height, so the page never moves
when it arrives, and a BlurHash placeholder fills its box until then.
"""

from __future__ import annotations

from urllib.parse import urlencode

import msgspec

from gateways.kit.media import MediaView
from gateways.transform.signing import sign_url
from gateways.transform.source import EXTENSIONS, OUTPUT_FORMATS

# The widths offered, each no wider than the original; the original itself is always offered too.
WIDTHS = (240, 480, 720, 960, 1440, 1920)
# The longest side of a decoded placeholder: a blur needs few pixels, and the browser stretches it.
PLACEHOLDER_SIDE = 32


class Picture(msgspec.Struct, frozen=True, kw_only=True):
    # What the browser loads when it does not read `srcset`.
    src: str
    # "" when the file comes in one size (a video's poster, a GIF's first frame).
    srcset: str
    width: int
    height: int
    # "" without a BlurHash.
    placeholder: str


def _signed(url: str, key: str) -> str:
    return sign_url(url, key) if key else url


def box(media: MediaView) -> tuple[int, int]:
    """The width and height a player or picture of `media` is laid out at."""
    for style in ("original", "small", "thumb"):
        rendition = media.renditions.get(style)
        if rendition is not None and rendition.info.width and rendition.info.content_type.startswith("image/"):
            return rendition.info.width, rendition.info.height
    if media.meta is not None and media.meta.width:
        return media.meta.width, media.meta.height
    return media.width or 4, media.height or 3


def placeholder_url(blurhash: str, width: int, height: int) -> str:
    """Where `placeholder.py` serves `blurhash` decoded to a few pixels of the picture's shape."""
    longest = max(width, height, 1)
    w = max(1, round(PLACEHOLDER_SIDE * width / longest))
    h = max(1, round(PLACEHOLDER_SIDE * height / longest))
    return "/placeholder.png?" + urlencode({"hash": blurhash, "w": w, "h": h})


def picture(media: MediaView, key: str) -> Picture | None:
    """The picture of `media`, its still for a video or audio; None when it has none yet.

    `key` signs the transformation URLs when the operator requires signatures ("" when not).
    """
    original = media.renditions.get("original")
    small = media.renditions.get("small")
    if media.kind == "image" and original is not None:
        width, height = original.info.width, original.info.height
        extension = EXTENSIONS.get(original.info.content_type, "")
        widths = [w for w in WIDTHS if w < width] if extension in OUTPUT_FORMATS else []
        sources = [f"{_signed(f'{original.url}?w={w}', key)} {w}w" for w in widths]
        sources.append(f"{original.url} {width}w")
        src = small.url if small is not None else original.url
        srcset = ", ".join(sources)
    elif small is not None:
        width, height = small.info.width, small.info.height
        src, srcset = small.url, ""
    else:
        return None
    hashed = media.blurhash or ""
    return Picture(src=src, srcset=srcset, width=width, height=height,
                   placeholder=placeholder_url(hashed, width, height) if hashed else "")
