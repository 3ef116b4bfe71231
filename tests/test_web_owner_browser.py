"""The owner's forms in a real browser, under the pages' Content-Security-Policy: clicking on the image sets the
focus point where the click was, the description form saves, and the delete link leads to a delete.

The forms are shown here on a page of this test's own that includes them beside an image, as the media page does.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import pytest
from aiohttp import web

pytest.importorskip("playwright.async_api", reason="playwright is not installed")
from playwright.async_api import Browser, async_playwright

from gateways.kit.descriptor import Gateway
from gateways.kit.media import media_view
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.registry import GATEWAYS
from gateways.web.gateway import PAGES
from gateways.web.session import viewer
from gateways.web.templating import POLICY
from store.queries.media import media_by_id
from tests import images
from tests.servers import Running, Servers, bearer

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.asyncio,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH to drive")]

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>media</title></head><body>
<img id="media-image" src="{{ media.url('original') }}" width="320" height="240" alt="">
{% include "owner_forms.html" %}
</body></html>
"""


async def media_page(request: web.Request) -> web.Response:
    row = await media_by_id(request.app[SERVICES].projection, request.match_info["id"])
    if row is None:
        raise Refusal(404, "gone")
    media = media_view(row, request.app[SERVICES].config.base_url)
    template = aiohttp_jinja2.get_env(request.app).from_string(PAGE)
    text = template.render(media=media, owner=row["owner_id"], viewer=await viewer(request))
    return web.Response(text=text, content_type="text/html", headers={"Content-Security-Policy": POLICY})


def routes(app: web.Application) -> None:
    app.router.add_get("/test-media/{id}", media_page)


SHOWN = Gateway(name="shown", routes=routes, errors=PAGES)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def eventually(check: Callable[[], Awaitable[bool]]) -> bool:
    for _ in range(200):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def uploaded(running: Running, tmp_path: Path) -> str:
    form = aiohttp.FormData()
    form.add_field("file", images.jpeg(tmp_path / "a.jpg", 320, 240).read_bytes(), filename="a.jpg",
                   content_type="image/jpeg")
    async with aiohttp.ClientSession() as http, \
            http.post(f"{running.url}/api/v2/media", data=form, headers=bearer(await running.token("ada"))) as answer:
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["id"])


async def test_the_owner_clicks_a_focus_point_describes_and_deletes(make_server: Servers, browser: Browser,
                                                                    tmp_path: Path) -> None:
    running = await make_server(registered=(*GATEWAYS, SHOWN))
    media_id = await uploaded(running, tmp_path)
    shown = f"{running.url}/test-media/{media_id}"
    page = await browser.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    await page.goto(f"{running.url}/login?next=/test-media/{media_id}")
    await page.fill("#username", "ada")
    await page.fill("#password", "ada-password")
    await page.click("#sign-in")
    await page.wait_for_url(shown)
    assert "not set" in await page.locator("#focus-value").inner_text()

    # A quarter of the way across and down: x halfway to the left edge, y halfway to the top.
    async with page.expect_navigation():
        await page.locator("#media-image").click(position={"x": 80, "y": 60})

    async def focused() -> bool:
        row = await media_by_id(running.projection, media_id)
        return row is not None and (row["focus_x"], row["focus_y"]) == (-0.5, 0.5)

    assert await eventually(focused)
    await page.goto(shown)
    assert await page.locator("#focus-value").inner_text() == "Focus: x -0.50, y 0.50"
    assert await page.locator("#focus-x").input_value() == "-0.50"

    # The bottom right corner.
    async with page.expect_navigation():
        await page.locator("#media-image").click(position={"x": 319, "y": 239})

    async def cornered() -> bool:
        row = await media_by_id(running.projection, media_id)
        return row is not None and row["focus_x"] > 0.98 and row["focus_y"] < -0.98

    assert await eventually(cornered)

    await page.goto(shown)
    await page.fill("#description", "Boats <b>at rest</b>")
    async with page.expect_navigation():
        await page.click("#save-description")

    async def described() -> bool:
        row = await media_by_id(running.projection, media_id)
        return row is not None and row["description"] == "Boats <b>at rest</b>"

    assert await eventually(described)
    await page.goto(shown)
    assert await page.locator("#description").input_value() == "Boats <b>at rest</b>"

    await page.click("#delete-link")
    await page.wait_for_url(f"{running.url}/u/ada/m/{media_id}/delete")
    async with page.expect_navigation():
        await page.click("#confirm-delete")
    assert page.url.endswith("/u/ada")

    async def deleted() -> bool:
        return await media_by_id(running.projection, media_id) is None

    assert await eventually(deleted)
    # The script ran under the policy: nothing it did was refused.
    assert not [text for text in refused if "Content Security Policy" in text], refused
