"""pump.io uploads, raw and JSON, over real HTTP with real OAuth signatures; and their Mastodon side."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import requests

from gateways.pumpio import uploads
from gateways.pumpio.uploads import BadUpload, JsonUpload
from tests import images
from tests.servers import Running, make_config, start
from tests.test_pumpio_feed import Pump, jpeg, login

UNSUPPORTED = {"error": uploads.UNSUPPORTED}


def stored_blobs(server: Running) -> list[Path]:
    return [p for p in server.config.blobs.rglob("*") if p.is_file()]


async def media_row(server: Running, image: dict) -> dict:
    media_id = image["id"].rsplit("/", 1)[1]
    row = await server.projection.one("SELECT * FROM media WHERE media_id = ?", (media_id,))
    assert row is not None
    return dict(row)


def escaped_json_upload(data: bytes) -> bytes:
    """As some encoders write it: MIME line breaks as \\n escapes, slashes as \\/, no padding, extra members."""
    encoded = base64.encodebytes(data).decode().rstrip("=\n").replace("\n", "\\n").replace("/", "\\/")
    return ('{"mimeType": "image/png", "extra": {"a": [1, "}\\"", null]}, "data": "' + encoded + '", "n": -1.5}'
            ).encode()


async def test_raw_and_json_uploads_keep_the_exact_bytes(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    data = images.png(tmp_path / "x.png", 300, 200).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    # The bytes decide the type, whatever the client declares.
    raw = await alice.upload(data, "image/jpeg", **{"X-File-Name": "lies.jpg"})
    assert raw.status == 200
    assert raw.json["fullImage"]["url"].endswith("/original.png")
    assert (raw.json["fullImage"]["width"], raw.json["fullImage"]["height"]) == (300, 200)
    assert raw.json["pump_io"] == {"shared": False} and raw.json["tags"] == []
    row = await media_row(server, raw.json)
    assert (row["blob"], row["filename"], row["via"], row["published_at"]) == (digest, "lies.jpg", "pumpio", None)

    plain = json.dumps({"mimeType": "image/png", "data": base64.b64encode(data).decode()}).encode()
    for body in (plain, escaped_json_upload(data)):
        answer = await alice.call("POST", "/api/user/alice/uploads/", data=body,
                                  headers={"Content-Type": "application/json"})
        assert answer.status == 200, answer.json
        assert (await media_row(server, answer.json))["blob"] == digest
        assert answer.json["image"]["url"].endswith("/thumb.png")


def pumpio_client_json(data: bytes) -> bytes:
    """As pump.io's own client writes a JSON upload: URL-safe base64 with the padding taken off."""
    encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return json.dumps({"length": len(data), "mimeType": "image/png", "data": encoded}).encode()


