"""Transformation parameters: strict parsing, and normalization into the cache key."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from gateways.transform.params import (
    InvalidParameter,
    Transform,
    Variant,
    accepted_types,
    focus_point,
    needs_focus,
    normalize,
    parse,
    requested,
    varies_on_accept,
)


def query(text: str) -> Transform:
    return parse(parse_qsl(text, keep_blank_values=True))


def variant(text: str, source: str = "jpg", accept: str = "",
            focus: tuple[float, float] | None = None) -> Variant:
    return normalize(query(text), source_format=source, accept=accept, focus=focus)  # type: ignore[arg-type]


def test_nothing_asked_is_the_defaults() -> None:
    assert query("") == Transform()
    assert variant("") == Variant(width=None, height=None, fit="clip", crop=None, fp_x=None, fp_y=None,
                                  format="jpg", quality=75, compress=False)


@pytest.mark.parametrize(("text", "expected"), [
    ("w=1", Transform(w=1)),
    ("w=8192&h=8192", Transform(w=8192, h=8192)),
    ("h=640", Transform(h=640)),
    *[(f"fit={fit}", Transform(fit=fit)) for fit in ("clip", "crop", "max", "min", "scale")],  # type: ignore[arg-type]
    ("crop=focalpoint&fp-x=0&fp-y=1", Transform(crop="focalpoint", fp_x=0.0, fp_y=1.0)),
    ("fp-x=0.25&fp-y=.75", Transform(fp_x=0.25, fp_y=0.75)),
    ("crop=entropy", Transform(crop="entropy")),
    ("crop=edges", Transform(crop="edges")),
    ("crop=top", Transform(crop="top")),
    ("crop=right,bottom", Transform(crop="bottom,right")),
    ("q=0", Transform(q=0)),
    ("q=100", Transform(q=100)),
    ("dpr=5", Transform(dpr=5.0)),
    ("dpr=0.5", Transform(dpr=0.5)),
    *[(f"fm={fm}", Transform(fm=fm)) for fm in ("jpg", "png", "webp", "avif")],  # type: ignore[arg-type]
    ("auto=format", Transform(auto_format=True)),
    ("auto=compress", Transform(auto_compress=True)),
    ("auto=format,compress", Transform(auto_format=True, auto_compress=True)),
])
def test_good_values(text: str, expected: Transform) -> None:
    assert query(text) == expected


@pytest.mark.parametrize(("text", "parameter"), [
    ("w=0", "w"), ("w=8193", "w"), ("w=-5", "w"), ("w=1.5", "w"), ("w=abc", "w"), ("w=", "w"), ("w=+5", "w"),
    ("w= 5", "w"), ("w=1e3", "w"), ("w=٣", "w"),
    ("h=0", "h"), ("h=99999", "h"), ("h=x", "h"),
    ("fit=fill", "fit"), ("fit=", "fit"), ("fit=CROP", "fit"),
    ("crop=faces", "crop"), ("crop=top,bottom", "crop"), ("crop=focalpoint,top", "crop"), ("crop=", "crop"),
    ("crop=left,left", "crop"),
    ("fp-x=1.01", "fp-x"), ("fp-x=-0.1", "fp-x"), ("fp-x=nan", "fp-x"), ("fp-x=", "fp-x"),
    ("fp-y=2", "fp-y"), ("fp-y=inf", "fp-y"),
    ("q=101", "q"), ("q=-1", "q"), ("q=7.5", "q"), ("q=", "q"),
    ("dpr=0", "dpr"), ("dpr=5.01", "dpr"), ("dpr=-1", "dpr"), ("dpr=two", "dpr"), ("dpr=", "dpr"),
    ("fm=gif", "fm"), ("fm=jpeg", "fm"), ("fm=", "fm"), ("fm=PNG", "fm"),
    ("auto=enhance", "auto"), ("auto=format,", "auto"), ("auto=", "auto"),
    ("w=10&w=20", "w"), ("fm=png&fm=png", "fm"),
])
def test_bad_values_name_the_parameter(text: str, parameter: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        query(text)
    assert caught.value.parameter == parameter
    assert parameter in caught.value.message


def test_unknown_names_are_ignored() -> None:
    assert query("utm_source=x&W=5&width=9&w=10") == Transform(w=10)
    assert not requested(["utm_source", "s"])
    assert requested(["utm_source", "fm"])


def test_dpr_folds_into_the_size_and_stays_within_limits() -> None:
    assert (variant("w=100&h=50&dpr=2").width, variant("w=100&h=50&dpr=2").height) == (200, 100)
    assert variant("w=100&dpr=2") == variant("w=200")
    assert variant("w=5000&dpr=3").width == 8192
    assert variant("w=3&dpr=0.1").width == 1
    assert variant("w=101&dpr=1.5").width == 152
    # Without a size, dpr has nothing to multiply.
    assert variant("dpr=2") == variant("")


def test_fit_without_a_box_collapses_to_the_equivalent_mode() -> None:
    assert variant("w=100&fit=crop") == variant("w=100")
    assert variant("w=100&fit=scale") == variant("w=100&fit=clip")
    assert variant("h=100&fit=min") == variant("h=100&fit=max")
    assert variant("fit=max") == variant("")
    assert variant("w=100&h=100&fit=scale").fit == "scale"


def test_crop_and_focal_point_only_count_when_the_fit_crops() -> None:
    assert variant("w=100&h=100&crop=entropy") == variant("w=100&h=100")
    assert variant("w=100&fit=crop&crop=focalpoint&fp-x=0.1") == variant("w=100")
    cropped = variant("w=100&h=100&fit=crop")
    assert (cropped.crop, cropped.fp_x, cropped.fp_y) == ("focalpoint", 0.5, 0.5)
    assert variant("w=100&h=100&fit=crop&crop=top,left") == variant(
        "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0&fp-y=0")
    assert variant("w=100&h=100&fit=crop&crop=right").fp_x == 1.0
    assert variant("w=100&h=100&fit=min&crop=entropy").crop == "entropy"
    one = variant("w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.2")
    assert (one.fp_x, one.fp_y) == (0.2, 0.5)
    assert variant("w=9&h=9&fit=crop&crop=focalpoint&fp-x=0.5&fp-y=0.5") == variant("h=9&fit=crop&w=9")


def test_focal_point_defaults_to_the_media_focus() -> None:
    asked = query("w=100&h=100&fit=crop&crop=focalpoint")
    assert needs_focus(asked)
    assert not needs_focus(query("w=100&h=100&fit=crop&crop=focalpoint&fp-y=0.3"))
    assert not needs_focus(query("w=100&fit=crop&crop=focalpoint"))
    assert not needs_focus(query("w=100&h=100&crop=focalpoint"))
    focused = normalize(asked, source_format="jpg", focus=(0.123456, 0.9))
    assert (focused.fp_x, focused.fp_y) == (0.1235, 0.9)
    centred = normalize(asked, source_format="jpg", focus=None)
    assert (centred.fp_x, centred.fp_y) == (0.5, 0.5)
    explicit = normalize(query("w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.7&fp-y=0.2"),
                         source_format="jpg", focus=(0.0, 0.0))
    assert (explicit.fp_x, explicit.fp_y) == (0.7, 0.2)


def test_mastodon_focus_maps_to_focal_point() -> None:
    assert focus_point(0.0, 0.0) == (0.5, 0.5)
    assert focus_point(-1.0, 1.0) == (0.0, 0.0)
    assert focus_point(1.0, -1.0) == (1.0, 1.0)
    assert focus_point(0.5, -0.5) == (0.75, 0.75)


def test_quality_defaults_and_png_has_none() -> None:
    assert variant("w=10").quality == 75
    assert variant("w=10&q=30").quality == 30
    assert variant("auto=compress").quality == 45
    assert variant("auto=compress&q=90").quality == 90
    assert variant("fm=png&q=30").quality is None
    assert variant("w=10", source="png").quality is None
    assert variant("fm=png&q=30") == variant("fm=png&q=80")


def test_output_format() -> None:
    assert variant("w=10", source="png").format == "png"
    assert variant("fm=avif", source="png").format == "avif"
    assert variant("auto=format", accept="image/avif,image/webp,*/*").format == "avif"
    assert variant("auto=format", accept="image/webp,*/*").format == "webp"
    assert variant("auto=format", accept="image/avif;q=0, image/webp;q=0.8").format == "webp"
    assert variant("auto=format", accept="*/*").format == "jpg"
    assert variant("auto=format", accept="", source="png").format == "png"
    # An explicit format wins over auto=format, and then Accept does not matter.
    assert variant("auto=format&fm=png", accept="image/avif").format == "png"
    assert varies_on_accept(query("auto=format"))
    assert not varies_on_accept(query("auto=format&fm=jpg"))
    assert not varies_on_accept(query("fm=webp"))


def test_accept_parsing() -> None:
    assert accepted_types("Image/AVIF; q=0.9 ,image/webp;q=0,text/html") == {"image/avif", "text/html"}
    assert accepted_types("image/webp;q=oops") == frozenset()
    assert accepted_types("") == frozenset()
