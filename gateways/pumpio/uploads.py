"""pump.io uploads: `POST /api/user/<u>/uploads`, the raw bytes or pump.io's JSON `{"mimeType", "data"}`.

Both forms stream into the same staged blob as the Mastodon API's uploads; the JSON form is decoded
from base64 as it arrives, so no more than one network chunk of it is ever held in memory. `data` may be
standard base64 or the URL-safe alphabet, padded or not: pump.io's own client sends it URL-safe without
padding, and pump.io's server (Node's base64 decoder) takes either. The type
is sniffed from the bytes; the declared Content-Type or mimeType only has to be present (a JSON upload without
a mimeType is refused, as pump.io refuses it).

Answers 200 with the image object once the processor is done, or after a few seconds with
what is known so far (`--pumpio-upload-wait`): an image still processing has no `image` and `fullImage` yet, and its
`links.self` shows them once they exist.
"""

from __future__ import annotations

import binascii
import json
import re
import sqlite3
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web

from core.ports import TooLarge
from core.probe import MediaRejected
from gateways.kit import bodies
from gateways.kit.ingest import Checked, record, stage
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.pumpio.filenames import BadFilename, plain_filename
from gateways.pumpio.objects import image_json
from gateways.pumpio.settings import PumpSettings
from gateways.pumpio.users import poster
from store.queries.media import media_by_id
from store.readmodel import FAILED, READY

CHUNK = 256 * 1024
# Room in a JSON upload for everything but the base64 data; any one other value is held whole to check it.
JSON_OVERHEAD = 64 * 1024

NO_CONTENT_TYPE = "Must supply 'Content-Type' header to upload media."
EMPTY = "The upload is empty: send the image bytes as the request body."
UNSUPPORTED = ("Unsupported media type: upload a JPEG, PNG, GIF, WebP, HEIC, HEIF or AVIF image, an MP4, MOV, "
               "WebM, Matroska or Ogg video, or an MP3, Ogg, Opus, FLAC, WAV, M4A or AAC audio file.")
CORRUPT = "The image data is truncated or corrupt."
FAILED_PROCESSING = "The uploaded image could not be processed."
BAD_JSON_UPLOAD = "A JSON upload must be an object with the base64-encoded file in 'data'."
BAD_BASE64 = "'data' is not valid base64."
# pump.io's answer to a JSON upload that does not say its type.
NO_MIME_TYPE = "No mime type"

WHITESPACE = b" \t\r\n"
QUOTE, BACKSLASH = ord('"'), ord("\\")
STRING_END_OR_ESCAPE = re.compile(rb'["\\]')
BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
# The URL-safe alphabet's two letters, as the standard alphabet spells them.
URL_SAFE = bytes.maketrans(b"-_", b"+/")
ANY_JSON: msgspec.json.Decoder[object] = msgspec.json.Decoder()
SIMPLE_ESCAPES = {ord("/"): b"/", ord("n"): b"", ord("r"): b"", ord("t"): b""}


def too_large(limit: int) -> str:
    return f"The upload is too large: it must be less than {limit // (1024 * 1024)} MB."


class BadUpload(Exception):
    pass


