"""Hostile request bodies and numbers over real HTTP: each is a 4xx in its protocol's shape, nothing is
written, and the server keeps answering."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import requests

from tests import images
from tests.pumpclient import register_client, signer
from tests.servers import Running, bearer
from tests.test_pumpio_feed import Pump, login

BOUNDARY = "hostile-boundary-1234"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
THUMBNAIL = {"error": "Validation failed: Thumbnail must be blank"}
DEEP = "The request body is nested more than 32 levels deep"


# No processor: every refusal here comes before processing, and an upload that is accepted stays pending.
pytestmark = pytest.mark.server(processor=False, v1_sync_wait=0.2, v2_sync_wait=0.2, pumpio_upload_wait=0.2)


def part(disposition: str, data: bytes = b"", content_type: str | None = None) -> bytes:
    head = f"Content-Disposition: form-data; {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return f"--{BOUNDARY}\r\n".encode() + head.encode() + b"\r\n" + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def deep(depth: int = 5000) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def jpeg(tmp_path: Path, seed: int = 0) -> bytes:
    return images.jpeg(tmp_path / f"in-{seed}.jpg", 64, 48, seed=seed).read_bytes()


def stored_blobs(server: Running) -> list[Path]:
    return [p for p in server.config.blobs.rglob("*") if p.is_file()]


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, await response.json()


async def still_serving(http: aiohttp.ClientSession, server: Running) -> None:
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200


async def test_a_thumbnail_part_is_refused_on_v1_and_v2_uploads(server: Running, http: aiohttp.ClientSession,
                                                               tmp_path: Path) -> None:
    token = await server.token("alice")
    before = await server.events.last_seq()
    image = jpeg(tmp_path)
    for version in ("v1", "v2"):
        # As a client library sends it: no Content-Length on the parts, which aiohttp once tripped over.
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(image), filename="a.jpg", content_type="image/jpeg")
        form.add_field("thumbnail", io.BytesIO(jpeg(tmp_path, seed=1)), filename="t.jpg", content_type="image/jpeg")
        async with http.post(f"{server.url}/api/{version}/media", data=form, headers=bearer(token)) as r:
            assert await answer(r) == (422, THUMBNAIL)
        # Thumbnail first, and as a plain field.
        raw = body(part('name="thumbnail"', b"x"), part('name="file"; filename="a.jpg"', image, "image/jpeg"))
        async with http.post(f"{server.url}/api/{version}/media", data=raw,
                             headers=bearer(token, **{"Content-Type": MULTIPART})) as r:
            assert await answer(r) == (422, THUMBNAIL)
    assert await server.events.last_seq() == before
    assert stored_blobs(server) == []
    # A blank thumbnail is what Mastodon asks for, and is accepted.
    raw = body(part('name="file"; filename="a.jpg"', image, "image/jpeg"), part('name="thumbnail"; filename=""'))
    async with http.post(f"{server.url}/api/v2/media", data=raw,
                         headers=bearer(token, **{"Content-Type": MULTIPART})) as r:
        assert r.status == 202


async def test_bad_filenames_charsets_and_too_many_parts(server: Running, http: aiohttp.ClientSession,
                                                         tmp_path: Path) -> None:
    token = await server.token("alice")
    before = await server.events.last_seq()
    image = jpeg(tmp_path)
    bad_filename = {"error": "A filename must be at most 255 bytes without NUL, CR or LF"}
    malformed = {"error": "The multipart body is malformed"}
    unknown = {"error": "The request names a charset this server does not know"}

    def with_file(disposition: str, *extra: bytes) -> bytes:
        return body(*extra, part(f'name="file"; {disposition}', image, "image/jpeg"))

    cases: list[tuple[bytes, str, int, dict[str, str]]] = [
        (with_file('filename="' + "a" * 10_000 + '.jpg"'), MULTIPART, 400, bad_filename),
        (with_file('filename="' + "a" * 256 + '"'), MULTIPART, 400, bad_filename),
        (with_file("filename*=utf-8''" + quote("é" * 128)), MULTIPART, 400, bad_filename),
        (with_file('filename="' + "a" * 20_000 + '.jpg"'), MULTIPART, 400, malformed),
        (with_file("filename*=utf-8''a%00b.jpg"), MULTIPART, 400, bad_filename),
        (with_file("filename*=utf-8''a%0D%0Ab.jpg"), MULTIPART, 400, bad_filename),
        (with_file("filename*=utf-8''a%0Ab.jpg"), MULTIPART, 400, bad_filename),
        (with_file('filename="a.jpg"'), MULTIPART + "; charset=x-no-such-charset", 415, unknown),
        (with_file('filename="a.jpg"'), MULTIPART + "; charset=base64", 415, unknown),
        (with_file('filename="a.jpg"', part('name="description"', b"hi", "text/plain; charset=x-no-such")),
         MULTIPART, 415, unknown),
        # aiohttp (3.14) misreads any body that opens with a `_charset_` field: refused, never a 500.
        (with_file('filename="a.jpg"', part('name="_charset_"', b"x-no-such")), MULTIPART, 400, malformed),
        (with_file('filename="a.jpg"', *(part(f'name="f{i}"') for i in range(8))), MULTIPART, 413,
         {"error": "A multipart body may have at most 8 parts"}),
        (with_file('filename="a.jpg"', part('name="' + "n" * 65 + '"')), MULTIPART, 400,
         {"error": "Part names must be at most 64 bytes without control characters"}),
        (with_file('filename="a.jpg"', part("filename=x")), MULTIPART, 400,
         {"error": "Every part needs a name in its Content-Disposition"}),
        (b"--" + BOUNDARY.encode() + b"\r\nno headers end", MULTIPART, 400, malformed),
        (with_file('filename="a.jpg"'), "multipart/form-data", 400, malformed),
    ]
    for data, content_type, status, expected in cases:
        for version in ("v1", "v2"):
            async with http.post(f"{server.url}/api/{version}/media", data=data,
                                 headers=bearer(token, **{"Content-Type": content_type})) as r:
                assert await answer(r) == (status, expected), (data[:120], content_type)
    assert await server.events.last_seq() == before
    assert stored_blobs(server) == []
    await still_serving(http, server)
    # The same upload with a sound name goes through.
    async with http.post(f"{server.url}/api/v2/media", data=with_file('filename="a.jpg"'),
                         headers=bearer(token, **{"Content-Type": MULTIPART})) as r:
        assert r.status == 202


async def test_put_refuses_thumbnails_wrong_types_and_deep_json(server: Running, http: aiohttp.ClientSession,
                                                                tmp_path: Path) -> None:
    token = await server.token("alice")
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(jpeg(tmp_path)), filename="a.jpg", content_type="image/jpeg")
    form.add_field("description", "a heron")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 202
        media = f"{server.url}/api/v1/media/{(await r.json())['id']}"
    before = await server.events.last_seq()
    as_json = {"Content-Type": "application/json"}
    cases: list[tuple[dict[str, Any], int, dict[str, str]]] = [
        ({"data": body(part('name="thumbnail"; filename="t.jpg"', jpeg(tmp_path, 1), "image/jpeg")),
          "headers": {"Content-Type": MULTIPART}}, 422, THUMBNAIL),
        ({"data": body(part('name="description"', b"x"), part('name="thumbnail"', b"t")),
          "headers": {"Content-Type": MULTIPART}}, 422, THUMBNAIL),
        ({"data": {"thumbnail": "x", "description": "y"}}, 422, THUMBNAIL),
        ({"data": b'{"thumbnail": "x"}', "headers": as_json}, 422, THUMBNAIL),
        ({"data": b'{"description": {"a": 1}}', "headers": as_json}, 422,
         {"error": "Validation failed: Description must be a string"}),
        ({"data": b'{"focus": [0.5, 0.5]}', "headers": as_json}, 422,
         {"error": "Validation failed: Focus must be a string"}),
        ({"data": deep(), "headers": as_json}, 400, {"error": DEEP}),
        ({"data": b"[" * 100_000 + b"]" * 100_000, "headers": as_json}, 413,
         {"error": "The request body must be at most 196608 bytes"}),
        ({"data": b"{", "headers": as_json}, 400, {"error": "Invalid JSON body"}),
        ({"data": b"description=x", "headers": {"Content-Type": "application/x-www-form-urlencoded; charset=nope"}},
         415, {"error": "The request names a charset this server does not know"}),
        ({"data": "&".join(f"f{i}=" for i in range(100_000)),
          "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
         413, {"error": "The request body must be at most 196608 bytes"}),
        ({"data": "&".join(f"f{i}=" for i in range(33)),
          "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
         400, {"error": "The form must be url-encoded text of at most 32 fields"}),
        ({"data": body(*(part(f'name="f{i}"') for i in range(9))), "headers": {"Content-Type": MULTIPART}}, 413,
         {"error": "A multipart body may have at most 8 parts"}),
        ({"data": body(part('name="description"', b"x" * 200_000)), "headers": {"Content-Type": MULTIPART}}, 413,
         {"error": "The request body must be at most 196608 bytes"}),
    ]
    for options, status, expected in cases:
        headers = bearer(token, **options.pop("headers", {}))
        async with http.put(media, headers=headers, **options) as r:
            assert await answer(r) == (status, expected), options
    assert await server.events.last_seq() == before
    async with http.get(media, headers=bearer(token)) as r:
        assert (await r.json())["description"] == "a heron"
    # Each encoding still updates.
    for options, description in (({"json": {"description": "json"}}, "json"),
                                 ({"data": {"description": "form"}}, "form"),
                                 ({"data": body(part('name="description"', "multipart é".encode())),
                                   "headers": {"Content-Type": MULTIPART}}, "multipart é")):
        headers = bearer(token, **options.pop("headers", {}))
        async with http.put(media, headers=headers, **options) as r:
            assert r.status in (200, 206)
            assert (await r.json())["description"] == description


async def test_post_media_refuses_deep_json_and_unknown_charsets(server: Running,
                                                                 http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    before = await server.events.last_seq()
    cases: list[tuple[bytes, str, int, dict[str, Any]]] = [
        (deep(1000), "application/json", 400, {"error": DEEP, "code": "invalid_json"}),
        (b"[" * 40 + b"]" * 40, "application/json", 400, {"error": DEEP, "code": "invalid_json"}),
        (b'{"filename": "a.png", "contentType": "image/png"}', "application/json; charset=x-nope", 415,
         {"error": "The request names a charset this server does not know", "code": "unsupported_charset"}),
        (b'{"filename": {"a": 1}, "contentType": "image/png"}', "application/json", 400,
         {"error": "filename must be a string", "code": "invalid_parameter", "parameter": "filename"}),
        (b'{"filename": "a.png", "contentType": 7}', "application/json", 400,
         {"error": "contentType must be a string", "code": "invalid_parameter", "parameter": "contentType"}),
    ]
    for data, content_type, status, expected in cases:
        async with http.post(f"{server.url}/media", data=data,
                             headers=bearer(token, **{"Content-Type": content_type})) as r:
            assert await answer(r) == (status, expected), data[:60]
    assert await server.events.last_seq() == before
    # A known charset other than UTF-8 is decoded as such.
    latin = '{"filename": "café.png", "contentType": "image/png"}'.encode("latin-1")
    async with http.post(f"{server.url}/media", data=latin,
                         headers=bearer(token, **{"Content-Type": "application/json; charset=latin-1"})) as r:
        assert r.status == 200 and (await r.json())["media"]["filename"] == "café.png"


def _register(url: str, **options: Any) -> tuple[int, Any]:
    response = requests.post(f"{url}/api/client/register", timeout=10, **options)
    return response.status_code, response.json()


async def test_client_registration_is_capped_before_the_append(server: Running,
                                                               http: aiohttp.ClientSession) -> None:
    before = await server.events.last_seq()
    associate = {"type": "client_associate", "application_type": "native"}
    huge = "x" * 980_000
    too_large = {"error": "The request body must be at most 65536 bytes"}
    cases: list[tuple[dict[str, Any], int, dict[str, str]]] = [
        ({"json": {**associate, "application_name": huge}}, 413, too_large),
        ({"data": {**associate, "application_name": huge}}, 413, too_large),
        # Chunked, with no length to refuse it by.
        ({"data": iter([json.dumps({**associate, "application_name": huge}).encode()]),
          "headers": {"Content-Type": "application/json"}}, 413, too_large),
        ({"data": deep(), "headers": {"Content-Type": "application/json"}}, 400, {"error": DEEP}),
        ({"json": {**associate, "application_name": "n" * 257}}, 400,
         {"error": "application_name must be at most 256 characters."}),
        ({"json": {**associate, "logo_uri": "https://example.com/" + "l" * 2048}}, 400,
         {"error": "logo_uri must be at most 2048 characters."}),
        ({"json": {**associate, "contacts": [f"a{i}@example.com" for i in range(17)]}}, 400,
         {"error": "contacts may list at most 16 entries."}),
        ({"json": {**associate, "redirect_uris": " ".join(f"app://cb/{i}" for i in range(17))}}, 400,
         {"error": "redirect_uris may list at most 16 entries."}),
        ({"json": {**associate, "redirect_uris": ["https://example.com/" + "r" * 2048]}}, 400,
         {"error": "redirect_uris must be at most 2048 characters."}),
        ({"data": "&".join(f"f{i}=x" for i in range(17)),
          "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400,
         {"error": "The form must be url-encoded text of at most 16 fields"}),
        ({"data": b"type=client_associate", "headers": {"Content-Type": "application/x-www-form-urlencoded; "
                                                                        "charset=x-nope"}}, 415,
         {"error": "The request names a charset this server does not know"}),
    ]
    for options, status, expected in cases:
        got = await asyncio.to_thread(_register, server.url, **options)
        assert got == (status, expected), str(options)[:100]
    assert await server.events.last_seq() == before
    await still_serving(http, server)
    # The largest registration the caps allow is far below the broker's payload limit, and goes through.
    biggest = {**associate, "application_name": "n" * 256, "logo_uri": "https://example.com/" + "l" * 2000,
               "contacts": [f"{'c' * 200}{i}@example.com" for i in range(16)],
               "redirect_uris": [f"https://example.com/{i}/" + "r" * 2000 for i in range(16)]}
    status, registered = await asyncio.to_thread(_register, server.url, json=biggest)
    assert status == 200 and registered["client_id"]


async def test_pump_feed_offsets_and_timestamps(server: Running, http: aiohttp.ClientSession,
                                                tmp_path: Path) -> None:
    alice = await login(server, "alice")
    before = await server.events.last_seq()
    posted = await alice.call("POST", "/api/user/alice/feed", data=deep(),
                              headers={"Content-Type": "application/json"})
    assert (posted.status, posted.json) == (400, {"error": DEEP})
    posted = await alice.call("POST", "/api/user/alice/feed", data=b"[" * 300_000,
                              headers={"Content-Type": "application/json"})
    assert (posted.status, posted.json) == (413, {"error": "The request body must be at most 262144 bytes"})
    assert await server.events.last_seq() == before
    for params, message in (({"offset": "1" * 30}, "Offset must be at most 1000000000"),
                            ({"offset": "9" * 5000}, "Offset must be at most 1000000000"),
                            ({"offset": "²"}, "Offset must be a whole number, 0 or more"),
                            ({"count": "1" * 30}, "Count must be between 0 and 200")):
        for path in ("/api/user/alice/feed", "/api/user/alice/inbox/major"):
            refused = await alice.get(path, **params)
            assert (refused.status, refused.json) == (400, {"error": message}), (path, params)
    paged = await alice.get("/api/user/alice/feed", offset="1000000000")
    assert paged.status == 200 and paged.json["items"] == []

    client = await register_client(server.url)
    for timestamp, status, message in (
        ("1" * 400, 401, "oauth_timestamp is more than 10 minutes away from the server's clock"),
        ("9" * 13, 401, "oauth_timestamp is more than 10 minutes away from the server's clock"),
        ("²", 400, "oauth_timestamp must be an integer number of seconds"),
    ):
        pump = Pump(server.url, "alice", signer(client, timestamp=timestamp))
        refused = await pump.call("POST", f"{server.url}/oauth/request_token")
        assert (refused.status, refused.json) == (status, {"error": message}), timestamp
    await still_serving(http, server)


async def test_pump_upload_filenames(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    before = await server.events.last_seq()
    message = "X-File-Name must name a file in at most 255 bytes, without control or formatting characters."
    for name in ("a" * 256, "é" * 128):
        refused = await alice.upload(jpeg(tmp_path), **{"X-File-Name": name.encode().decode("latin-1")})
        assert (refused.status, refused.json) == (400, {"error": message})
    assert await server.events.last_seq() == before
    assert stored_blobs(server) == []
    accepted = await alice.upload(jpeg(tmp_path), **{"X-File-Name": "a" * 255})
    assert accepted.status == 200


async def _raw_header(server: Running, name: bytes, value: bytes) -> bytes:
    """A request with a header no client library would send, and the status line answered."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /api/user/alice/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 0\r\n" + name + b": " + value + b"\r\n\r\n")
        await writer.drain()
        return await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_nul_in_a_header_is_refused_by_the_edge(server: Running, http: aiohttp.ClientSession) -> None:
    for value in (b"a\0b.jpg", b"a\rb.jpg"):
        status_line = await _raw_header(server, b"X-File-Name", value)
        assert status_line.split(b" ")[1] == b"400", status_line
    await still_serving(http, server)


