"""Animated GIFs are refused from their header at every gateway when a frame, or all frames together,
hold too many pixels; a processor given one anyway fails it without decoding it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.events import MediaFailed, MediaProcessed, MediaUploaded, outcome_subject
from core.probe import Header, Limits, MediaRejected, check_limits
from processors.header import read_header
from tests import images
from tests.servers import Running
from tests.test_pumpio_feed import login

# 110 frames of 960x960: each frame is within Mastodon's 921,600 px, all of them hold 101,376,000.
LONG = (960, 960, 110)
LONG_TEXT = ("animated GIF of 110 frames of 960x960 (101,376,000 px in all) exceeds the limit of "
             "100,000,000 px across its frames")
# Two frames of 1281x720: 922,320 px each, one row of pixels over Mastodon's limit per frame.
WIDE = (1281, 720, 2)
WIDE_TEXT = "animated GIF of 1281x720 (922,320 px) exceeds the limit of 921,600 px"


@pytest.fixture(scope="module")
def long_gif(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = images.long_gif(tmp_path_factory.mktemp("gif") / "long.gif", *LONG)
    # Small enough for every gateway's byte cap, so only the pixel checks can refuse it.
    assert path.stat().st_size < 600_000
    return path.read_bytes()


@pytest.fixture(scope="module")
def wide_gif(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return images.long_gif(tmp_path_factory.mktemp("gif") / "wide.gif", *WIDE).read_bytes()


def test_the_header_decides(tmp_path: Path, long_gif: bytes) -> None:
    path = tmp_path / "long.gif"
    path.write_bytes(long_gif)
    header = read_header(path)
    assert header == Header(content_type="image/gif", width=960, height=960, frames=110, kind="gifv")
    with pytest.raises(MediaRejected) as caught:
        check_limits(header, Limits())
    assert (caught.value.kind, str(caught.value)) == ("too_many_pixels", LONG_TEXT)
    assert (caught.value.width, caught.value.height) == (960, 960)
    # At the limit is fine: 108 frames are 99,532,800 px, 109 are over.
    check_limits(Header(content_type="image/gif", width=960, height=960, frames=108), Limits())
    with pytest.raises(MediaRejected):
        check_limits(Header(content_type="image/gif", width=960, height=960, frames=109), Limits())
    # A still image is one frame whatever its container says; a still GIF is held to the still limit.
    check_limits(Header(content_type="image/webp", width=960, height=960, frames=200), Limits())
    check_limits(Header(content_type="image/gif", width=5000, height=5000, frames=1), Limits())


async def test_every_gateway_refuses_them_and_keeps_nothing(
    server: Running, long_gif: bytes, wide_gif: bytes
) -> None:
    token = await server.token("alice")
    pump = await login(server, "alice")
    bearer = {"Authorization": f"Bearer {token}"}
    before = await server.events.last_seq()
    async with aiohttp.ClientSession() as http:
        for data, text, size in ((long_gif, LONG_TEXT, "960x960"), (wide_gif, WIDE_TEXT, "1281x720")):
            form = aiohttp.FormData()
            form.add_field("file", data, filename="a.gif", content_type="image/gif")
            async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer) as response:
                assert (response.status, await response.json()) == (422, {"error": f"{size} images are not supported"})

            answer = await pump.upload(data, "image/gif")
            assert (answer.status, answer.json) == (400, {"error": f"The image is too large: {text}."})

            async with http.post(f"{server.url}/media", json={"filename": "a.gif", "contentType": "image/gif"},
                                 headers=bearer) as response:
                granted = await response.json()
            headers = {"Content-Type": "image/gif", "Content-Disposition": granted["contentDispositionHeader"]}
            async with http.put(granted["uploadUrl"], data=data, headers=headers) as response:
                body = await response.json()
                assert (response.status, body) == (
                    422, {"error": f"The image is too large: {text}", "code": "too_many_pixels"})
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
    # Only the presigned grants were appended; no upload and no bytes were kept.
    appended = [r.event async for r in server.events.read(before + 1, follow=False)]
    assert [type(event).__name__ for event in appended] == ["MediaRequested", "MediaRequested"]
    assert [p for p in server.config.blobs.rglob("*") if p.is_file()] == []


async def test_a_processor_fails_one_that_reached_the_log(server: Running, long_gif: bytes) -> None:
    """As if it came in through a gateway with other limits, or was appended before the limit existed."""
    blobs = server.server.blobs

    async def body() -> AsyncIterator[bytes]:
        yield long_gif

    staged = await blobs.receive(body(), limit=len(long_gif))
    await blobs.commit(staged)
    await server.events.append(MediaUploaded(
        at=time.time(), media_id="long-gif", owner_id="alice", blob=staged.sha256, size=staged.size,
        content_type="image/gif", width=960, height=960, frames=110,
    ), msg_id="long-gif.uploaded")
    outcome: MediaProcessed | MediaFailed | None = None
    for _ in range(300):
        if await server.events.last_on(outcome_subject("long-gif")):
            async for record in server.events.read(1, follow=False):
                if isinstance(record.event, MediaProcessed | MediaFailed):
                    outcome = record.event
            break
        await asyncio.sleep(0.1)
    assert isinstance(outcome, MediaFailed)
    assert outcome.reason == LONG_TEXT
