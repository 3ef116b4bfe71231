"""The file name an upload's `X-File-Name` header gives, as a plain name.

Clients send it in several spellings: pump.io's web client percent-encodes it (encodeURIComponent),
MediaGoblin's clients send it as it is, and browsers have handed over whole paths
("C:\\fakepath\\heron.jpg"). What is kept is the last path component, decoded, so no directory part
reaches the read model, a Content-Disposition header or an object's displayName.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

# Most filesystems take 255 bytes per name; longer ones would be cut wherever they are saved.
MAX_BYTES = 255
SEPARATORS = re.compile(r"[/\\]")
# Control characters (which would cut or split a header the name lands in), and format characters
# such as right-to-left overrides that make "gnp.exe" display as "exe.png".
HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")

BAD_FILENAME = (f"X-File-Name must name a file in at most {MAX_BYTES} bytes, without control or formatting "
                "characters.")


class BadFilename(ValueError):
    pass


def _decoded(header: str) -> str:
    try:
        return unquote(header, errors="strict")
    except UnicodeDecodeError:
        # Escapes that are no UTF-8: a literal name such as "50%ff.jpg".
        return header


def plain_filename(header: str) -> str:
    """The name in `header`, without any directory; "" when it names none ("", ".", "dir/")."""
    name = SEPARATORS.split(_decoded(header))[-1].strip()
    if any(unicodedata.category(char) in HIDDEN for char in name):
        raise BadFilename(BAD_FILENAME)
    if name in (".", ".."):
        return ""
    if len(name.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BadFilename(BAD_FILENAME)
    return name
