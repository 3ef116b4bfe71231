"""Content-Type and Content-Disposition values of uploads, read without the stdlib `email` parser when
they are in the plain form every client sends, and by aiohttp's own parsers otherwise.

aiohttp reads both through `email.headerregistry`, which costs more per upload than staging the
bytes: a multipart Content-Type carries a new boundary every time, so its cache never hits, and a
part's Content-Disposition is parsed again for each of `name` and `filename`. The quick forms below
are only taken where they give what aiohttp would; anything else (comments, quoting with escapes,
RFC 2231 or 5987 parameters, stray whitespace) goes to aiohttp.
"""

from __future__ import annotations

import re

from aiohttp import BodyPartReader, web

_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(rf"({_TOKEN}/{_TOKEN})(?:;.*)?", re.DOTALL)
# Quoted values without a backslash or a semicolon, the only characters aiohttp's parser treats apart.
_FORM_DATA = re.compile(r'form-data; name="([^"\\;]*)"(?:; filename="([^"\\;]*)")?')


def media_type(request: web.Request) -> str:
    """`request.content_type`: the lowercased type/subtype, application/octet-stream when none is sent."""
    raw = request.headers.get("Content-Type")
    quick = quick_media_type(raw) if raw is not None else None
    return quick if quick is not None else request.content_type


def charset(request: web.Request) -> str | None:
    """`request.charset`: the charset parameter of the Content-Type, if any."""
    raw = request.headers.get("Content-Type")
    if raw is not None and "charset" not in raw.lower() and quick_media_type(raw) is not None:
        return None
    return request.charset


def disposition(part: BodyPartReader) -> tuple[str | None, str | None]:
    """`(part.name, part.filename)`, read from the Content-Disposition once."""
    raw = part.headers.get("Content-Disposition")
    quick = quick_disposition(raw) if raw is not None else None
    return quick if quick is not None else (part.name, part.filename)


def quick_media_type(raw: str) -> str | None:
    """The type/subtype of a plain Content-Type, or None when it is not plain."""
    found = _MEDIA_TYPE.fullmatch(raw)
    return found.group(1).lower() if found is not None else None


def quick_disposition(raw: str) -> tuple[str, str | None] | None:
    """The name and filename of a plain form-data Content-Disposition, or None when it is not plain."""
    found = _FORM_DATA.fullmatch(raw)
    if found is None:
        return None
    # aiohttp strips leading slashes (and backslashes) from every quoted value.
    filename = found.group(2)
    return found.group(1).lstrip("/"), (filename.lstrip("/") if filename is not None else None)
