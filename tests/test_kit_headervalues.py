"""The quick readings of upload headers give what aiohttp's own parsers give, for every form of value."""

from __future__ import annotations

import pytest
from aiohttp import BodyPartReader
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy

from gateways.kit import headervalues

CONTENT_TYPES = [
    "multipart/form-data; boundary=2b3c8e1a0f9d4d6c",
    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "Multipart/Form-Data; boundary=x",
    "multipart/form-data",
    "multipart/form-data;boundary=abc",
    'multipart/form-data; boundary="quoted;boundary"',
    "multipart/form-data; charset=latin-1; boundary=x",
    "multipart/form-data; CHARSET=utf-16; boundary=x",
    "multipart/form-data; charset*=utf-8''utf-8; boundary=x",
    "multipart/form-data ; boundary=x",
    " multipart/form-data; boundary=x",
    "multipart/form-data (a comment); boundary=x",
    "multipart / form-data; boundary=x",
    "multipart",
    "",
    "text/plain; charset=utf-8",
    "application/json",
    "image/jpeg",
    "a/b/c",
]

DISPOSITIONS = [
    'form-data; name="file"; filename="upload.jpg"',
    'form-data; name="file"; filename=""',
    'form-data; name="description"',
    'form-data; name=""',
    'form-data; name="/lead"; filename="//etc/passwd"',
    'form-data; name="file"; filename="a\\"b.jpg"',
    'form-data; name="file"; filename="semi;colon.jpg"',
    "form-data; name=file; filename=plain.jpg",
    "form-data; name=\"file\"; filename*=UTF-8''%E2%82%AC.jpg",
    'form-data; name="file"; filename="x.jpg"; filename*=utf-8\'\'y.jpg',
    'form-data;name="file";filename="tight.jpg"',
    'Form-Data; name="file"; filename="case.jpg"',
    'form-data; name="file";  filename="twospaces.jpg"',
    'form-data; name="file"; name="again"',
    'attachment; filename="x.jpg"',
    'form-data; name="caf\u00e9"; filename="\u00fc.jpg"',
    "form-data",
    "",
]


@pytest.mark.parametrize("value", CONTENT_TYPES)
def test_the_media_type_and_charset_are_aiohttp_s(value: str) -> None:
    quick = make_mocked_request("POST", "/", headers={"Content-Type": value})
    slow = make_mocked_request("POST", "/", headers={"Content-Type": value})
    assert headervalues.media_type(quick) == slow.content_type
    assert headervalues.charset(quick) == slow.charset


def test_no_content_type_reads_as_octet_stream() -> None:
    request = make_mocked_request("POST", "/")
    assert headervalues.media_type(request) == "application/octet-stream"
    assert headervalues.charset(request) is None


def _part(disposition: str | None) -> BodyPartReader:
    headers = CIMultiDict[str]()
    if disposition is not None:
        headers["Content-Disposition"] = disposition
    return BodyPartReader(b"--x", CIMultiDictProxy(headers), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [*DISPOSITIONS, None])
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionParam")
def test_the_name_and_filename_are_aiohttp_s(value: str | None) -> None:
    part = _part(value)
    assert headervalues.disposition(part) == (part.name, part.filename)


def test_the_plain_form_is_read_quickly() -> None:
    # Guards the quick path itself: were it never taken, the comparisons above would still pass.
    assert headervalues.quick_disposition('form-data; name="/f"; filename="/a.jpg"') == ("f", "a.jpg")
    assert headervalues.quick_disposition('form-data; name="f"') == ("f", None)
    assert headervalues.quick_disposition('form-data; name="f"; filename="a\\"b"') is None
    assert headervalues.quick_media_type("Multipart/Form-Data; boundary=x") == "multipart/form-data"
    assert headervalues.quick_media_type("multipart/form-data (c); boundary=x") is None
