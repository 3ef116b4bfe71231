"""The pictures of a video or audio upload: its first frame, or its cover, as small and thumb PNGs.

FFmpeg decodes, libvips renders, with the same encoder settings and BlurHash as image uploads.
"""

from pathlib import Path

import av
import msgspec
import pyvips

from processors.imaging import Rendition, blurhash_of, rendition, save_image, temporary

SMALL_BOX = (640, 640)
# pump.io clients show a thumbnail that fits a 320x320 box.
THUMB_BOX = (320, 320)
STILL_TYPE = "image/png"


class Stills(msgspec.Struct, frozen=True):
    small: Rendition
    thumb: Rendition
    blurhash: str
    # (temporary, final name) of each file written, for the caller to rename with the rest.
    files: tuple[tuple[Path, str], ...]


def frame_image(frame: av.VideoFrame, rotation: int = 0) -> pyvips.Image:
    """A decoded frame as an 8-bit sRGB image, turned upright by `rotation` (degrees counter-clockwise)."""
    image = pyvips.Image.new_from_memory(packed_pixels(frame, "rgb24", 3), frame.width, frame.height, 3, "uchar")
    image = image.copy(interpretation="srgb")
    match rotation % 360:
        case 90:
            return image.rot270()
        case 180:
            return image.rot180()
        case 270:
            return image.rot90()
    return image


def packed_pixels(frame: av.VideoFrame, format: str, bands: int) -> bytes:
    """The pixels of `frame` converted to the packed 8-bit `format` of `bands` bytes a pixel, row after row."""
    converted = frame.reformat(format=format)
    plane = converted.planes[0]
    data = bytes(plane)
    row = converted.width * bands
    if plane.line_size == row:
        return data
    # FFmpeg pads rows for alignment; libvips wants them packed.
    return b"".join(data[y * plane.line_size : y * plane.line_size + row] for y in range(converted.height))


def write_stills(picture: pyvips.Image, out_dir: Path, temporaries: list[Path]) -> Stills:
    """Write small and thumb to temporaries in `out_dir`; never larger than `picture`."""
    small_tmp = temporary(out_dir, "small", temporaries)
    # Held in memory because it is read three times: to encode, for the BlurHash and for thumb.
    small_image = picture.thumbnail_image(SMALL_BOX[0], height=SMALL_BOX[1], size="down").copy_memory()
    save_image(small_image, small_tmp, STILL_TYPE)
    thumb_tmp = temporary(out_dir, "thumb", temporaries)
    thumb_image = small_image.thumbnail_image(THUMB_BOX[0], height=THUMB_BOX[1], size="down")
    save_image(thumb_image, thumb_tmp, STILL_TYPE)
    return Stills(
        small=rendition("small", small_image, STILL_TYPE, small_tmp),
        thumb=rendition("thumb", thumb_image, STILL_TYPE, thumb_tmp),
        blurhash=blurhash_of(small_image),
        files=((small_tmp, "small.png"), (thumb_tmp, "thumb.png")),
    )
