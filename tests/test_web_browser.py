"""The gallery in a real browser: a user signs in, uploads two images and a video through the page, sees them
in the gallery and on their pages at the width the srcset chose, edits, sets the focus by clicking, and deletes.

Every page is checked for console errors, and a screenshot of each is written under the test's directory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import pyvips

from tests import avsamples, images
from tests.browser import NEEDS_CHROMIUM, Browser, Watched, browser
from tests.servers import Running, Servers

pytestmark = [pytest.mark.asyncio, NEEDS_CHROMIUM]
__all__ = ["browser"]

# Wider than every srcset step the media page's `sizes` can ask for at this viewport.
VIEWPORT = {"width": 800, "height": 900}


async def sign_in(watched: Watched, running: Running, user: str, password: str, target: str) -> None:
    page = watched.page
    await page.goto(f"{running.url}{target}")
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#sign-in")
    await page.wait_for_url(f"{running.url}{target}")


async def until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 90.0) -> None:
    """Polls from here: the pages' policy forbids eval, which playwright's own waiting needs."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def loaded_width(watched: Watched, selector: str) -> tuple[str, int]:
    """The URL the browser chose for a picture and the width of what it loaded."""
    page = watched.page

    async def loaded() -> bool:
        return bool(await page.eval_on_selector(selector, "i => i.complete && i.naturalWidth > 0"))

    await until("the picture", loaded)
    src, width = await page.eval_on_selector(selector, "i => [i.currentSrc, i.naturalWidth]")
    return str(src), int(width)


async def test_a_user_uploads_looks_edits_and_deletes_in_a_browser(
        make_server: Servers, browser: Browser, tmp_path: Path) -> None:
    running = await make_server(users={"ada": "ada-password"}, presigned_size_limit=8 * 1024 * 1024)
    photos = [images.jpeg(tmp_path / "heron.jpg", 1600, 1200, seed=1),
              images.png(tmp_path / "reeds.png", 1200, 900, seed=2)]
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4")
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    watched = Watched(await context.new_page(), tmp_path / "screenshots")
    page = watched.page
    await sign_in(watched, running, "ada", "ada-password", "/upload")
    await watched.shot("upload")

    await page.set_input_files("#upload-files", [str(p) for p in (*photos, clip)])
    assert await page.is_checked("#upload-public")
    await page.click("#upload-start")

    async def settled() -> bool:
        states = await page.eval_on_selector_all(".upload-item", "rows => rows.map(r => r.dataset.state)")
        assert not {"failed", "refused"} & set(states), await page.inner_text("#upload-list")
        return list(states) == ["ready"] * 3

    await until("three uploads ready", settled)
    await watched.shot("uploaded")

    # Refusals read as words in the file's row: a type the server does not take, and a file over the cap.
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "huge.png").write_bytes(b"\x89PNG" + bytes(9 * 1024 * 1024))
    await page.set_input_files("#upload-files", [str(tmp_path / "notes.txt"), str(tmp_path / "huge.png")])
    await page.click("#upload-start")

    async def refused() -> bool:
        states = await page.eval_on_selector_all(".upload-item", "rows => rows.map(r => r.dataset.state)")
        return list(states)[3:] == ["refused"] * 2

    await until("two refusals", refused)
    said = await page.eval_on_selector_all(".upload-item .upload-status", "rows => rows.map(r => r.textContent)")
    assert "contentType must be one of" in said[3] and "at most 8388608 bytes" in said[4], said
    assert not any(text.lstrip().startswith("{") for text in said), said
    # The browser reports the refused request itself; nothing else went wrong.
    assert [error for error in watched.errors if "status of 415" not in error] == [] and len(watched.errors) == 1
    watched.errors.clear()
    links = [await link.get_attribute("href") for link in await page.query_selector_all(".upload-item a.upload-link")]
    assert len(links) == 3 and all(link and link.startswith("/u/ada/m/") for link in links)

    await page.goto(f"{running.url}/")
    assert await page.locator("li.tile").count() == 3
    assert await page.locator('li.tile[data-kind="video"]').count() == 1
    await watched.shot("gallery")

    photo = next(link for link in links if link)
    await page.goto(f"{running.url}{photo}")
    src, width = await loaded_width(watched, "#media-image")
    # At 800 CSS pixels and one device pixel each, the page's `sizes` asks for 800: the next width offered
    # is 960, which the browser lays out at 800 (its natural width is the file's over the density it chose).
    assert src.endswith("?w=960") and width == 800
    async with aiohttp.ClientSession() as http, http.get(src) as answer:
        assert answer.status == 200
        assert pyvips.Image.new_from_buffer(await answer.read(), "").width == 960
    await watched.shot("media")

    await page.fill("#description", '<script>alert("x")</script> A heron')
    async with page.expect_navigation():
        await page.click("#save-description")
    assert page.url == f"{running.url}{photo}"
    assert await page.locator("#description-text").inner_text() == '<script>alert("x")</script> A heron'

    box = await page.locator("#media-image").bounding_box()
    assert box is not None
    async with page.expect_navigation():
        await page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    assert (await page.locator("#focus-value").inner_text()).strip() == "Focus: x 0.50, y 0.50"

    await page.click("#delete-link")
    await watched.shot("delete")
    await page.click("#confirm-delete")
    await page.wait_for_url(f"{running.url}/u/ada")
    assert await page.locator("li.tile").count() == 2
    await watched.shot("user")
    assert watched.errors == []
    await context.close()
