"""The Mastodon media API over real HTTP, with a real broker, real libvips and real SQLite."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pyvips

from processors.worker import Processor, ProcessorSettings
from tests import images
from tests.servers import Running, bearer, make_config, start


def form(data: bytes, *, filename: str = "upload.jpg", content_type: str = "image/jpeg",
         **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return body


async def upload(http: aiohttp.ClientSession, server: Running, token: str, data: bytes,
                 version: str = "v2", **fields: str) -> tuple[int, dict]:
    async with http.post(f"{server.url}/api/{version}/media", data=form(data, **fields),
                         headers=bearer(token)) as response:
        return response.status, await response.json()


def jpeg_bytes(tmp_path: Path, width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    return images.jpeg(tmp_path / f"in-{width}x{height}-{seed}.jpg", width, height, seed=seed).read_bytes()


def stored_blobs(server: Running) -> list[Path]:
    return [p for p in server.config.blobs.rglob("*") if p.is_file()]


async def test_v1_upload_is_processed_synchronously(server: Running, http: aiohttp.ClientSession,
                                                    tmp_path: Path) -> None:
    token = await server.token("alice")
    status, body = await upload(http, server, token, jpeg_bytes(tmp_path), version="v1", description="a heron")
    assert status == 200
    assert list(body) == ["id", "type", "url", "preview_url", "remote_url", "preview_remote_url", "text_url",
                          "meta", "description", "blurhash"]
    assert body["type"] == "image" and body["description"] == "a heron"
    assert body["remote_url"] is None and body["text_url"] is None
    assert body["meta"]["original"] == {"width": 640, "height": 480, "size": "640x480", "aspect": 640 / 480}
    assert body["meta"]["small"] == {"width": 554, "height": 416, "size": "554x416", "aspect": 554 / 416}
    assert len(body["blurhash"]) == 36
    for key, size in (("url", (640, 480)), ("preview_url", (554, 416))):
        async with http.get(body[key]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            image = pyvips.Image.new_from_buffer(await response.read(), "")
            assert (image.width, image.height) == size


async def test_v2_large_photo_gets_mastodons_sizes(server: Running, http: aiohttp.ClientSession,
                                                   tmp_path: Path) -> None:
    token = await server.token("alice")
    data = images.jpeg(tmp_path / "big.jpg", 4000, 3000, flat=True).read_bytes()
    status, body = await upload(http, server, token, data)
    assert status == 200
    assert body["meta"]["original"]["size"] == "3325x2494"
    assert body["meta"]["small"]["size"] == "554x416"


async def test_v2_answers_202_then_polling_turns_206_into_200(nats_url: str, data_dir: Path,
                                                              http: aiohttp.ClientSession, tmp_path: Path) -> None:
    # No processor in this server: the upload stays queued until one is started below.
    server = await start(make_config(nats_url, data_dir, v2_sync_wait=0.2), processor=False)
    try:
        token = await server.token("alice")
        status, body = await upload(http, server, token, jpeg_bytes(tmp_path), focus="0.5,-0.25")
        assert status == 202
        assert body["url"] is None and body["preview_url"] is None and body["blurhash"] is None
        assert body["meta"] == {"focus": {"x": 0.5, "y": -0.25}}
        media = f"{server.url}/api/v1/media/{body['id']}"
        async with http.get(media, headers=bearer(token)) as response:
            assert response.status == 206
            assert (await response.json())["url"] is None
        processor = Processor(server.events, server.server.blobs, server.config.renditions,
                              server.server.limits, ProcessorSettings(concurrency=1))
        work = asyncio.create_task(processor.run())
        try:
            for _ in range(200):
                async with http.get(media, headers=bearer(token)) as response:
                    if response.status == 200:
                        done = await response.json()
                        break
                    assert response.status == 206
                await asyncio.sleep(0.05)
            else:
                pytest.fail("never processed")
        finally:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        assert done["url"] is not None and done["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    finally:
        await server.server.stop()


async def test_put_updates_description_and_focus_read_your_writes(server: Running, http: aiohttp.ClientSession,
                                                                 tmp_path: Path) -> None:
    token = await server.token("alice")
    _, body = await upload(http, server, token, jpeg_bytes(tmp_path))
    media = f"{server.url}/api/v1/media/{body['id']}"
    async with http.put(media, data={"description": "new words", "focus": "-1,1"}, headers=bearer(token)) as r:
        assert r.status == 200
        assert (await r.json())["description"] == "new words"
    async with http.get(media, headers=bearer(token)) as r:
        got = await r.json()
    assert got["description"] == "new words"
    assert got["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    async with http.put(media, json={"description": "from json"}, headers=bearer(token)) as r:
        assert (await r.json())["description"] == "from json"


@pytest.mark.parametrize("focus", ["2,0", "0,-1.5", "abc", "0.1", "0.1,0.2,0.3", "nan,0", ""])
async def test_bad_focus_is_refused(server: Running, http: aiohttp.ClientSession, tmp_path: Path,
                                    focus: str) -> None:
    token = await server.token("alice")
    _, body = await upload(http, server, token, jpeg_bytes(tmp_path))
    media = f"{server.url}/api/v1/media/{body['id']}"
    async with http.put(media, data={"focus": focus}, headers=bearer(token)) as r:
        if focus == "":
            # An empty focus means "leave it", as in Mastodon.
            assert r.status == 200
            return
        assert r.status == 422
        assert await r.json() == {
            "error": 'Validation failed: Focus must be two numbers between -1.0 and 1.0, as "x,y"'}
    before = await server.events.last_seq()
    status, refused = await upload(http, server, token, jpeg_bytes(tmp_path), focus=focus)
    assert status == 422 and "Focus" in refused["error"]
    assert await server.events.last_seq() == before


async def test_description_limit(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    status, body = await upload(http, server, token, jpeg_bytes(tmp_path), description="x" * 1500)
    assert status == 200 and len(body["description"]) == 1500
    media = f"{server.url}/api/v1/media/{body['id']}"
    too_long = {"error": "Validation failed: Description is too long (maximum is 1500 characters)"}
    async with http.put(media, data={"description": "y" * 1501}, headers=bearer(token)) as r:
        assert r.status == 422 and await r.json() == too_long
    blobs = stored_blobs(server)
    status, body = await upload(http, server, token, jpeg_bytes(tmp_path, seed=9), description="z" * 1501)
    assert status == 422 and body == too_long
    assert stored_blobs(server) == blobs


async def test_delete_then_gone(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    _, body = await upload(http, server, token, jpeg_bytes(tmp_path))
    media = f"{server.url}/api/v1/media/{body['id']}"
    async with http.delete(media, headers=bearer(token)) as r:
        assert r.status == 200 and await r.json() == {}
    async with http.get(media, headers=bearer(token)) as r:
        assert r.status == 404 and await r.json() == {"error": "Record not found"}


async def test_others_media_and_unknown_ids_are_not_found(server: Running, http: aiohttp.ClientSession,
                                                         tmp_path: Path) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    _, body = await upload(http, server, alice, jpeg_bytes(tmp_path))
    media = f"{server.url}/api/v1/media/{body['id']}"
    for method in ("GET", "PUT", "DELETE"):
        async with http.request(method, media, headers=bearer(bob), data={"description": "mine"}) as r:
            assert r.status == 404 and await r.json() == {"error": "Record not found"}
        async with http.request(method, f"{server.url}/api/v1/media/12345", headers=bearer(alice)) as r:
            assert r.status == 404 and await r.json() == {"error": "Record not found"}
    async with http.get(media, headers=bearer(alice)) as r:
        assert r.status == 200 and (await r.json())["description"] is None


async def test_tokens_and_scopes(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    read_only = await server.token("alice", "read")
    media_only = await server.token("alice", "write:media")
    data = jpeg_bytes(tmp_path)
    invalid = {"error": "The access token is invalid"}
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic YTpi"}):
        async with http.post(f"{server.url}/api/v2/media", data=form(data), headers=headers) as r:
            assert r.status == 401 and await r.json() == invalid
    status, body = await upload(http, server, read_only, data)
    assert status == 403 and body == {"error": "This action is outside the authorized scopes"}
    status, body = await upload(http, server, media_only, data)
    assert status == 200
    async with http.get(f"{server.url}/api/v1/accounts/verify_credentials", headers=bearer(read_only)) as r:
        assert r.status == 200 and (await r.json())["username"] == "alice"
    async with http.get(f"{server.url}/api/v1/accounts/verify_credentials", headers=bearer(media_only)) as r:
        assert r.status == 403


async def test_refused_uploads_leave_nothing_and_the_server_keeps_serving(
    server: Running, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    token = await server.token("alice")
    before_seq = await server.events.last_seq()
    pdf = b"%PDF-1.7\n" + b"0" * 200
    bomb = images.png_header_only(50_000, 50_000)
    over = images.png_header_only(7681, 4320)
    cases = [
        (b"just some text, not an image at all", "image/jpeg",
         422, "File type of uploaded media could not be verified"),
        (pdf, "image/png", 422, "Validation failed: File content type is invalid, File is invalid"),
        (bomb, "image/png", 422, "50000x50000 images are not supported"),
        (over, "image/png", 422, "7681x4320 images are not supported"),
        (b"", "image/jpeg", 422, "File type of uploaded media could not be verified"),
    ]
    for data, declared, status, message in cases:
        got_status, body = await upload(http, server, token, data, content_type=declared)
        assert (got_status, body) == (status, {"error": message})
    async with http.post(f"{server.url}/api/v2/media", data={"description": "no file"}, headers=bearer(token)) as r:
        assert r.status == 400
        assert await r.json() == {"error": "param is missing or the value is empty: file"}
    async with http.post(f"{server.url}/api/v2/media", data=b"raw", headers=bearer(token)) as r:
        assert r.status == 400
    assert await server.events.last_seq() == before_seq
    assert stored_blobs(server) == []
    status, body = await upload(http, server, token, jpeg_bytes(tmp_path))
    assert status == 200 and body["url"]


async def test_the_declared_type_is_ignored(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    data = images.png(tmp_path / "x.png", 300, 200).read_bytes()
    status, body = await upload(http, server, token, data, filename="lies.jpg", content_type="image/jpeg")
    assert status == 200
    assert body["url"].endswith("/original.png")


async def test_16_mib_is_refused_without_reading_past_the_cap(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    limit = 16 * 1024 * 1024
    too_large = {"error": "Validation failed: File must be less than 16 MB"}
    # Exactly the limit, with a Content-Length: refused from the header or at the cap.
    status, body = await upload(http, server, token, b"\xff\xd8\xff" + b"\0" * (limit - 3))
    assert (status, body) == (422, too_large)

    # Chunked, so no Content-Length: the stream is cut off at the cap.
    async def endless() -> AsyncIterator[bytes]:
        yield b"\xff\xd8\xff"
        for _ in range(64):
            yield b"\0" * (1024 * 1024)

    body_form = aiohttp.FormData()
    body_form.add_field("file", endless(), filename="big.jpg", content_type="image/jpeg")
    async with http.post(f"{server.url}/api/v2/media", data=body_form, headers=bearer(token)) as r:
        assert r.status == 422 and await r.json() == too_large
    assert stored_blobs(server) == []
    assert not list((server.config.blobs / "tmp").iterdir())


async def test_truncated_image_fails_processing(server: Running, http: aiohttp.ClientSession,
                                                tmp_path: Path) -> None:
    token = await server.token("alice")
    truncated = images.truncate(images.jpeg(tmp_path / "t.jpg", 800, 600), 0.6).read_bytes()
    failed = {"error": "Error processing thumbnail for uploaded media"}
    status, body = await upload(http, server, token, truncated, version="v1")
    assert (status, body) == (422, failed)
    status, body = await upload(http, server, token, truncated, version="v2")
    if status == 202:
        await asyncio.sleep(1)
    async with http.get(f"{server.url}/api/v1/media/{body.get('id', '0')}", headers=bearer(token)) as r:
        assert r.status in (404, 422)
    # The failure is in the log, and the server keeps serving.
    status, body = await upload(http, server, token, jpeg_bytes(tmp_path))
    assert status == 200


async def test_instance_endpoints(server: Running, http: aiohttp.ClientSession) -> None:
    for path in ("/api/v1/instance", "/api/v1/instance/", "/api/v2/instance", "/api/v2/instance/"):
        async with http.get(server.url + path) as r:
            assert r.status == 200
            body = await r.json()
            major, minor, _ = body["version"].split(" ")[0].split(".")
            assert (int(major), int(minor)) >= (4, 5)
    assert body["api_versions"]["mastodon"] >= 1
    assert body["configuration"]["media_attachments"] == {
        "supported_mime_types": [
            "image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp", "image/avif",
            "video/webm", "video/mp4", "video/quicktime", "video/ogg",
            "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wave", "audio/vnd.wave", "audio/ogg", "audio/vorbis",
            "audio/mpeg", "audio/mp3", "audio/webm", "audio/flac", "audio/aac", "audio/m4a", "audio/x-m4a",
            "audio/mp4", "audio/3gpp", "video/x-ms-asf",
        ],
        "description_limit": 1500,
        "image_size_limit": 16_777_216,
        "image_matrix_limit": 33_177_600,
        "video_size_limit": 103_809_024,
        "video_frame_rate_limit": 120,
        "video_matrix_limit": 8_294_400,
    }


async def test_unknown_routes_answer_json(server: Running, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/api/v1/nothing-here") as r:
        assert r.status == 404 and await r.json() == {"error": "Record not found"}
    async with http.patch(f"{server.url}/api/v2/media") as r:
        assert r.status == 405 and "error" in await r.json()


@pytest.mark.parametrize("make", ["hevc", "avif", "webp", "gif", "png_alpha"])
async def test_every_image_type_comes_out_in_a_web_format(server: Running, http: aiohttp.ClientSession,
                                                          tmp_path: Path, make: str) -> None:
    token = await server.token("alice")
    path = tmp_path / f"in.{make}"
    match make:
        case "hevc":
            images.hevc(path, 800, 600, grid=True)
            expected = ("jpg", "image/jpeg")
        case "avif":
            images.heif(path, 800, 600, brand=b"avif")
            expected = ("jpg", "image/jpeg")
        case "webp":
            images.webp(path, 800, 600)
            expected = ("webp", "image/webp")
        case "gif":
            images.gif(path, 200, 100)
            expected = ("png", "image/png")
        case _:
            images.png(path, 800, 600, alpha=True)
            expected = ("png", "image/png")
    status, body = await upload(http, server, token, path.read_bytes(), content_type="application/octet-stream")
    assert status == 200, body
    assert body["url"].endswith(f"/original.{expected[0]}")
    async with http.get(body["preview_url"]) as r:
        assert r.status == 200 and r.headers["Content-Type"] == expected[1]
