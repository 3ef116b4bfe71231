"""The file names an app may give, and the Content-Disposition header that carries one (RFC 6266)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

# Most filesystems take 255 bytes per name; longer names would be cut wherever they are saved.
MAX_BYTES = 255
# RFC 5987 attr-char beyond letters and digits: what filename* keeps unencoded.
ATTR_CHARS = "!#$&+-.^_`|~"


class BadFilename(ValueError):
    pass


def check(name: str) -> str:
    """`name` unchanged when it is a plain file name; BadFilename saying why not otherwise."""
    if not name.strip():
        raise BadFilename("filename must not be empty")
    if len(name.encode()) > MAX_BYTES:
        raise BadFilename(f"filename must be at most {MAX_BYTES} bytes in UTF-8")
    if "/" in name or "\\" in name:
        raise BadFilename("filename must not contain a path separator")
    if name in (".", ".."):
        raise BadFilename("filename must name a file")
    # Control characters, and format characters such as right-to-left overrides that make
    # "gnp.exe" display as "exe.png".
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in name):
        raise BadFilename("filename must not contain control or formatting characters")
    return name


def content_disposition(name: str) -> str:
    """`inline; filename="…"`, plus an RFC 5987 `filename*` when the name is not plain ASCII."""
    if name.isascii() and '"' not in name and "\\" not in name:
        return f'inline; filename="{name}"'
    # The fallback is for clients that ignore filename*: ASCII with the awkward characters replaced.
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=ATTR_CHARS)}"
