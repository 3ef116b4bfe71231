"""processors.blurhash_encoder against the C encoder blurhash-python ships: the same string, every time."""

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
import pyvips
from blurhash import _functions as blurhash_c

from processors import blurhash_encoder
from processors.imaging import BLURHASH_COMPONENTS, BLURHASH_INPUT_SIZE, blurhash_of, configure_vips
from tests import images

Pixels = npt.NDArray[np.uint8]


@pytest.fixture(autouse=True, scope="module")
def _vips() -> None:
    configure_vips()


def reference(rgb: Pixels, x_components: int = 4, y_components: int = 4) -> str:
    height, width = rgb.shape[0], rgb.shape[1]
    data = np.ascontiguousarray(rgb).tobytes()
    destination = blurhash_c.ffi.new("char[]", 2 + 4 + (9 * 9 - 1) * 2 + 1)
    result = blurhash_c.lib.create_hash_from_pixels(x_components, y_components, width, height,
                                                    blurhash_c.ffi.from_buffer("uint8_t[]", data), width * 3,
                                                    destination)
    assert result != blurhash_c.ffi.NULL
    encoded: str = blurhash_c.ffi.string(result).decode("ascii")
    return encoded


def mine(rgb: Pixels, x_components: int = 4, y_components: int = 4) -> str:
    height, width = rgb.shape[0], rgb.shape[1]
    return blurhash_encoder.encode(np.ascontiguousarray(rgb).tobytes(), width, height, x_components, y_components)


def shapes(rng: np.random.Generator) -> Iterator[tuple[int, int]]:
    yield from [(1, 1), (1, 2), (2, 1), (1, 100), (100, 1), (2, 3), (7, 5), (100, 100), (100, 56), (56, 100),
                (100, 75), (75, 100), (99, 100), (100, 3), (3, 100), (13, 97)]
    for _ in range(40):
        yield int(rng.integers(1, 101)), int(rng.integers(1, 101))
    # Longer than the tabled sides, and blocks of one row each.
    yield from [(101, 40), (640, 3), (3000, 1), (1, 640)]


