"""An app's whole path through the DFOS-style API: presigned upload, transformed URLs, a post, a profile picture."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pyvips

from tests.servers import Running, bearer
from tests.test_presigned import grant, png_bytes, put, until_settled
from tests.test_pumpio_feed import login


async def fetch_image(http: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientResponse, pyvips.Image]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return response, pyvips.Image.new_from_buffer(await response.read(), "")


async def uploaded(http: aiohttp.ClientSession, server: Running, token: str, data: bytes) -> dict:
    granted = await grant(http, server, token)
    code, body = await put(http, granted, data)
    assert code == 200, body
    ready = await until_settled(http, server, token, granted["media"]["id"])
    assert ready["status"] == "ready"
    return ready


async def test_upload_transform_post_and_avatar(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    media = await uploaded(http, server, token, png_bytes(tmp_path, 800, 600))

    # Both public URLs take transformations, and the content address serves the same picture.
    response, image = await fetch_image(http, f"{media['publicDownloadUrl']}?w=200&fm=webp")
    assert (image.width, image.height, response.content_type) == (200, 150, "image/webp")
    response, image = await fetch_image(http, f"{media['canonicalUri']}?w=100&h=100&fit=crop&fm=jpg")
    assert (image.width, image.height, response.content_type) == (100, 100, "image/jpeg")
    _, whole = await fetch_image(http, media["canonicalUri"])
    assert (whole.width, whole.height) == (800, 600)

    body = {"spaceDID": "did:web:example.org", "body": "Look", "attachmentIds": [media["id"]]}
    async with http.post(f"{server.url}/posts", json=body, headers=bearer(token)) as response:
        assert response.status == 201, await response.text()
        post = await response.json()
    assert post["attachmentIds"] == [media["id"]]
    async with http.put(f"{server.url}/identity/current", json={"avatarId": media["id"]},
                        headers=bearer(token)) as response:
        assert response.status == 200, await response.text()

    outbox = await (await login(server, "alice")).get("/api/user/alice/feed")
    note = outbox.json["items"][0]["object"]
    assert note["objectType"] == "note" and note["content"] == "<p>Look</p>"
    assert [image["id"].rsplit("/", 1)[1] for image in note["attachments"]] == [media["id"]]

    # Posted and used as a picture: no longer an unposted upload the sweeper may take.
    row = await server.projection.one("SELECT published_at, attached_at FROM media WHERE media_id = ?",
                                      (media["id"],))
    assert row is not None and row["published_at"] is not None and row["attached_at"] is not None


async def test_only_the_uploader_attaches_presigned_media(server: Running, http: aiohttp.ClientSession,
                                                          tmp_path: Path) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    media = await uploaded(http, server, alice, png_bytes(tmp_path, 64, 48))
    seq = await server.events.last_seq()
    body = {"spaceDID": "did:web:example.org", "body": "Mine now", "attachmentIds": [media["id"]]}
    async with http.post(f"{server.url}/posts", json=body, headers=bearer(bob)) as response:
        assert response.status == 422
        refusal = await response.json()
    assert (refusal["code"], refusal["parameter"]) == ("media_not_found", "attachmentIds")
    async with http.put(f"{server.url}/identity/current", json={"avatarId": media["id"]},
                        headers=bearer(bob)) as response:
        assert response.status == 422
    assert await server.events.last_seq() == seq