async def test_100000_empty_fields_are_refused_while_others_are_served(server: Running,
                                                                      http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    fields = 100_000
    per_chunk = 2_000
    empty = part('name="f"')
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/v2/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: {MULTIPART}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    sent = 0

    async def send() -> None:
        nonlocal sent
        try:
            for _ in range(fields // per_chunk):
                data = empty * per_chunk
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
                sent += per_chunk
                await asyncio.sleep(0.02)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass  # the server may stop listening once it has answered

    sending = asyncio.create_task(send())
    latencies: list[float] = []
    try:
        while not sending.done():
            started = time.perf_counter()
            async with http.get(f"{server.url}/healthz") as response:
                assert response.status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)
    assert status_line.split(b" ")[1] == b"413", status_line
    assert sent > per_chunk and len(latencies) >= 10
    assert max(latencies) < 0.5, max(latencies)
    await still_serving(http, server)


async def test_other_bodies_and_numbers_of_the_pump_gateway(server: Running, http: aiohttp.ClientSession) -> None:
    alice = await login(server, "alice")
    before = await server.events.last_seq()
    # A member beside `data` in a JSON upload is checked without recursing into it.
    nested = b"[" * 30_000 + b"]" * 30_000
    upload = await alice.call("POST", "/api/user/alice/uploads", data=b'{"x": ' + nested + b', "data": ""}',
                              headers={"Content-Type": "application/json"})
    assert (upload.status, upload.json) == (400, {"error": "A JSON upload must be an object with the base64-encoded "
                                                           "file in 'data'."})
    async with http.post(f"{server.url}/oauth/authorize", data=b"oauth_token=x",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=x-nope"}) as r:
        assert await answer(r) == (415, {"error": "The request names a charset this server does not know"})
    async with http.post(f"{server.url}/oauth/authorize", data="&".join(f"f{i}=" for i in range(13)),
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert await answer(r) == (400, {"error": "The form must be url-encoded text of at most 12 fields"})
    assert await server.events.last_seq() == before
    # A rendition version too long for a file name is simply not there, as an unknown one is.
    async with http.get(f"{server.url}/media/files/{'a' * 64}/v1/original.jpg") as r:
        missing = await answer(r)
    assert missing[0] == 404
    for version in ("1" * 300, "1" * 5000, "\u0661"):
        async with http.get(f"{server.url}/media/files/{'a' * 64}/v{version}/original.jpg") as r:
            assert await answer(r) == missing, version[:10]
    await still_serving(http, server)


async def test_a_chunked_multipart_body_is_cut_off_at_its_cap(server: Running, http: aiohttp.ClientSession,
                                                             tmp_path: Path) -> None:
    token = await server.token("alice")
    before = await server.events.last_seq()
    head = part('name="file"; filename="a.jpg"', jpeg(tmp_path), "image/jpeg")
    description = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'.encode()

    async def endless() -> AsyncIterator[bytes]:
        # No Content-Length: only counting what arrives can stop it.
        yield head + description
        for _ in range(20 * 16):
            yield b"d" * 65536

    async with http.post(f"{server.url}/api/v2/media", data=endless(),
                         headers=bearer(token, **{"Content-Type": MULTIPART})) as r:
        assert await answer(r) == (422, {"error": "Validation failed: File must be less than 16 MB"})
    async with http.post(f"{server.url}/api/v2/media", data=body(part('name="x"', b"x" * 70_000)),
                         headers=bearer(token, **{"Content-Type": MULTIPART})) as r:
        assert await answer(r) == (413, {"error": "'x' must be at most 65536 bytes"})
    assert await server.events.last_seq() == before
    assert stored_blobs(server) == []
    await still_serving(http, server)
