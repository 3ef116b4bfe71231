"""The browser upload page and what its script calls: the presigned API and Mastodon's, signed in by the login
cookie together with its CSRF token in a header, never by the cookie alone."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import html5lib
import pytest

from core.events import MediaRequested
from tests import avsamples, images
from tests.servers import Running, Servers, bearer
from tests.test_web_signin import signed_in

pytestmark = pytest.mark.asyncio

CAP = 1024 * 1024
USERS = {"ada": "ada-password", "bob": "bob-password"}


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_header(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def page_csrf(running: Running, http: aiohttp.ClientSession) -> str:
    """The CSRF token the upload page hands its script."""
    async with http.get(f"{running.url}/upload") as answer:
        assert answer.status == 200, await answer.text()
        found = re.search(r'data-csrf="([^"]+)"', await answer.text())
    assert found
    return found.group(1)


async def ask(http: aiohttp.ClientSession, running: Running, headers: dict[str, str],
              content_type: str = "image/png", filename: str = "cat.png") -> tuple[int, dict[str, Any]]:
    async with http.post(f"{running.url}/media", json={"filename": filename, "contentType": content_type},
                         headers=headers) as answer:
        return answer.status, await answer.json()


async def put(http: aiohttp.ClientSession, granted: dict[str, Any], data: bytes) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": granted["media"]["contentType"],
               "Content-Disposition": granted["contentDispositionHeader"]}
    async with http.put(granted["uploadUrl"], data=data, headers=headers) as answer:
        return answer.status, await answer.json()


async def settled(http: aiohttp.ClientSession, running: Running, headers: dict[str, str],
                  media_id: str) -> dict[str, Any]:
    for _ in range(1200):
        async with http.get(f"{running.url}/media/{media_id}", headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            body = await answer.json()
        if body["status"] in ("ready", "failed"):
            return body
        await asyncio.sleep(0.05)
    pytest.fail("never processed")


async def requested_by(running: Running, media_id: str) -> str:
    owners = [record.event.owner_id async for record in running.events.read(1, follow=False)
              if isinstance(record.event, MediaRequested) and record.event.media_id == media_id]
    assert len(owners) == 1
    return owners[0]


async def test_the_page_sends_whoever_is_signed_out_to_sign_in(make_server: Servers) -> None:
    running = await make_server(users=USERS)
    async with jar() as http:
        async with http.get(f"{running.url}/upload", allow_redirects=False) as answer:
            assert answer.status == 303
            target = urlsplit(answer.headers["Location"])
            assert (target.path, parse_qs(target.query)) == ("/login", {"next": ["/upload"]})


async def test_the_page_shows_the_form_its_script_needs(make_server: Servers) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        async with http.get(f"{running.url}/upload") as answer:
            assert answer.status == 200
            policy = answer.headers["Content-Security-Policy"]
            text = await answer.text()
        async with http.get(f"{running.url}/static/upload.js") as script:
            assert script.status == 200 and "X-CSRF-Token" in await script.text()
    html5lib.HTMLParser(strict=True).parse(text)
    # No inline script can run: the page's only scripts are files of this site.
    assert "script-src 'self'" in policy
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/upload.js" defer>']
    assert re.search(r'<input type="file" id="upload-files" name="files" multiple accept="image/\*,video/\*,audio/\*">',
                     text)
    for element in ('id="upload-form"', 'id="upload-description"',
                    'type="checkbox" id="upload-public" name="public" checked', 'id="upload-start"',
                    '<ul id="upload-list"', 'data-owner="ada"', f'data-max-bytes="{CAP}"'):
        assert element in text
    csrf = re.search(r'data-csrf="([0-9a-f]{64})"', text)
    # The token the sign-out form carries: one login, one token.
    assert csrf and f'name="csrf_token" value="{csrf.group(1)}"' in text


async def test_the_signed_in_page_uploads_and_sees_its_media_ready(make_server: Servers, tmp_path: Path) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    png = images.png(tmp_path / "cat.png", 64, 48).read_bytes()
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        headers = csrf_header(await page_csrf(running, http))
        status, granted = await ask(http, running, headers)
        assert status == 200, granted
        media_id = granted["media"]["id"]
        assert await requested_by(running, media_id) == "ada"
        status, uploaded = await put(http, granted, png)
        assert status == 200, uploaded
        ready = await settled(http, running, headers, media_id)
    assert ready["status"] == "ready" and ready["publicDownloadUrl"], ready
    assert (ready["width"], ready["height"], ready["kind"]) == (64, 48, "image")


async def test_the_cookie_alone_never_acts(make_server: Servers, tmp_path: Path) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    async with aiohttp.ClientSession() as stranger:
        nobody = await ask(stranger, running, {})
    assert nobody[0] == 401 and nobody[1]["code"] == "unauthorized"
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        csrf = await page_csrf(running, http)
        before = await running.events.last_seq()
        # What a form or a script on another site can make the browser send: the cookie, nothing else.
        for headers in ({}, csrf_header("0" * 64), csrf_header(""), csrf_header(csrf[:-1]),
                        csrf_header(csrf + "0"), csrf_header("é" + csrf[1:])):
            assert await ask(http, running, headers) == nobody, headers
        async with http.post(f"{running.url}/api/v1/statuses", json={"status": "forged"}) as answer:
            assert answer.status == 401
        assert await running.events.last_seq() == before
        # The right token works on this login only: without the cookie it is nobody's.
        async with aiohttp.ClientSession() as stranger:
            assert await ask(stranger, running, csrf_header(csrf)) == nobody
        status, granted = await ask(http, running, csrf_header(csrf))
        assert status == 200
        # Polling too needs the header.
        async with http.get(f"{running.url}/media/{granted['media']['id']}") as answer:
            assert answer.status == 401
        # Signed out, the old token names no login any more.
        async with http.post(f"{running.url}/logout", data={"csrf_token": csrf}, allow_redirects=False) as out:
            assert out.status == 303
        assert await ask(http, running, csrf_header(csrf)) == nobody


async def test_a_token_wins_over_the_login(make_server: Servers) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    bobs = await running.token("bob")
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        headers = csrf_header(await page_csrf(running, http))
        status, granted = await ask(http, running, {**headers, **bearer(bobs)})
        assert status == 200
        assert await requested_by(running, granted["media"]["id"]) == "bob"
        # A token nobody issued is refused, whatever login came with it.
        status, refused = await ask(http, running, {**headers, **bearer("made-up")})
        assert status == 401 and refused["code"] == "unauthorized"
        read_only = await running.token("bob", "read")
        status, refused = await ask(http, running, {**headers, **bearer(read_only)})
        assert status == 403 and refused["code"] == "forbidden"


async def test_the_page_uploads_video_where_apps_may_not(make_server: Servers, tmp_path: Path) -> None:
    # presigned_av is left at its default: no video for apps.
    running = await make_server(users=USERS, presigned_size_limit=4 * CAP)
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4").read_bytes()
    token = await running.token("bob")
    async with jar() as http:
        status, refused = await ask(http, running, bearer(token), "video/mp4", "clip.mp4")
        assert status == 415 and refused["code"] == "unsupported_media_type"
        assert "video/mp4" not in refused["error"]
        await signed_in(running.url, http, "ada", "ada-password")
        headers = csrf_header(await page_csrf(running, http))
        status, granted = await ask(http, running, headers, "video/mp4", "clip.mp4")
        assert status == 200, granted
        status, uploaded = await put(http, granted, clip)
        assert status == 200, uploaded
        ready = await settled(http, running, headers, granted["media"]["id"])
        assert ready["status"] == "ready" and ready["kind"] == "video", ready
        # The page is still held to the types the pipeline takes, and says so in words.
        status, refused = await ask(http, running, headers, "text/plain", "notes.txt")
        assert status == 415 and refused["code"] == "unsupported_media_type"
        assert refused["error"].startswith("contentType must be one of image/png")


async def test_a_refused_upload_from_the_page_says_why(make_server: Servers, tmp_path: Path) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    big = images.png(tmp_path / "big.png", 1200, 1200, seed=4).read_bytes()
    assert len(big) > CAP
    jpeg = images.jpeg(tmp_path / "cat.jpg", 64, 48).read_bytes()
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        headers = csrf_header(await page_csrf(running, http))
        _, granted = await ask(http, running, headers)
        before = await running.events.last_seq()
        status, refused = await put(http, granted, big)
        assert status == 413 and refused["error"] == f"The upload must be at most {CAP} bytes"
        status, refused = await put(http, granted, jpeg)
        assert status == 415 and refused["error"] == "The uploaded bytes are not image/png"
        assert await running.events.last_seq() == before


async def test_the_page_describes_and_posts_its_upload(make_server: Servers, tmp_path: Path) -> None:
    running = await make_server(users=USERS, presigned_size_limit=CAP)
    png = images.png(tmp_path / "cat.png", 64, 48).read_bytes()
    async with jar() as http:
        await signed_in(running.url, http, "ada", "ada-password")
        headers = csrf_header(await page_csrf(running, http))
        _, granted = await ask(http, running, headers)
        media_id = granted["media"]["id"]
        await put(http, granted, png)
        assert (await settled(http, running, headers, media_id))["status"] == "ready"
        async with http.put(f"{running.url}/api/v1/media/{media_id}", json={"description": "A cat"}) as answer:
            assert answer.status == 401
        async with http.put(f"{running.url}/api/v1/media/{media_id}", json={"description": "A cat"},
                            headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["description"] == "A cat"
        post = {"status": "A cat", "media_ids": [media_id], "visibility": "public"}
        async with http.post(f"{running.url}/api/v1/statuses", json=post, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            status = await answer.json()
    assert status["visibility"] == "public" and status["account"]["username"] == "ada"
    assert [m["id"] for m in status["media_attachments"]] == [media_id]
    assert status["media_attachments"][0]["description"] == "A cat"
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(f"{running.url}/api/v1/statuses/{status['id']}") as answer:
            assert answer.status == 200 and "A cat" in (await answer.json())["content"]