async def test_a_json_upload_in_url_safe_base64_without_padding(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    # A PNG whose length leaves padding to cut; its base64 has both URL-safe letters, so the standard
    # alphabet alone would not do.
    data = next(png for width in range(301, 304)
                if len(png := images.png(tmp_path / f"u{width}.png", width, 199).read_bytes()) % 3)
    encoded = base64.urlsafe_b64encode(data).decode()
    assert "-" in encoded and "_" in encoded and encoded.endswith("=")
    json_headers = {"Content-Type": "application/json"}
    answer = await alice.call("POST", "/api/user/alice/uploads", data=pumpio_client_json(data), headers=json_headers)
    assert answer.status == 200, answer.json
    assert (await media_row(server, answer.json))["blob"] == hashlib.sha256(data).hexdigest()
    assert answer.json["fullImage"]["height"] == 199
    before = await server.events.last_seq()
    for bad in (b'{"data": "AB-_*A"}', b'{"data": "AB-_A"}', b'{"data": "AA=-AAAA"}'):
        refused = await alice.call("POST", "/api/user/alice/uploads", data=bad, headers=json_headers)
        assert (refused.status, refused.json) == (400, {"error": "'data' is not valid base64."}), bad
    assert await server.events.last_seq() == before


async def test_x_file_name_names_the_file_and_titles_the_upload(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    data = jpeg(tmp_path)
    # Percent-encoded as pump.io's web client sends it, after a path as browsers have sent it.
    named = [("C:\\fakepath\\h%C3%A9ron.jpg", "héron.jpg"), ("../../etc/passwd", "passwd"),
             ("./photos/ egret 2.jpg", "egret 2.jpg"), ("50%ff.jpg", "50%ff.jpg"), ("photos/", ""), ("..", ""),
             ("dir/" * 100 + "a" * 251 + ".jpg", "a" * 251 + ".jpg")]
    for header, name in named:
        uploaded = await alice.upload(data, **{"X-File-Name": header})
        assert uploaded.status == 200, uploaded.json
        assert (await media_row(server, uploaded.json))["filename"] == name, header
        assert uploaded.json.get("displayName") == (name or None), header
    untitled = await alice.upload(data)
    assert "displayName" not in untitled.json and (await media_row(server, untitled.json))["filename"] == ""

    first = await alice.upload(data, **{"X-File-Name": "h%C3%A9ron.jpg"})
    bare = {key: value for key, value in first.json.items() if key != "displayName"}
    posted = await alice.activity("post", bare)
    assert posted.json["content"] == "alice posted héron.jpg"
    assert posted.json["object"]["displayName"] == "héron.jpg"
    updated = await alice.activity("update", {"id": first.json["id"], "objectType": "image", "displayName": "Heron"})
    assert updated.json["object"]["displayName"] == "Heron"
    assert (await media_row(server, first.json))["filename"] == "héron.jpg"

    # A Mastodon upload's file name is no title: Mastodon shows none.
    token = await server.token("alice")
    files = {"file": ("m.jpg", data, "image/jpeg")}
    made = await asyncio.to_thread(requests.post, f"{server.url}/api/v2/media", files=files,
                                   headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert made.status_code == 200
    assert "displayName" not in (await alice.get(f"/api/image/{made.json()['id']}")).json

    before = await server.events.last_seq()
    message = {"error": "X-File-Name must name a file in at most 255 bytes, without control or formatting characters."}
    for header in ("a%00.jpg", "a%0Ab.jpg", "%E2%80%AEgnp.exe", "a\tb.jpg", "a" * 256, "%C3%A9" * 128,
                   "dir/" + "a" * 256):
        refused = await alice.upload(data, **{"X-File-Name": header})
        assert (refused.status, refused.json) == (400, message), header
    assert await server.events.last_seq() == before


async def test_uploads_show_up_in_the_mastodon_api_and_back(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    token = await server.token("alice")
    bearer = {"Authorization": f"Bearer {token}"}
    uploaded = await alice.upload(jpeg(tmp_path))
    media_id = uploaded.json["id"].rsplit("/", 1)[1]

    def mastodon(method: str, path: str, **options: object) -> requests.Response:
        return requests.request(method, server.url + path, headers=bearer, timeout=10, **options)  # type: ignore[arg-type]

    seen = await asyncio.to_thread(mastodon, "GET", f"/api/v1/media/{media_id}")
    assert seen.status_code == 200 and seen.json()["url"] == uploaded.json["fullImage"]["url"]
    posted = await alice.activity("post", {**uploaded.json, "content": "From pump.io"})
    assert posted.status == 200
    seen = await asyncio.to_thread(mastodon, "GET", f"/api/v1/media/{media_id}")
    assert seen.json()["description"] == "From pump.io"

    files = {"file": ("m.jpg", jpeg(tmp_path, seed=3), "image/jpeg")}
    made = await asyncio.to_thread(mastodon, "POST", "/api/v2/media", files=files, data={"description": "alt"})
    assert made.status_code == 200
    image_id = f"{server.url}/api/image/{made.json()['id']}"
    posted = await alice.activity("post", {"objectType": "image", "id": image_id, "displayName": "Via Mastodon"})
    assert posted.status == 200
    obj = posted.json["object"]
    assert obj["id"] == image_id and obj["displayName"] == "Via Mastodon" and obj["content"] == "<p>alt</p>"
    assert obj["fullImage"]["url"] == made.json()["url"]
    bob = await login(server, "bob")
    assert (await bob.get(image_id)).json["displayName"] == "Via Mastodon"


async def test_refused_uploads_leave_nothing_behind(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    limit = 1024 * 1024
    server = await start(make_config(nats_url, data_dir, upload_size_limit=limit))
    try:
        alice, bob = await login(server, "alice"), await login(server, "bob")
        before = await server.events.last_seq()
        too_large = {"error": "The upload is too large: it must be less than 1 MB."}
        not_json = {"error": "A JSON upload must be an object with the base64-encoded file in 'data'."}
        bad_base64 = {"error": "'data' is not valid base64."}
        pixels = ("The image is too large: image of 50000x50000 (2,500,000,000 px) exceeds the limit of "
                  "33,177,600 px.")

        def chunked() -> Iterator[bytes]:
            yield b"\xff\xd8\xff"
            for _ in range(4):
                yield b"\0" * limit

        json_headers = {"Content-Type": "application/json"}
        cases: list[tuple[dict, int, dict]] = [
            ({"data": b"just some text, not an image"}, 415, UNSUPPORTED),
            ({"data": b"%PDF-1.7\n" + b"0" * 200, "headers": {"Content-Type": "image/png"}}, 415, UNSUPPORTED),
            ({"data": b"", "headers": {"Content-Type": "image/png"}}, 400,
             {"error": "The upload is empty: send the image bytes as the request body."}),
            ({"data": images.png_header_only(50_000, 50_000), "headers": {"Content-Type": "image/png"}}, 400,
             {"error": pixels}),
            ({"data": b"\xff\xd8\xff\xe0" + b"\x13" * 300}, 400, {"error": "The image data is truncated or corrupt."}),
            ({"data": b"\xff\xd8\xff" + b"\0" * limit}, 413, too_large),
            ({"data": chunked()}, 413, too_large),
            ({"data": json.dumps({"data": base64.b64encode(b"\0" * limit).decode()}), "headers": json_headers},
             413, too_large),
            ({"data": b'{"data": "not base64!"}', "headers": json_headers}, 400, bad_base64),
            ({"data": b'{"data": "AAAA====AAAA"}', "headers": json_headers}, 400, bad_base64),
            ({"data": b'{"data": "AA==AAAA"}', "headers": json_headers}, 400, bad_base64),
            ({"data": b'{"mimeType": "image/png"}', "headers": json_headers}, 400, not_json),
            ({"data": b'["data"]', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": 12}', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": "", "data": ""}', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": "AAAA"} trailing', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": "AAAA"', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": "", "x": [1, }', "headers": json_headers}, 400, not_json),
            ({"data": b'{"data": "", "mimeType": "image/png"}', "headers": json_headers}, 400,
             {"error": "The upload is empty: send the image bytes as the request body."}),
            # pump.io refuses a JSON upload that does not say its type.
            ({"data": b'{"data": "AAAA"}', "headers": json_headers}, 400, {"error": "No mime type"}),
            ({"data": b'{"data": "AAAA", "mimeType": ""}', "headers": json_headers}, 400, {"error": "No mime type"}),
        ]
        for options, status, error in cases:
            headers = {"Content-Type": "image/jpeg", **options.pop("headers", {})}
            answer = await alice.call("POST", "/api/user/alice/uploads", headers=headers, **options)
            assert (answer.status, answer.json) == (status, error), (status, error)

        no_type = await alice.upload(jpeg(tmp_path), content_type=None)
        assert (no_type.status, no_type.json) == (400, {"error": "Must supply 'Content-Type' header to upload media."})
        others = await bob.call("POST", "/api/user/alice/uploads", data=jpeg(tmp_path),
                                headers={"Content-Type": "image/jpeg"})
        assert (others.status, others.json) == (403, {"error": "Not able to post to another users feed."})
        nobody = await alice.call("POST", "/api/user/nobody/uploads", data=b"x", headers={"Content-Type": "image/png"})
        assert nobody.status == 404
        unsigned = await Pump(server.url, "alice", None).upload(jpeg(tmp_path))
        assert unsigned.status == 401 and "error" in unsigned.json

        assert await server.events.last_seq() == before
        assert stored_blobs(server) == []
        assert (await alice.upload(jpeg(tmp_path))).status == 200
    finally:
        await server.server.stop()


async def test_an_upload_still_processing_answers_with_what_is_known(nats_url: str, data_dir: Path,
                                                                   tmp_path: Path) -> None:
    server = await start(make_config(nats_url, data_dir, pumpio_upload_wait=0.2), processor=False)
    try:
        alice = await login(server, "alice")
        uploaded = await alice.upload(jpeg(tmp_path))
        assert uploaded.status == 200
        assert "image" not in uploaded.json and "fullImage" not in uploaded.json
        assert uploaded.json["links"]["self"]["href"] == uploaded.json["id"]
        posted = await alice.activity("post", uploaded.json)
        assert posted.status == 200 and "fullImage" not in posted.json["object"]
    finally:
        await server.server.stop()


async def test_an_image_that_fails_processing_is_refused(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    truncated = images.truncate(images.jpeg(tmp_path / "t.jpg", 800, 600), 0.6).read_bytes()
    answer = await alice.upload(truncated)
    assert (answer.status, answer.json) == (400, {"error": "The uploaded image could not be processed."})
    row = await server.projection.one("SELECT media_id FROM media WHERE owner_id = 'alice'")
    assert row is not None
    posted = await alice.activity("post", {"objectType": "image", "id": f"{server.url}/api/image/{row[0]}"})
    refused = {"error": "This image could not be processed, so it cannot be posted."}
    assert (posted.status, posted.json) == (400, refused)


async def _decode(body: bytes, size: int) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(body), size):
            yield body[at:at + size]

    out = b""
    async for piece in JsonUpload(chunks(), 1 << 20).data():
        out += piece
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
async def test_json_upload_decoding_does_not_depend_on_chunk_boundaries(size: int) -> None:
    data = bytes(range(256)) * 3 + b"\xfb\xff"
    encoded = base64.b64encode(data).decode()
    assert await _decode(escaped_json_upload(data), size) == data
    assert await _decode(json.dumps({"data": encoded, "mimeType": "x"}).encode(), size) == data
    assert await _decode(pumpio_client_json(data), size) == data
    unicode_escaped = encoded.replace("+", "\\u002B").replace("/", "\\u002f")
    assert await _decode(('{ "data" : "' + unicode_escaped + '", "mimeType": "x" }').encode(), size) == data
    for bad in (b'{"data": "AAA\\"A"}', b'{"data": "\\u00e9AAA"}', b'{"data": "A"}', b'{"a": 1 "data": ""}',
                b'{"data": "AAAA",}', b'{"a": tru, "data": ""}', b'{"a": "' + b"x" * 70_000 + b'", "data": ""}',
                b'{"a": [' + b"1," * 40_000 + b'1], "data": ""}', b'{"a": ' + b"1" * 70_000 + b', "data": ""}'):
        with pytest.raises(BadUpload):
            await _decode(bad, size)
