"""Signed transformation URLs: `s` is an HMAC-SHA256 of the path and the sorted query, without `s`.

The message is the decoded path, then, if any parameter is left, "?" and the parameters sorted by
name (then value), each name and value percent-encoded with nothing left safe, joined by "&".
Because the server signs what it decoded, any spelling of the same URL (parameter order,
"%2C" or ",") carries the same signature. The signature is URL-safe base64 without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit, urlunsplit

from gateways.transform.params import SIGNATURE


def message(path: str, pairs: Iterable[tuple[str, str]]) -> bytes:
    kept = sorted((name, value) for name, value in pairs if name != SIGNATURE)
    if not kept:
        return path.encode()
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in kept)
    return f"{path}?{query}".encode()


def signature(key: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    digest = hmac.new(key.encode(), message(path, pairs), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(key: str, path: str, pairs: Iterable[tuple[str, str]], given: str) -> bool:
    expected = signature(key, path, pairs).encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape"))


def sign_url(url: str, key: str) -> str:
    """`url` with an `s` parameter appended (replacing any it had), its other parameters as they were."""
    parts = urlsplit(url)
    pairs = [pair for pair in parse_qsl(parts.query, keep_blank_values=True) if pair[0] != SIGNATURE]
    kept = [
        segment for segment in parts.query.split("&")
        if segment and unquote_plus(segment.partition("=")[0]) != SIGNATURE
    ]
    kept.append(f"{SIGNATURE}={signature(key, unquote(parts.path), pairs)}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))