def corpus() -> Iterator[tuple[str, Pixels]]:
    """Deterministic images: noise, flat colours, gradients, stripes, lone pixels, hard edges."""
    rng = np.random.default_rng(20261202)
    for width, height in shapes(rng):
        size = f"{width}x{height}"
        yield f"noise-{size}", rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        yield f"soft-noise-{size}", np.clip(rng.normal(128, 12, (height, width, 3)), 0, 255).astype(np.uint8)
        colour = rng.integers(0, 256, 3)
        yield f"flat-{size}", np.broadcast_to(colour.astype(np.uint8), (height, width, 3))
        y, x = np.mgrid[0:height, 0:width]
        gradient = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x * 7 + y * 3) % 256], 2)
        yield f"gradient-{size}", gradient.astype(np.uint8)
        checker = ((x + y) % 2 * 255).astype(np.uint8)
        yield f"checker-{size}", np.repeat(checker[:, :, None], 3, axis=2)
        halves = np.where(x < width / 2, 255, 0).astype(np.uint8)
        yield f"black-white-halves-{size}", np.stack([halves, halves, 255 - halves], 2)
        stripes = np.where((y // max(1, height // 8)) % 2 == 0, 255, 0).astype(np.uint8)
        yield f"stripes-{size}", np.repeat(stripes[:, :, None], 3, axis=2)
        lone = np.zeros((height, width, 3), dtype=np.uint8)
        lone[rng.integers(0, height), rng.integers(0, width)] = (255, 255, 255)
        yield f"lone-pixel-{size}", lone
        # Bytes either side of the sRGB curve's linear toe (10/255 and 11/255) and of its ends.
        edges = rng.choice(np.array([0, 1, 9, 10, 11, 12, 254, 255], dtype=np.uint8), (height, width, 3))
        yield f"curve-edges-{size}", edges
    for value in (0, 255, 10, 11):
        yield f"flat-{value}", np.full((100, 100, 3), value, dtype=np.uint8)


CORPUS = list(corpus())


def test_the_corpus_gives_the_reference_string_for_every_image() -> None:
    different = [(name, reference(rgb), mine(rgb)) for name, rgb in CORPUS if reference(rgb) != mine(rgb)]
    assert len(CORPUS) > 500
    assert different == []


@pytest.mark.parametrize(("x_components", "y_components"), [(1, 1), (9, 9), (1, 9), (9, 1), (3, 5), (5, 3)])
def test_other_component_counts_give_the_reference_string(x_components: int, y_components: int) -> None:
    different = [name for name, rgb in CORPUS[::7]
                 if reference(rgb, x_components, y_components) != mine(rgb, x_components, y_components)]
    assert different == []
    assert len(mine(CORPUS[0][1], x_components, y_components)) == 4 + 2 * x_components * y_components


def terms_of(rgb: Pixels) -> npt.NDArray[np.float32]:
    """basis x linear value as the C loop rounds it, (pixels, 48): component-major, then channel."""
    height, width = rgb.shape[0], rgb.shape[1]
    linear = blurhash_encoder.SRGB_TO_LINEAR[rgb].reshape(-1, 3)
    cos_x = blurhash_encoder.cosines(width, 4)
    cos_y = blurhash_encoder.cosines(height, 4)
    basis = (cos_y[:, None, :, None] * cos_x[None, :, None, :]).reshape(16, -1)
    return (basis.T[:, :, None] * linear[:, None, :]).reshape(-1, 48)


def test_the_sums_are_the_c_loops_pixel_by_pixel() -> None:
    rng = np.random.default_rng(5)
    for width, height in [(100, 100), (37, 61), (100, 1), (700, 4)]:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        terms = terms_of(rgb)
        running = np.zeros(48, dtype=np.float32)
        for row in terms:
            running = running + row
        sums = blurhash_encoder.factor_sums(rgb, 4, 4)
        assert sums.tobytes() == running.tobytes()
        # Summed pairwise (numpy's way along a contiguous axis), the same terms round
        # differently: this comparison can fail.
        assert np.add.reduce(np.ascontiguousarray(terms.T), axis=1).tobytes() != running.tobytes()


def test_the_corpus_tells_a_near_miss_apart() -> None:
    # The same encoder with its sums taken in double: were every image too coarse to show
    # rounding, the string comparison above could not fail.
    differing = []
    for name, rgb in CORPUS:
        sums = terms_of(rgb).astype(np.float64).sum(axis=0).astype(np.float32)
        if blurhash_encoder.from_sums(sums, rgb.shape[1], rgb.shape[0], 4, 4) != reference(rgb):
            differing.append(name)
    assert differing


def test_the_cosine_and_srgb_tables_are_not_double_precision_rounded() -> None:
    # libm's cosf and powf, which the C encoder calls, differ from correctly rounded results
    # for some arguments; the tables hold theirs.
    sides = range(1, blurhash_encoder.TABLED_SIDE + 1)
    rounded = [np.cos((np.pi * 3 * np.arange(side) / side).astype(np.float32).astype(np.float64))
               .astype(np.float32) for side in sides]
    assert any(not np.array_equal(blurhash_encoder.cosines(side, 4)[3], r) for side, r in zip(sides, rounded,
                                                                                               strict=True))


def test_blurhash_of_matches_the_c_encoder_on_what_libvips_prepares(tmp_path: object) -> None:
    sources = [images.pattern(640, 360, seed) for seed in range(4)]
    sources.append(images.pattern(300, 500, 9).bandjoin(200))
    sources.append(images.pattern(64, 64)[0].copy(interpretation="b-w"))
    sources.append(images.solid(480, 480, (250, 5, 128)))
    for image in sources:
        preview = image.thumbnail_image(BLURHASH_INPUT_SIZE, height=BLURHASH_INPUT_SIZE, size="down")
        rgb = preview.colourspace("srgb").extract_band(0, n=3).cast("uchar")
        pixels = np.frombuffer(rgb.write_to_memory(), dtype=np.uint8).reshape(rgb.height, rgb.width, 3)
        assert blurhash_of(image) == reference(pixels, BLURHASH_COMPONENTS, BLURHASH_COMPONENTS)


def test_the_blurhash_input_fits_the_tabled_sides() -> None:
    assert BLURHASH_INPUT_SIZE <= blurhash_encoder.TABLED_SIDE


@pytest.mark.parametrize(
    ("size", "components", "data"),
    [((0, 5), (4, 4), b""), ((2, 2), (0, 4), bytes(12)), ((2, 2), (4, 10), bytes(12)), ((2, 2), (4, 4), bytes(11))],
    ids=["no-pixels", "no-components", "ten-components", "short-buffer"],
)
def test_arguments_the_c_encoder_would_not_take_are_refused(size: tuple[int, int], components: tuple[int, int],
                                                            data: bytes) -> None:
    with pytest.raises(ValueError):
        blurhash_encoder.encode(data, size[0], size[1], components[0], components[1])


def test_a_vips_image_of_one_pixel() -> None:
    one = pyvips.Image.black(1, 1, bands=3).cast("uchar").copy(interpretation="srgb")
    assert blurhash_of(one) == reference(np.zeros((1, 1, 3), dtype=np.uint8))
