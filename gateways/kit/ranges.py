"""HTTP Range requests (RFC 9110 section 14) over a body held in memory.

Files are served by aiohttp's FileResponse, which answers ranges itself; this gives bodies rendered
in memory (cached transformation variants) the same answers, so a player can seek in either.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

UNIT = "bytes"


def ranged(request: web.Request, body: bytes, headers: Mapping[str, str]) -> web.Response:
    """`body` whole (200), the one range asked for (206), or 416 when that range is past its end.

    Several ranges in one request are answered with the whole body, which RFC 9110 allows; so is a
    Range header that does not parse, or one a validator in If-Range no longer matches.
    """
    out = {**headers, "Accept-Ranges": UNIT}
    wanted = request.headers.get("Range")
    if wanted is None or not _if_range_holds(request, out.get("ETag")):
        return web.Response(body=body, headers=out)
    span = _span(wanted, len(body))
    if span is None:
        return web.Response(body=body, headers=out)
    if span == UNSATISFIABLE:
        return web.Response(status=416, headers={**out, "Content-Range": f"{UNIT} */{len(body)}"})
    first, last = span
    out["Content-Range"] = f"{UNIT} {first}-{last}/{len(body)}"
    return web.Response(status=206, body=body[first:last + 1], headers=out)


def _if_range_holds(request: web.Request, etag: str | None) -> bool:
    validator = request.headers.get("If-Range")
    # Only a strong entity tag can validate a range; a date or another tag means "send it all".
    return validator is None or (etag is not None and validator.strip() == etag)


# The range cannot be served from this body: 416.
UNSATISFIABLE = (-1, -1)


def _span(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive; UNSATISFIABLE past the end; None when the header is to be ignored."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != UNIT or "," in spec:
        return None
    start, dash, end = spec.strip().partition("-")
    if not dash or not (start.isdigit() or end.isdigit()) or (start and not start.isdigit()) \
            or (end and not end.isdigit()):
        return None
    if not start:
        # A suffix: the last `end` bytes.
        length = int(end)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - length), size - 1
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if first >= size:
        return UNSATISFIABLE
    if end and int(end) < first:
        return None
    return first, last
