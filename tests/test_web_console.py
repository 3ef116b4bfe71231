"""The operator console: only admins see it, it shows queues, failures, lag and events, and sends failed media
round again through the same request `mediaplex reprocess` makes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import html5lib
import pytest
import requests

from core.events import MediaFailed, MediaReprocessRequested, MediaUploaded, outcome_subject
from mediaplex.admin import add_user
from tests import images
from tests.servers import Running, Servers, bearer
from tests.test_cli import run, serve
from tests.test_web_signin import csrf_of, signed_in


def strict_html(text: str) -> None:
    html5lib.HTMLParser(strict=True).parse(text)


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def started(make_server: Servers) -> Running:
    running = await make_server(users={"bob": "bob-password"})
    await add_user(running.events, "root", "root-password", admin=True)
    assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
    return running


async def failed_upload(running: Running, tmp_path: Path, name: str) -> str:
    """A JPEG cut short: its header passes the edge, and processing rejects it."""
    token = await running.token(name)
    cut = images.truncate(images.jpeg(tmp_path / f"{name}.jpg", 640, 480), 0.5)
    form = aiohttp.FormData()
    form.add_field("file", cut.read_bytes(), filename=f"<b>{name}</b>.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{running.url}/api/v2/media", data=form, headers=bearer(token)) as answer:
            # Mastodon's upload waits for processing and tells of its failure; the media stays, failed.
            assert answer.status == 422, await answer.text()
    (media_id,) = [record.event.media_id async for record in running.events.read(1, follow=False)
                   if isinstance(record.event, MediaUploaded) and record.event.owner_id == name]
    outcome = outcome_subject(media_id)
    for _ in range(200):
        if await running.events.last_on(outcome):
            break
        await asyncio.sleep(0.05)
    assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
    return media_id


@pytest.mark.asyncio
async def test_an_admin_sees_every_section_and_reprocesses_a_failure(make_server: Servers, tmp_path: Path) -> None:
    running = await started(make_server)
    media_id = await failed_upload(running, tmp_path, "bob")
    async with jar() as http:
        await signed_in(running.url, http, "root", "root-password")
        async with http.get(f"{running.url}/console") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
            text = await answer.text()
        strict_html(text)
        for section in ('id="queue"', 'id="failures"', 'id="projections"', 'id="storage"', 'id="events"'):
            assert section in text
        assert 'data-lane="image"' in text and "processors-video" in text
        # The processors started with the server, so every lane's consumer answers with numbers.
        assert text.count('class="pending">') == 3 and text.count('class="redelivered">') == 3
        assert re.search(r'class="applied">[1-9]\d*</td>\s*<td class="head">[1-9]', text)
        assert f'data-media="{media_id}"' in text
        assert "truncated or corrupt" in text
        assert 'id="console-link"' in text and "user.added" in text
        assert re.search(r'class="count">[1-9]', text), "the blob store holds the upload"

        before = await running.events.last_seq()
        form = {"csrf_token": csrf_of(text), "media_id": media_id}
        async with http.post(f"{running.url}/console/reprocess", data=form, allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"].startswith("/console?requested=1")
        requests = [record.event async for record in running.events.read(before + 1, follow=False)
                    if isinstance(record.event, MediaReprocessRequested)]
        assert [(r.media_id, r.kind) for r in requests] == [(media_id, "image")]
        # Processed again: a new outcome replaces the one the request names.
        outcome = outcome_subject(media_id)
        for _ in range(200):
            if await running.events.last_on(outcome) > requests[0].after:
                break
            await asyncio.sleep(0.05)
        assert await running.events.last_on(outcome) > requests[0].after > 0

        async with http.get(f"{running.url}/console?requested=1") as answer:
            strict_html(page := await answer.text())
            assert 'id="requested"' in page

        # Gone from the list while it is processing, and a media that has not failed is refused.
        async with http.post(f"{running.url}/console/reprocess",
                             data={"csrf_token": csrf_of(text), "media_id": "nope"}) as answer:
            assert answer.status == 404 and answer.content_type == "text/html"


@pytest.mark.asyncio
async def test_reprocess_all_failed_asks_for_each(make_server: Servers, tmp_path: Path) -> None:
    running = await started(make_server)
    first = await failed_upload(running, tmp_path, "bob")
    second = await failed_upload(running, tmp_path, "carol")
    # A failure whose filename and reason hold markup, as another gateway might have recorded them.
    blob = "0" * 64
    await running.events.append(MediaUploaded(at=1.0, media_id="m3", owner_id="carol", blob=blob, size=1,
                                              content_type="image/jpeg", width=1, height=1,
                                              filename="<b>bold</b>.jpg"), msg_id="m3-up")
    await running.events.append(MediaFailed(at=2.0, media_id="m3", reason="<script>x()</script>"),
                                msg_id="m3-failed")
    assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
    async with jar() as http:
        text = await signed_in(running.url, http, "root", "root-password")
        async with http.get(f"{running.url}/console") as answer:
            strict_html(page := await answer.text())
        assert "&lt;b&gt;bold&lt;/b&gt;.jpg" in page and "&lt;script&gt;x()&lt;/script&gt;" in page
        assert "<b>bold" not in page and "<script>x" not in page
        assert "Failed media (3)" in page
        before = await running.events.last_seq()
        async with http.post(f"{running.url}/console/reprocess-failed", data={"csrf_token": csrf_of(text)},
                             allow_redirects=False) as answer:
            assert answer.status == 303 and "requested=3" in answer.headers["Location"]
        asked = {record.event.media_id async for record in running.events.read(before + 1, follow=False)
                 if isinstance(record.event, MediaReprocessRequested)}
        assert asked == {first, second, "m3"}


@pytest.mark.asyncio
async def test_only_admins_get_in(make_server: Servers, tmp_path: Path) -> None:
    running = await started(make_server)
    async with jar() as http:
        async with http.get(f"{running.url}/console", allow_redirects=False) as answer:
            assert answer.status == 303
            assert answer.headers["Location"].startswith("/login?next=") and "console" in answer.headers["Location"]
        async with http.get(f"{running.url}/console/events", allow_redirects=False) as answer:
            assert answer.status == 303
        text = await signed_in(running.url, http, "bob", "bob-password")
        assert 'id="console-link"' not in text
        for path in ("/console", "/console/events"):
            async with http.get(f"{running.url}{path}") as answer:
                assert answer.status == 403 and answer.content_type == "text/html"
                strict_html(body := await answer.text())
                assert "for administrators" in body
        async with http.post(f"{running.url}/console/reprocess-failed",
                             data={"csrf_token": csrf_of(text)}) as answer:
            assert answer.status == 403
    async with jar() as http:
        text = await signed_in(running.url, http, "root", "root-password")
        assert 'id="console-link"' in text
        before = await running.events.last_seq()
        # Without the form's token, or with a forged one: refused, nothing appended.
        for form in ({}, {"csrf_token": "forged"}):
            async with http.post(f"{running.url}/console/reprocess-failed", data=form) as answer:
                assert answer.status == 403 and "CSRF" in await answer.text()
        assert await running.events.last_seq() == before


@pytest.mark.asyncio
async def test_the_event_stream_sends_what_is_appended_after_connecting(make_server: Servers) -> None:
    running = await started(make_server)
    async with jar() as http:
        await signed_in(running.url, http, "root", "root-password")
        async with http.get(f"{running.url}/console/events?after=nope") as answer:
            assert answer.status == 400
        async with http.get(f"{running.url}/console/events") as stream:
            assert stream.status == 200 and stream.content_type == "text/event-stream"
            assert (await stream.content.readline()).startswith(b"retry:")
            await add_user(running.events, "dora", "dora-password")
            seq = await running.events.last_seq()
            lines = []
            async with asyncio.timeout(10):
                while not lines or lines[-1] != b"\n":
                    line = await stream.content.readline()
                    if lines or line != b"\n":
                        lines.append(line)
        frame = b"".join(lines).decode()
        assert f"id: {seq}\n" in frame and "event: logged\n" in frame
        assert '"type":"user.added"' in frame and '"subject":"' in frame and "mx.user.dora.added" in frame
        # Secrets of the event stay out.
        assert "password" not in frame


def console_status(url: str, user: str, password: str) -> int:
    """Signs in through the form, as a browser would, and opens the console."""
    with requests.Session() as browser:
        csrf = csrf_of(browser.get(f"{url}/login", timeout=10).text)
        form = {"csrf_token": csrf, "username": user, "password": password, "next": "/console"}
        return browser.post(f"{url}/login", data=form, timeout=30).status_code


def test_the_first_start_admin_and_user_add_admin_open_the_console(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serving = serve(data)
    try:
        (password,) = [line.split(":", 1)[1].strip() for line in serving.lines if line.strip().startswith("password:")]
        assert console_status(serving.url, "admin", password) == 200
        added = run("user", "add", "dave", "--admin", "--password", "dave-password", data=data)
        assert "added admin 'dave'" in added.stderr
        run("user", "add", "erin", "--password", "erin-password", data=data)
        assert console_status(serving.url, "dave", "dave-password") == 200
        assert console_status(serving.url, "erin", "erin-password") == 403
        assert "'erin' is an admin" in run("user", "admin", "erin", data=data).stderr
        assert console_status(serving.url, "erin", "erin-password") == 200
        unknown = run("user", "admin", "nobody", data=data, check=False)
        assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
    finally:
        assert serving.stop() == 0
