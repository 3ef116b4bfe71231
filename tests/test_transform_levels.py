"""Variants are sized from the rendition asked for, but read from the smallest rendition that covers them."""

from __future__ import annotations

from pathlib import Path

import pyvips

from gateways.transform.params import Variant
from gateways.transform.render import Sizes, render
from gateways.transform.source import Source

RED, BLUE, GREEN = [220, 30, 30], [30, 30, 220], [30, 200, 30]


def solid(path: Path, width: int, height: int, colour: list[int]) -> Path:
    (pyvips.Image.black(width, height, bands=3) + colour).cast("uchar").jpegsave(str(path), Q=95)
    return path


def levels(directory: Path) -> Source:
    # Colours tell which file the pixels came from; real renditions are the same picture.
    solid(directory / "original.jpg", 1600, 1200, RED)
    solid(directory / "small.jpg", 554, 416, BLUE)
    solid(directory / "thumb.jpg", 320, 240, GREEN)
    return Source(blob="a" * 64, version=3, name="original.jpg", path=directory / "original.jpg")


def variant(width: int | None, height: int | None = None, fit: str = "clip") -> Variant:
    return Variant(width=width, height=height, fit=fit, crop=None, fp_x=None, fp_y=None,  # type: ignore[arg-type]
                   format="png", quality=None, compress=False)


def colour_and_size(source: Source, wanted: Variant, smaller: tuple[Path, ...] | None = None,
                    sizes: Sizes | None = None) -> tuple[str, int, int]:
    image = pyvips.Image.new_from_buffer(render(source.path, wanted, smaller=(
        source.smaller() if smaller is None else smaller), sizes=sizes), "")
    pixel = [round(v) for v in image.getpoint(image.width // 2, image.height // 2)[:3]]
    name = {tuple(RED): "original", tuple(BLUE): "small", tuple(GREEN): "thumb"}
    nearest = min(name, key=lambda c: sum(abs(a - b) for a, b in zip(c, pixel, strict=True)))
    return name[nearest], image.width, image.height


def test_the_smallest_covering_rendition_is_read(tmp_path: Path) -> None:
    source = levels(tmp_path)
    assert source.smaller() == (tmp_path / "small.jpg", tmp_path / "thumb.jpg")
    assert colour_and_size(source, variant(300)) == ("thumb", 300, 225)
    assert colour_and_size(source, variant(320)) == ("thumb", 320, 240)
    # Sizes follow the original's aspect (1600x1200), whichever file the pixels come from.
    assert colour_and_size(source, variant(401)) == ("small", 401, 301)
    assert colour_and_size(source, variant(554)) == ("small", 554, 416)
    assert colour_and_size(source, variant(555)) == ("original", 555, 416)
    assert colour_and_size(source, variant(200, 200, "crop")) == ("thumb", 200, 200)
    assert colour_and_size(source, variant(400, 400, "crop")) == ("small", 400, 400)
    assert colour_and_size(source, variant(500, 100, "scale")) == ("small", 500, 100)


def test_missing_levels_fall_back_to_the_larger_one(tmp_path: Path) -> None:
    source = levels(tmp_path)
    (tmp_path / "small.jpg").unlink()
    assert colour_and_size(source, variant(300)) == ("original", 300, 225)
    assert colour_and_size(source, variant(300), smaller=()) == ("original", 300, 225)


def test_only_originals_have_levels_and_gifs_have_none(tmp_path: Path) -> None:
    assert Source(blob="a" * 64, version=3, name="small.jpg", path=tmp_path / "small.jpg").smaller() == (
        tmp_path / "thumb.jpg",)
    assert Source(blob="a" * 64, version=3, name="thumb.png", path=tmp_path / "thumb.png").smaller() == ()
    assert Source(blob="a" * 64, version=3, name="original.gif", path=tmp_path / "original.gif").smaller() == ()


def test_sizes_read_once_follow_a_level_made_again_or_gone(tmp_path: Path) -> None:
    source = levels(tmp_path)
    sizes = Sizes()

    def read_from(width: int) -> str:
        return colour_and_size(source, variant(width), sizes=sizes)[0]

    assert read_from(500) == "small"
    # Made again smaller than the variant: its new size is read, and the original covers it.
    (tmp_path / "small.jpg").unlink()
    solid(tmp_path / "small.jpg", 400, 300, BLUE)
    assert read_from(500) == "original"
    assert read_from(380) == "small"
    (tmp_path / "small.jpg").unlink()
    assert read_from(380) == "original"
