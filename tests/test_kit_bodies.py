"""The kit's body and number readers on their own: depth, forms, charsets, whole numbers."""

from __future__ import annotations

import msgspec
import pytest

from gateways.kit import bodies, numbers
from gateways.kit.bodies import FormCaps, check_depth, decode_json, parse_form
from gateways.kit.multipart import acceptable_filename
from gateways.kit.refusal import Refusal


class Change(msgspec.Struct, frozen=True):
    description: str | None = None
    ids: tuple[str, ...] = ()


CHANGE = msgspec.json.Decoder(Change)
ANY: msgspec.json.Decoder[object] = msgspec.json.Decoder()


def nested(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + "0" + close * depth).encode()


def alternating(depth: int) -> bytes:
    """Arrays in objects in arrays: each pass of the depth check must still count one level only."""
    opens = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closes = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return (opens + "0" + closes).encode()


@pytest.mark.parametrize("make", [nested, alternating, lambda d: nested(d, '{"k":', "}")])
def test_depth_32_is_accepted_and_33_refused(make: object) -> None:
    assert callable(make)
    check_depth(make(32))
    assert decode_json(make(32), ANY) is not None
    for depth in (33, 1000, 200_000):
        with pytest.raises(Refusal) as refused:
            decode_json(make(depth), ANY)
        assert (refused.value.status, refused.value.code) == (400, "invalid_json")
        assert "nested more than 32 levels" in refused.value.message


def test_brackets_inside_strings_do_not_nest() -> None:
    text = b'{"description": "' + b"[" * 5000 + b'\\"]]]' + b'"}'
    assert decode_json(text, CHANGE).description == "[" * 5000 + '"]]]'


def test_unbalanced_or_broken_json_is_not_json() -> None:
    for data in (b"[[[", b"]]]", b"[{]}", b"{not json", b"", b'{"description": "x'):
        with pytest.raises(Refusal) as refused:
            decode_json(data, ANY)
        assert (refused.value.status, refused.value.message) == (400, bodies.NOT_JSON)
    # Mismatched and too deep: refused either way.
    with pytest.raises(Refusal) as refused:
        decode_json(b"[" * 40 + b"}" * 40, ANY)
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")


def test_a_wrong_type_names_the_field_and_is_never_stored() -> None:
    for data, field in ((b'{"description": {"a": 1}}', "description"), (b'{"ids": [1]}', "ids"),
                        (b'{"description": 5}', "description")):
        with pytest.raises(Refusal) as refused:
            decode_json(data, CHANGE)
        assert (refused.value.status, refused.value.code, refused.value.parameter) == (
            400, "invalid_parameter", field)
    with pytest.raises(Refusal) as refused:
        decode_json(b"[1]", CHANGE)
    assert (refused.value.code, refused.value.message) == ("invalid_json", bodies.NOT_AN_OBJECT)


def test_forms_are_capped_strings() -> None:
    caps = FormCaps(max_bytes=1024, max_fields=4, max_name=8, max_value=10)
    assert parse_form(b"a=1&b=%C3%A9&a=2&c=", caps) == {"a": "1", "b": "é", "c": ""}
    for data, status in ((b"a=1&b=2&c=3&d=4&e=5", 400), (b"name_too_long=1", 400), (b"a=" + b"x" * 11, 413),
                         (b"a=%FF", 400)):
        with pytest.raises(Refusal) as refused:
            parse_form(data, caps)
        assert refused.value.status == status, data
    assert parse_form(b"a=%E9", caps, "latin-1") == {"a": "é"}


def test_charsets_python_does_not_know_are_refused() -> None:
    assert bodies.charset(None) == "utf-8"
    assert bodies.charset("UTF-8") == "utf-8"
    assert bodies.charset("latin1") == "iso8859-1"
    for name in ("x-no-such-charset", "base64", "rot13", "zlib", "utf\0"):
        with pytest.raises(Refusal) as refused:
            bodies.charset(name)
        assert (refused.value.status, refused.value.code) == (415, "unsupported_charset")


def test_whole_numbers_are_range_checked_before_conversion() -> None:
    assert numbers.whole("0", 10) == 0
    assert numbers.whole("10", 10) == 10
    for raw in ("11", "-1", "+1", " 1", "1_0", "²", "\u0661", "1" * 30, "9" * 5000, "", "1.0"):
        assert numbers.whole(raw, 10) is None, raw


def test_filenames() -> None:
    assert acceptable_filename("cat.png")
    assert acceptable_filename("é" * 127)
    for name in ("é" * 128, "a" * 256, "a\0b", "a\rb", "a\nb"):
        assert not acceptable_filename(name)