class JsonUpload:
    """Reads pump.io's JSON upload from a byte stream and yields the decoded `data` as it goes.

    Only the top-level object is parsed by hand: its `data` string is base64-decoded slice by slice,
    any other member is read whole (at most JSON_OVERHEAD bytes) and checked with the json module.
    """

    def __init__(self, body: AsyncIterator[bytes], max_bytes: int) -> None:
        self._body = body
        self._buf = b""
        self._pos = 0
        self._read = 0
        self._max_bytes = max_bytes

    async def _more(self) -> bool:
        while self._pos >= len(self._buf):
            chunk = await anext(self._body, None)
            if chunk is None:
                return False
            self._read += len(chunk)
            if self._read > self._max_bytes:
                raise TooLarge(self._max_bytes)
            self._buf, self._pos = chunk, 0
        return True

    async def _byte(self) -> int:
        if not await self._more():
            raise BadUpload(BAD_JSON_UPLOAD)
        value = self._buf[self._pos]
        self._pos += 1
        return value

    async def _token(self) -> int:
        while (value := await self._byte()) in WHITESPACE:
            pass
        return value

    async def _raw_string(self) -> bytes:
        """The bytes of a string whose opening quote was read, escapes kept, closing quote consumed."""
        raw = bytearray()
        while (value := await self._byte()) != QUOTE:
            raw.append(value)
            if value == BACKSLASH:
                raw.append(await self._byte())
            if len(raw) > JSON_OVERHEAD:
                raise BadUpload(BAD_JSON_UPLOAD)
        return bytes(raw)

    async def _skip_value(self, first: int) -> None:
        """Reads a member other than `data` whole, as it must be small, and checks that it is JSON."""
        raw = bytearray([first])
        if first == QUOTE:
            raw += await self._raw_string() + b'"'
        elif first in b"{[":
            depth = 1
            while depth and len(raw) <= JSON_OVERHEAD:
                value = await self._byte()
                raw.append(value)
                if value == QUOTE:
                    raw += await self._raw_string() + b'"'
                elif value in b"{[":
                    depth += 1
                elif value in b"}]":
                    depth -= 1
        else:
            # A number, true, false or null runs up to the next delimiter, which is left for the caller.
            while (value := await self._byte()) not in b",}" and value not in WHITESPACE and len(raw) <= JSON_OVERHEAD:
                raw.append(value)
            self._pos -= 1
        try:
            # Depth-checked: the json module recurses, and a 64 KB run of brackets ends in RecursionError.
            bodies.decode_json(bytes(raw), ANY_JSON)
        except Refusal:
            raise BadUpload(BAD_JSON_UPLOAD) from None

    async def _escape(self) -> bytes:
        value = await self._byte()
        if value in SIMPLE_ESCAPES:
            return SIMPLE_ESCAPES[value]
        if value == ord("u"):
            digits = bytes([await self._byte() for _ in range(4)])
            try:
                char = chr(int(digits, 16)).encode()
            except (ValueError, UnicodeEncodeError):
                raise BadUpload(BAD_BASE64) from None
            if len(char) == 1 and (char[0] in BASE64_ALPHABET or char[0] in WHITESPACE):
                return char.strip(WHITESPACE)
        raise BadUpload(BAD_BASE64)

    async def _base64(self) -> AsyncIterator[bytes]:
        pending = bytearray()
        padded = False
        done = False
        while not done:
            if not await self._more():
                raise BadUpload(BAD_JSON_UPLOAD)
            found = STRING_END_OR_ESCAPE.search(self._buf, self._pos)
            end = found.start() if found else len(self._buf)
            pending += self._buf[self._pos:end]
            self._pos = end
            if found:
                self._pos += 1
                if self._buf[end] == QUOTE:
                    done = True
                else:
                    pending += await self._escape()
            whole = pending.translate(URL_SAFE, WHITESPACE)
            if done:
                # Unpadded base64 is common enough; pad the tail rather than refuse it.
                whole += b"=" * (-len(whole) % 4)
            cut = len(whole) - len(whole) % 4
            if cut:
                try:
                    decoded = binascii.a2b_base64(bytes(whole[:cut]), strict_mode=True)
                except binascii.Error:
                    raise BadUpload(BAD_BASE64) from None
                if padded:
                    raise BadUpload(BAD_BASE64)
                padded = whole[cut - 1] == ord("=")
                yield decoded
            pending = whole[cut:]

    async def data(self) -> AsyncIterator[bytes]:
        if await self._token() != ord("{"):
            raise BadUpload(BAD_JSON_UPLOAD)
        found = typed = False
        value = await self._token()
        while value != ord("}"):
            if value != QUOTE:
                raise BadUpload(BAD_JSON_UPLOAD)
            try:
                key = json.loads(b'"' + await self._raw_string() + b'"')
            except ValueError:
                raise BadUpload(BAD_JSON_UPLOAD) from None
            if await self._token() != ord(":"):
                raise BadUpload(BAD_JSON_UPLOAD)
            first = await self._token()
            if key == "data":
                if found or first != QUOTE:
                    raise BadUpload(BAD_JSON_UPLOAD)
                found = True
                async for piece in self._base64():
                    yield piece
            elif key == "mimeType" and first == QUOTE:
                typed = bool(await self._raw_string()) or typed
            else:
                await self._skip_value(first)
            value = await self._token()
            if value == ord(","):
                value = await self._token()
                if value == ord("}"):
                    raise BadUpload(BAD_JSON_UPLOAD)
            elif value != ord("}"):
                raise BadUpload(BAD_JSON_UPLOAD)
        while await self._more():
            if self._buf[self._pos:].strip(WHITESPACE):
                raise BadUpload(BAD_JSON_UPLOAD)
            self._pos = len(self._buf)
        if not found:
            raise BadUpload(BAD_JSON_UPLOAD)
        if not typed:
            raise BadUpload(NO_MIME_TYPE)


