"""multipart/form-data read part by part under caps, never holding the event loop for long.

aiohttp parses; this adds what a hostile body needs: few parts (a body of 100,000 tiny fields is
refused at the cap instead of being walked through), short part headers and field names, filenames
without NUL/CR/LF, only charsets Python knows, and a yield to the loop between parts and chunks,
since parts already buffered are otherwise read without ever suspending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from gateways.kit import headervalues
from gateways.kit.bodies import TOO_LARGE, charset, too_large
from gateways.kit.refusal import Refusal

CHUNK = 256 * 1024
INVALID_MULTIPART = "invalid_multipart"
TOO_MANY_PARTS = "too_many_parts"
INVALID_FILENAME = "invalid_filename"
MALFORMED = "The multipart body is malformed"
_CONTROL = frozenset("\0\r\n")
FILENAME_BYTES = 255


class MultipartCaps(msgspec.Struct, frozen=True):
    # Mastodon's upload has four (file, thumbnail, description, focus); room for a few more.
    max_parts: int = 8
    # One header line of a part, in bytes: room for a filename of 255 bytes percent-encoded, and then some.
    max_header_bytes: int = 16 * 1024
    max_headers: int = 8
    max_name: int = 64
    max_filename: int = FILENAME_BYTES
    # The whole body as received, framing included, so parts that are skipped cannot stream on for ever.
    max_bytes: int | None = None


class Part:
    """One part: its field name, filename (None for a plain field), codec, and its bytes to read once."""

    def __init__(self, reader: BodyPartReader, name: str, filename: str | None, codec: str,
                 budget: _Budget) -> None:
        self._reader = reader
        self._budget = budget
        self.name = name
        self.filename = filename
        self.codec = codec

    async def chunks(self, size: int = CHUNK) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await self._reader.read_chunk(size)
            except ValueError:
                # The body ended inside this part, before its closing boundary.
                raise Refusal(400, MALFORMED, code=INVALID_MULTIPART) from None
            if not chunk:
                return
            self._budget.check()
            yield chunk
            await asyncio.sleep(0)

    def cap_body(self, most: int) -> None:
        """Hold the whole body to `most` bytes from now on, when this part tells what it may be."""
        self._budget.lower(most)

    async def filled(self) -> AsyncIterator[bytes] | None:
        """The part's chunks, or None when it holds no bytes (a form's file field left empty)."""
        first = await self._reader.read_chunk(CHUNK)
        if not first:
            return None
        return self._after(first)

    async def _after(self, first: bytes) -> AsyncIterator[bytes]:
        self._budget.check()
        yield first
        async for chunk in self.chunks():
            yield chunk

    async def blank(self) -> bool:
        """Whether the part holds no bytes; it is read no further than one chunk."""
        # aiohttp needs a chunk at least as long as the boundary, so never ask for just one byte.
        empty = not await self._reader.read_chunk(CHUNK)
        await self.skip()
        return empty

    async def text(self, max_chars: int) -> str:
        """The part as text, read no further than one character past what `max_chars` accepts.

        Longer text comes back cut (still longer than `max_chars`) so the caller's length check says so.
        """
        cap = (max_chars + 1) * 4
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > cap:
                await self.skip()
                return data[:cap].decode(self.codec, errors="replace")
        try:
            return data.decode(self.codec)
        except UnicodeError:
            raise Refusal(400, f"'{self.name}' is not text in its charset", code=INVALID_MULTIPART,
                          parameter=self.name) from None

    async def skip(self, limit: int | None = None) -> None:
        """Read the part to its end, refusing it with 413 past `limit` bytes."""
        seen = 0
        async for chunk in self.chunks():
            seen += len(chunk)
            if limit is not None and seen > limit:
                raise Refusal(413, f"'{self.name}' must be at most {limit} bytes", code=TOO_LARGE,
                              parameter=self.name)


class _Budget:
    """Whether the body has brought in more bytes than the caps allow (aiohttp counts what it was fed)."""

    def __init__(self, request: web.Request, most: int | None) -> None:
        self._content = request.content
        self._most = most

    def check(self) -> None:
        if self._most is not None and self._content.total_bytes > self._most:
            raise too_large(self._most)

    def lower(self, most: int) -> None:
        self._most = most if self._most is None else min(self._most, most)
        self.check()


def _checked_name(name: str | None, caps: MultipartCaps) -> str:
    if not name:
        raise Refusal(400, "Every part needs a name in its Content-Disposition", code=INVALID_MULTIPART)
    if len(name.encode("utf-8", "surrogatepass")) > caps.max_name or _CONTROL.intersection(name):
        raise Refusal(400, f"Part names must be at most {caps.max_name} bytes without control characters",
                      code=INVALID_MULTIPART)
    return name


def acceptable_filename(filename: str, most: int = FILENAME_BYTES) -> bool:
    """At most `most` bytes in UTF-8 and no NUL, CR or LF, which would cut or split a header it lands in."""
    return len(filename.encode("utf-8", "surrogatepass")) <= most and not _CONTROL.intersection(filename)


def _checked_filename(filename: str | None, name: str, caps: MultipartCaps) -> str | None:
    if filename is None:
        return None
    if not acceptable_filename(filename, caps.max_filename):
        raise Refusal(400, f"A filename must be at most {caps.max_filename} bytes without NUL, CR or LF",
                      code=INVALID_FILENAME, parameter=name)
    return filename


async def parts(request: web.Request, caps: MultipartCaps) -> AsyncIterator[Part]:
    """The parts of a multipart/form-data body in order; each is read or skipped before the next comes."""
    if not headervalues.media_type(request).startswith("multipart/"):
        raise Refusal(415, "Send a multipart/form-data body", code=INVALID_MULTIPART)
    charset(headervalues.charset(request))
    if caps.max_bytes is not None and request.content_length is not None and request.content_length > caps.max_bytes:
        raise too_large(caps.max_bytes)
    try:
        reader = MultipartReader(request.headers, request.content, max_field_size=caps.max_header_bytes,
                                 max_headers=caps.max_headers)
    except (ValueError, KeyError):
        raise Refusal(400, MALFORMED, code=INVALID_MULTIPART) from None
    budget = _Budget(request, caps.max_bytes)
    count = 0
    while True:
        await asyncio.sleep(0)
        budget.check()
        try:
            item = await reader.next()
        # ValueError: framing; BadHttpMessage: part headers too long or too many; RuntimeError and
        # AssertionError: aiohttp's own checks of a `_charset_` field under a long boundary.
        except (ValueError, BadHttpMessage, RuntimeError, AssertionError):
            raise Refusal(400, MALFORMED, code=INVALID_MULTIPART) from None
        if item is None:
            return
        count += 1
        if count > caps.max_parts:
            raise Refusal(413, f"A multipart body may have at most {caps.max_parts} parts", code=TOO_MANY_PARTS)
        if not isinstance(item, BodyPartReader):
            raise Refusal(400, "Nested multipart bodies are not accepted", code=INVALID_MULTIPART)
        given_name, given_filename = headervalues.disposition(item)
        name = _checked_name(given_name, caps)
        filename = _checked_filename(given_filename, name, caps)
        yield Part(item, name, filename, charset(item.get_charset("utf-8")), budget)
