"""The console in a real browser: an admin signs in, reprocesses a failed media, and sees it become ready."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from core.events import MediaProcessed, MediaUploaded
from core.log import EventLog
from mediaplex.admin import add_user
from tests import images
from tests.browser import NEEDS_CHROMIUM, Browser, browser
from tests.servers import Servers

pytestmark = [pytest.mark.asyncio, NEEDS_CHROMIUM]
__all__ = ["browser"]


async def outcome_of(events: EventLog, media_id: str) -> object:
    found = None
    async for record in events.read(1, follow=False):
        if getattr(record.event, "media_id", None) == media_id and record.event.subject().endswith(".outcome"):
            found = record.event
    return found


async def test_an_admin_reprocesses_a_failed_media_from_the_console(make_server: Servers, browser: Browser,
                                                                    tmp_path: Path) -> None:
    running = await make_server()
    await add_user(running.events, "root", "root-password", admin=True)
    whole = images.jpeg(tmp_path / "whole.jpg", 640, 480).read_bytes()
    cut = whole[: len(whole) // 2]
    token = await running.token("bob")
    form = aiohttp.FormData()
    form.add_field("file", cut, filename="cut.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{running.url}/api/v2/media", data=form,
                             headers={"Authorization": f"Bearer {token}"}) as answer:
            assert answer.status == 422
    (upload,) = [r.event async for r in running.events.read(1, follow=False) if isinstance(r.event, MediaUploaded)]
    assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
    # The operator restores the blob's bytes, as after recovering a damaged disk.
    blob = running.server.blobs.path(upload.blob)
    await asyncio.to_thread(blob.write_bytes, whole)

    page = await browser.new_page()
    await page.goto(f"{running.url}/console")
    await page.fill("#username", "root")
    await page.fill("#password", "root-password")
    await page.click("#sign-in")
    await page.wait_for_url(f"{running.url}/console")
    row = page.locator(f'tr[data-media="{upload.media_id}"]')
    assert "truncated or corrupt" in await row.locator(".reason").inner_text()
    assert await page.locator("#console-link").is_visible()
    await row.locator("button.reprocess").click()
    await page.wait_for_url(f"{running.url}/console?requested=1#failures")
    for _ in range(200):
        if isinstance(await outcome_of(running.events, upload.media_id), MediaProcessed):
            break
        await asyncio.sleep(0.05)
    assert isinstance(await outcome_of(running.events, upload.media_id), MediaProcessed)
    assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
    await page.reload()
    assert await page.locator("#no-failures").is_visible()
    assert "media.reprocess" in await page.locator("#events").inner_text()
    # What the log gets while the page is open arrives as a new row, over the event stream.
    await add_user(running.events, "zed", "zed-password")
    await page.locator("#events tr.fresh", has_text="mx.user.zed.added").wait_for(timeout=10_000)