class Counted:
    """Passes chunks through and remembers how many bytes went by, to tell an empty upload from a bad one."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            yield chunk


def _rejection(exc: MediaRejected) -> Refusal:
    if exc.kind in ("unidentified", "unsupported"):
        return Refusal(415, UNSUPPORTED)
    if exc.kind == "too_many_pixels":
        return Refusal(400, f"The {exc.media} is too large: {exc}.")
    if exc.kind == "corrupt":
        return Refusal(400, CORRUPT)
    # Video and audio past a limit: the reason, as it names the limit.
    return Refusal(400, f"The {exc.media} is refused: {exc}.")


def _json_limit(size_limit: int) -> int:
    # Base64 is 4 bytes for 3; escaped slashes ("\/") can double what is left of the worst case.
    return size_limit * 8 // 3 + JSON_OVERHEAD


async def _stage(request: web.Request) -> Checked:
    app = request.app
    settings = app[SERVICES].config.settings(PumpSettings)
    limit = max(settings.upload_size_limit, settings.av_upload_size_limit)
    is_json = request.content_type == "application/json"
    most = _json_limit(limit) if is_json else limit - 1
    if request.content_length is not None and request.content_length > most:
        raise Refusal(413, too_large(limit))
    body = request.content.iter_chunked(CHUNK)
    chunks = Counted(JsonUpload(body, most).data() if is_json else body)
    try:
        return await stage(app[SERVICES].blobs, chunks, max_bytes=settings.upload_size_limit - 1,
                           max_av_bytes=settings.av_upload_size_limit - 1, limits=app[SERVICES].limits)
    except TooLarge as exc:
        raise Refusal(413, too_large(exc.limit + 1)) from None
    except BadUpload as exc:
        raise Refusal(400, str(exc)) from None
    except MediaRejected as exc:
        if chunks.size == 0:
            raise Refusal(400, EMPTY) from None
        raise _rejection(exc) from None


async def _settled(request: web.Request, media_id: str) -> sqlite3.Row | None:
    projection = request.app[SERVICES].projection
    latest: sqlite3.Row | None = None

    async def done() -> bool:
        nonlocal latest
        latest = await media_by_id(projection, media_id)
        return latest is None or latest["status"] in (READY, FAILED)

    await projection.wait_until(done, request.app[SERVICES].config.settings(PumpSettings).pumpio_upload_wait,
                                row=("media", media_id))
    return latest


async def upload(request: web.Request) -> web.Response:
    owner = (await poster(request)).user_id
    if not request.headers.get("Content-Type"):
        raise Refusal(400, NO_CONTENT_TYPE)
    try:
        filename = plain_filename(request.headers.get("X-File-Name", ""))
    except BadFilename as exc:
        raise Refusal(400, str(exc)) from None
    checked = await _stage(request)
    app = request.app
    media_id = await record(
        checked, events=app[SERVICES].events, blobs=app[SERVICES].blobs, projection=app[SERVICES].projection,
        owner_id=owner, via="pumpio", filename=filename,
    )
    row = await _settled(request, media_id)
    if row is not None and row["status"] == FAILED:
        raise Refusal(400, FAILED_PROCESSING)
    return web.json_response(await image_json(request, media_id))


def add_routes(app: web.Application) -> None:
    for path in ("/api/user/{user}/uploads", "/api/user/{user}/uploads/"):
        app.router.add_post(path, upload)
