"""A real chromium for the browser tests, driven by playwright: Debian's `chromium`, which `.ci/run`
installs when it is missing. Without one, the tests are skipped and say why."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'")
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

__all__ = ["CHROMIUM", "NEEDS_CHROMIUM", "Browser", "Watched", "browser"]

CHROMIUM = shutil.which("chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` on PATH to drive: apt-get install chromium (.ci/run does this)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


class Watched:
    """A page whose console errors and failed scripts are kept, so a test can say there were none."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.errors: list[str] = []
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    async def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path
