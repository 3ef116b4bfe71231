"""Presigned uploads over real HTTP: a real broker, real libvips and real SQLite behind a started server."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest
import pyvips

from core.events import MediaRequested, MediaUploaded
from tests import images
from tests.servers import Running, bearer, make_config, start

CAP = 1024 * 1024


pytestmark = pytest.mark.server(presigned_size_limit=CAP)


async def grant(http: aiohttp.ClientSession, server: Running, token: str, filename: str = "cat.png",
                content_type: str = "image/png") -> dict[str, Any]:
    async with http.post(f"{server.url}/media", json={"filename": filename, "contentType": content_type},
                         headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def put(http: aiohttp.ClientSession, granted: dict[str, Any], data: Any, *, url: str | None = None,
              content_type: str | None = None) -> tuple[int, dict[str, Any]]:
    """PUT the way the docs tell an app to: the returned headers, no Authorization."""
    headers = {
        "Content-Type": content_type or granted["media"]["contentType"],
        "Content-Disposition": granted["contentDispositionHeader"],
    }
    async with http.put(url or granted["uploadUrl"], data=data, headers=headers) as response:
        return response.status, await response.json()


async def status(http: aiohttp.ClientSession, server: Running, token: str, media_id: str) -> tuple[int, dict]:
    async with http.get(f"{server.url}/media/{media_id}", headers=bearer(token)) as response:
        return response.status, await response.json()


async def until_settled(http: aiohttp.ClientSession, server: Running, token: str, media_id: str) -> dict:
    for _ in range(600):
        code, body = await status(http, server, token, media_id)
        assert code == 200
        if body["status"] in ("ready", "failed"):
            return body
        await asyncio.sleep(0.05)
    pytest.fail("never processed")


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def png_bytes(tmp_path: Path, width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return images.png(tmp_path / f"in-{width}x{height}-{seed}.png", width, height, seed=seed).read_bytes()


class Untouched:
    """What a refused upload must leave as it was: the log, the blob store, the temp files."""

    def __init__(self, server: Running, seq: int) -> None:
        self.server = server
        self.seq = seq

    @classmethod
    async def now(cls, server: Running) -> Untouched:
        return cls(server, await server.events.last_seq())

    async def check(self) -> None:
        assert await self.server.events.last_seq() == self.seq
        assert await self.server.server.blobs.stored() == []
        assert self.server.server.blobs.leftovers() == []


async def events_of(server: Running) -> list[Any]:
    return [record.event async for record in server.events.read(1, follow=False)]


async def test_the_documented_flow(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    media = granted["media"]
    assert media["filename"] == "cat.png" and media["contentType"] == "image/png"
    assert granted["contentDispositionHeader"] == 'inline; filename="cat.png"'
    assert granted["uploadUrl"].startswith(f"{server.url}/media/{media['id']}/upload?")

    code, pending = await status(http, server, token, media["id"])
    assert code == 200
    assert pending == {
        "id": media["id"], "filename": "cat.png", "contentType": "image/png", "kind": "image", "size": None,
        "width": None,
        "height": None, "status": "pending", "publicDownloadUrl": None, "blurHash": None, "canonicalUri": None,
        "createdAt": pending["createdAt"],
    }

    data = png_bytes(tmp_path, 640, 480)
    code, uploaded = await put(http, granted, data)
    assert code == 200, uploaded
    assert uploaded["status"] in ("processing", "ready")
    assert (uploaded["size"], uploaded["width"], uploaded["height"]) == (len(data), 640, 480)

    ready = await until_settled(http, server, token, media["id"])
    assert ready["status"] == "ready"
    assert ready["createdAt"] == pending["createdAt"]
    assert len(ready["blurHash"]) >= 6
    upload = next(e for e in await events_of(server) if isinstance(e, MediaUploaded))
    assert (upload.media_id, upload.via, upload.filename) == (media["id"], "presigned", "cat.png")
    assert ready["canonicalUri"] == f"{server.url}/media/sha256/{upload.blob}"
    async with http.get(ready["publicDownloadUrl"]) as response:
        assert response.status == 200
        image = pyvips.Image.new_from_buffer(await response.read(), "")
    assert (image.width, image.height) == (640, 480)
    # The request is gone from the pending table once its bytes came.
    assert await server.projection.one("SELECT * FROM requests", ()) is None


async def test_granting_refusals(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    reader = await server.token("bob", "read")
    untouched = await Untouched.now(server)
    url = f"{server.url}/media"
    good = {"filename": "cat.png", "contentType": "image/png"}
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({"json": good}, 401, "unauthorized", None),
        ({"json": good, "headers": bearer("nonsense")}, 401, "unauthorized", None),
        ({"json": good, "headers": bearer(reader)}, 403, "forbidden", None),
        ({"data": b"{not json", "headers": bearer(token)}, 400, "invalid_json", None),
        ({"json": ["a list"], "headers": bearer(token)}, 400, "invalid_json", None),
        ({"json": {"contentType": "image/png"}, "headers": bearer(token)}, 400, "missing_parameter", "filename"),
        ({"json": {"filename": "a.png"}, "headers": bearer(token)}, 400, "missing_parameter", "contentType"),
        ({"json": {"filename": 7, "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "../etc/passwd", "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "a\\b.png", "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "a\nb.png", "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "gnp\u202e.exe", "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "x" * 252 + ".png", "contentType": "image/png"}, "headers": bearer(token)}, 400,
         "invalid_parameter", "filename"),
        ({"json": {"filename": "a.svg", "contentType": "image/svg+xml"}, "headers": bearer(token)}, 415,
         "unsupported_media_type", "contentType"),
        ({"json": {"filename": "a.heic", "contentType": "image/heic"}, "headers": bearer(token)}, 415,
         "unsupported_media_type", "contentType"),
        ({"data": b" " * 20_000, "headers": bearer(token)}, 413, "too_large", None),
    ]
    for kwargs, expected, code, parameter in cases:
        async with http.post(url, **kwargs) as response:
            body = await response.json()
            assert (response.status, body["code"]) == (expected, code), (kwargs, body)
            assert body.get("parameter") == parameter
            assert body["error"]
    await untouched.check()


async def test_filenames_beyond_ascii_get_an_rfc_6266_header(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token, filename='Kätzchen "süß".png', content_type="IMAGE/PNG")
    assert granted["media"]["contentType"] == "image/png"
    assert granted["contentDispositionHeader"] == (
        "inline; filename=\"K_tzchen _s___.png\"; filename*=UTF-8''K%C3%A4tzchen%20%22s%C3%BC%C3%9F%22.png"
    )
    code, body = await status(http, server, token, granted["media"]["id"])
    assert code == 200 and body["filename"] == 'Kätzchen "süß".png'


async def test_upload_refusals_leave_nothing_and_keep_the_url_usable(
    server: Running, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    untouched = await Untouched.now(server)
    url = granted["uploadUrl"]
    data = png_bytes(tmp_path)
    jpeg = images.jpeg(tmp_path / "a.jpg", 64, 48).read_bytes()
    truncated = images.truncate(images.png(tmp_path / "cut.png", 300, 200), 0.6).read_bytes()
    signature = dict(parse_qsl(urlsplit(url).query))["sig"]
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"url": with_query(url, sig=tampered)}, 403, "signature_mismatch"),
        ({"url": url.split("?")[0]}, 403, "signature_mismatch"),
        ({"url": with_query(url, max=str(CAP * 10))}, 403, "signature_mismatch"),
        ({"url": with_query(url, ct="image/jpeg"), "content_type": "image/jpeg"}, 403, "signature_mismatch"),
        ({"url": with_query(url, exp="99999999999")}, 403, "signature_mismatch"),
        ({"url": url.replace(f"/media/{granted['media']['id']}/", "/media/1234/")}, 403, "signature_mismatch"),
        ({"content_type": "image/jpeg"}, 415, "content_type_mismatch"),
        ({"content_type": "application/octet-stream"}, 415, "content_type_mismatch"),
        ({"data": b"\0" * (CAP + 1)}, 413, "too_large"),
        ({"data": jpeg}, 415, "type_mismatch"),
        ({"data": b"just some text, no image at all"}, 415, "type_mismatch"),
        ({"data": b""}, 415, "type_mismatch"),
        ({"data": truncated}, 422, "corrupt_image"),
        ({"data": images.png_header_only(12_001, 10)}, 422, "too_many_pixels"),
        ({"data": images.png_header_only(10_001, 10_001)}, 422, "too_many_pixels"),
        ({"data": images.png_header_only(50_000, 50_000)}, 422, "too_many_pixels"),
    ]
    for case, expected, code in cases:
        got, body = await put(http, granted, case.get("data", data), url=case.get("url"),
                              content_type=case.get("content_type"))
        assert (got, body["code"]) == (expected, code), (case.get("url"), body)
        await untouched.check()
    # Nothing was recorded, so every refusal released its claim: the URL still works.
    got, body = await put(http, granted, data)
    assert got == 200 and body["id"] == granted["media"]["id"]
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200


async def test_an_expired_url_is_refused(nats_url: str, data_dir: Path, http: aiohttp.ClientSession,
                                         tmp_path: Path) -> None:
    server = await start(make_config(nats_url, data_dir, upload_url_ttl=0.5), processor=False)
    try:
        token = await server.token("alice")
        granted = await grant(http, server, token)
        await asyncio.sleep(1.6)
        untouched = await Untouched.now(server)
        code, body = await put(http, granted, png_bytes(tmp_path))
        assert (code, body) == (403, {"error": "Request has expired", "code": "request_expired"})
        await untouched.check()
    finally:
        await server.server.stop()


async def test_a_used_url_is_refused(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    assert (await put(http, granted, png_bytes(tmp_path)))[0] == 200
    # Processed first, so that the only event that could still come is a second upload.
    await until_settled(http, server, token, granted["media"]["id"])
    untouched = await Untouched.now(server)
    blobs = await server.server.blobs.stored()
    for data in (png_bytes(tmp_path), png_bytes(tmp_path, seed=3)):
        code, body = await put(http, granted, data)
        assert (code, body["code"]) == (409, "already_used")
    assert await server.events.last_seq() == untouched.seq
    assert await server.server.blobs.stored() == blobs
    assert server.server.blobs.leftovers() == []


async def test_two_concurrent_uploads_exactly_one_lands(server: Running, http: aiohttp.ClientSession,
                                                       tmp_path: Path) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    bodies = [png_bytes(tmp_path, 400, 300, seed=seed) for seed in range(4)]
    results = await asyncio.gather(*(put(http, granted, body) for body in bodies))
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409, 409, 409]
    assert all(body["code"] == "already_used" for code, body in results if code == 409)
    uploads = [e for e in await events_of(server) if isinstance(e, MediaUploaded)]
    assert len(uploads) == 1
    assert [sha for sha, _ in await server.server.blobs.stored()] == [uploads[0].blob]
    assert server.server.blobs.leftovers() == []


async def test_a_chunked_body_is_cut_off_at_the_cap(server: Running, http: aiohttp.ClientSession,
                                                   tmp_path: Path) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    untouched = await Untouched.now(server)
    head = png_bytes(tmp_path)
    sent = 0

    async def endless_png() -> AsyncIterator[bytes]:
        # No Content-Length: the cap can only be enforced while reading.
        nonlocal sent
        yield head
        sent += len(head)
        while sent < 3 * CAP:
            yield b"\0" * 65536
            sent += 65536

    code, body = await put(http, granted, endless_png())
    assert (code, body["code"]) == (413, "too_large")
    await untouched.check()
    # The claim went back with the refusal.
    assert (await put(http, granted, head))[0] == 200


async def test_status_is_for_the_uploader_only(server: Running, http: aiohttp.ClientSession,
                                               tmp_path: Path) -> None:
    alice = await server.token("alice")
    bob = await server.token("bob")
    granted = await grant(http, server, alice)
    media_id = granted["media"]["id"]
    for token, path in ((bob, media_id), (alice, "12345"), (bob, "12345")):
        code, body = await status(http, server, token, path)
        assert (code, body["code"]) == (404, "not_found")
    async with http.get(f"{server.url}/media/{media_id}") as response:
        assert (response.status, (await response.json())["code"]) == (401, "unauthorized")
    assert (await put(http, granted, png_bytes(tmp_path)))[0] == 200
    code, body = await status(http, server, bob, media_id)
    assert (code, body["code"]) == (404, "not_found")
    # A read-only token of the uploader may look.
    reader = await server.token("alice", "read")
    assert (await status(http, server, reader, media_id))[0] == 200


async def test_failed_processing_is_reported(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token)
    # A complete PNG container whose pixel data is far too short: only decoding can tell.
    code, _ = await put(http, granted, images.png_header_only(300, 200))
    assert code == 200
    settled = await until_settled(http, server, token, granted["media"]["id"])
    assert settled["status"] == "failed" and settled["failure"]
    assert settled["publicDownloadUrl"] is None and settled["canonicalUri"] is None


async def test_a_40_megapixel_png_is_processed(server: Running, http: aiohttp.ClientSession,
                                               tmp_path: Path) -> None:
    # Over Mastodon's 33,177,600 px, within the presigned 100 MP: the processor must not refuse it.
    path = tmp_path / "big.png"
    images.solid(8000, 5000).pngsave(str(path))
    token = await server.token("alice")
    granted = await grant(http, server, token, filename="big.png")
    code, body = await put(http, granted, path.read_bytes())
    assert code == 200, body
    settled = await until_settled(http, server, token, granted["media"]["id"])
    assert settled["status"] == "ready", settled
    assert (settled["width"], settled["height"]) == (8000, 5000)


async def test_the_request_event_carries_the_grant(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    granted = await grant(http, server, token, filename="a.webp", content_type="image/webp")
    (requested,) = [e for e in await events_of(server) if isinstance(e, MediaRequested)]
    query = dict(parse_qsl(urlsplit(granted["uploadUrl"]).query))
    assert requested.media_id == granted["media"]["id"] and requested.owner_id == "alice"
    assert (requested.content_type, requested.max_bytes) == ("image/webp", CAP)
    assert (query["ct"], int(query["max"]), float(query["exp"])) == ("image/webp", CAP, requested.expires_at)


def jpeg_claiming(tmp_path: Path, width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim width x height."""
    data = bytearray(images.jpeg(tmp_path / "claim.jpg", 16, 16).read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose one frame claims width x height and holds a single pixel of data."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return head + b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00\x3b"


def webp_claiming(tmp_path: Path, width: int, height: int) -> bytes:
    """A small real lossless WebP whose VP8L header is rewritten to claim width x height."""
    path = tmp_path / "claim.webp"
    images.solid(16, 16).webpsave(str(path), lossless=True, keep="none")
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[21:25] = bits.to_bytes(4, "little")
    return bytes(data)


async def test_every_type_is_held_to_the_side_and_area_limits(server: Running, http: aiohttp.ClientSession,
                                                              tmp_path: Path) -> None:
    token = await server.token("alice")
    wide = images.solid(12_001, 8)
    cases = [
        ("image/jpeg", images.jpeg(tmp_path / "wide.jpg", 12_001, 8).read_bytes()),
        ("image/jpeg", jpeg_claiming(tmp_path, 10_001, 10_001)),
        ("image/gif", images.gif(tmp_path / "wide.gif", 12_001, 8).read_bytes()),
        # libvips reads a GIF's size from its frames, not its canvas: the frame makes the claim.
        ("image/gif", gif_claiming(10_001, 10_001)),
        ("image/webp", wide.webpsave_buffer(lossless=True)),
        ("image/webp", webp_claiming(tmp_path, 10_001, 10_001)),
        ("image/png", wide.pngsave_buffer()),
    ]
    for content_type, data in cases:
        granted = await grant(http, server, token, filename="big", content_type=content_type)
        untouched = await Untouched.now(server)
        code, body = await put(http, granted, data)
        assert (code, body.get("code")) == (422, "too_many_pixels"), (content_type, body)
        await untouched.check()
    # Exactly at the limits is fine: 12,000 px on a side.
    granted = await grant(http, server, token, filename="edge.png", content_type="image/png")
    code, body = await put(http, granted, images.solid(12_000, 8).pngsave_buffer())
    assert code == 200, body
