"""Variant answers kept in memory by request: a repeated URL is answered without the projection or the disk,
and still never after a delete, a focus change or to someone an unposted upload is hidden from. Real servers."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import aiohttp
import yarl

from core.events import MediaDeleted
from core.ports import rendition_dir
from gateways.transform.cache import Answer, Answers
from tests.servers import Running
from tests.test_pumpio_feed import jpeg, login
from tests.test_pumpio_files import fetch as anonymous
from tests.test_pumpio_uploads import media_row
from tests.test_transform_api import (
    RED,
    STRIPES,
    YELLOW,
    bands,
    colour_at,
    fetch,
    gradient,
    http,
    image_at,
    near,
    server,
    upload,
)

# What the server adds to every answer by itself.
PER_RESPONSE = {"Date", "Server", "X-Request-ID"}
# The module-scoped server and client of the transformation API's tests, on this module's own server.
__all__ = ["http", "server"]


def answers(server: Running) -> Answers:
    assert server.server.variants is not None
    return server.server.variants.answers


def kept(server: Running, url: str, accept: str = "*/*") -> bool:
    return answers(server).get((yarl.URL(url).raw_path_qs, accept)) is not None


def same_headers(first: dict[str, str], second: dict[str, str]) -> bool:
    def lasting(headers: dict[str, str]) -> dict[str, str]:
        return {name: value for name, value in headers.items() if name not in PER_RESPONSE}

    return lasting(first) == lasting(second)


def wipe_renditions(server: Running, blob: str) -> Path:
    """Removes the blob's rendition files: a request that reaches them renders them again."""
    folder = server.config.renditions / blob[:2] / blob
    shutil.rmtree(folder)
    return folder


async def test_a_repeated_url_is_answered_from_memory_as_the_first_time(server: Running,
                                                                        http: aiohttp.ClientSession) -> None:
    photo = await upload(http, server, gradient(640, 480))
    for url in (f"{photo.url}?w=200&fm=webp", f"{photo.canonical}?w=120&h=90&fit=crop"):
        status, first_headers, first = await fetch(http, url)
        assert status == 200 and kept(server, url)
        # Without its renditions on disk, anything but a memory lookup would render them again first.
        folder = wipe_renditions(server, photo.blob)
        status, headers, again = await fetch(http, url)
        assert status == 200 and again == first and same_headers(dict(headers), dict(first_headers)), url
        assert not folder.exists()
        # Another spelling of the URL is another request: it reads the projection and the files.
        status, _, other = await fetch(http, f"{url}&utm_source=x")
        assert status == 200 and other == first and folder.exists()


async def test_conditional_requests_answer_304_from_memory_as_before(server: Running,
                                                                     http: aiohttp.ClientSession) -> None:
    photo = await upload(http, server, gradient(400, 300))
    url = f"{photo.url}?w=150&fm=png"
    status, headers, body = await fetch(http, url)
    etag = headers["ETag"]
    # A 304 made the long way, for another URL of the same variant, to compare with the one from memory.
    status, slow, empty = await fetch(http, f"{url}&utm=1", **{"If-None-Match": etag})
    assert status == 304 and empty == b""
    assert kept(server, url)
    for match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, fast, empty = await fetch(http, url, **{"If-None-Match": match})
        assert status == 304 and empty == b"", match
        assert same_headers(dict(fast), dict(slow)), match
    status, _, again = await fetch(http, url, **{"If-None-Match": '"something-else"'})
    assert status == 200 and again == body
    status, _, part = await fetch(http, url, Range="bytes=3-9")
    assert status == 206 and part == body[3:10]


async def test_a_deleted_media_is_gone_at_once_after_hits(server: Running, http: aiohttp.ClientSession) -> None:
    photo = await upload(http, server, gradient(480, 360))
    urls = [f"{photo.url}?w=100", f"{photo.canonical}?w=90&fm=png"]
    for url in urls:
        for _ in range(2):
            assert (await fetch(http, url))[0] == 200
        assert kept(server, url)
    async with http.delete(f"{server.url}/api/v1/media/{photo.media_id}",
                           headers={"Authorization": f"Bearer {photo.token}"}) as response:
        assert response.status == 200
    for url in urls:
        status, _, body = await fetch(http, url)
        assert status == 404, body
        assert not kept(server, url)


async def test_a_new_variant_of_a_deleted_media_is_refused_after_its_rows_were_kept(
    server: Running, http: aiohttp.ClientSession
) -> None:
    photo = await upload(http, server, gradient(420, 300))
    assert (await fetch(http, f"{photo.url}?w=50"))[0] == 200
    assert server.server.variants is not None
    kept_rows = server.server.variants.shown
    assert kept_rows.get(photo.blob) is not None
    async with http.delete(f"{server.url}/api/v1/media/{photo.media_id}",
                           headers={"Authorization": f"Bearer {photo.token}"}) as response:
        assert response.status == 200
    # A URL never asked for before, so no kept answer is involved: what was kept of the rows is gone too.
    assert kept_rows.get(photo.blob) is None
    for url in (f"{photo.url}?w=51", f"{photo.canonical}?w=52"):
        status, _, body = await fetch(http, url)
        assert status == 404, body


async def test_an_event_folded_after_the_projection_was_read_is_not_answered_from_before_it(
    server: Running, http: aiohttp.ClientSession
) -> None:
    # The deletion lands while the variant is rendered: the answer made from the earlier reads is not kept.
    photo = await upload(http, server, gradient(500, 400))
    url = f"{photo.url}?w=77"
    held = answers(server)
    before = held.forgotten
    seq = await server.events.append(MediaDeleted(at=time.time(), media_id=photo.media_id),
                                     msg_id=f"{photo.media_id}.deleted-now")
    assert await server.projection.wait_for(seq, timeout=10)
    assert held.forgotten > before
    held.keep(("/stale", "*/*"), Answer(blob=photo.blob, body=b"old", unchanged={}, headers={},
                                     ranged={}), since=before)
    assert held.get(("/stale", "*/*")) is None
    assert (await fetch(http, url))[0] == 404


async def test_a_focus_change_changes_the_answer_after_hits(server: Running, http: aiohttp.ClientSession) -> None:
    stripes = await upload(http, server, bands(1200, 300, STRIPES), focus="0.75,0")
    url = f"{stripes.canonical}?w=100&h=100&fit=crop&crop=focalpoint&fm=png"
    image, first = await image_at(http, url)
    again, _ = await image_at(http, url)
    assert near(colour_at(image, 50, 50), YELLOW) and near(colour_at(again, 50, 50), YELLOW)
    assert kept(server, url)
    async with http.put(f"{server.url}/api/v1/media/{stripes.media_id}", data={"focus": "-0.75,0.2"},
                        headers={"Authorization": f"Bearer {stripes.token}"}) as response:
        assert response.status == 200
    assert not kept(server, url)
    image, moved = await image_at(http, url, **{"If-None-Match": first["ETag"]})
    assert near(colour_at(image, 50, 50), RED)
    assert moved["ETag"] != first["ETag"]
    # The new answer is the one kept now.
    status, headers, _ = await fetch(http, url, **{"If-None-Match": moved["ETag"]})
    assert status == 304 and headers["ETag"] == moved["ETag"]


async def test_an_unposted_uploads_variant_is_never_kept_for_anyone(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = (await alice.upload(jpeg(tmp_path, seed=7))).json
    blob = (await media_row(server, image))["blob"]
    url = f"{image['fullImage']['url']}?w=60"
    digest = f"{server.url}/media/sha256/{blob}?w=60&fm=png"
    for target in (url, digest):
        for _ in range(2):
            mine = await alice.get(target)
            assert mine.status == 200 and mine.headers["Cache-Control"] == "private, no-cache", target
        # The owner's requests leave nothing a stranger's could be answered from.
        assert not kept(server, target)
        assert (await anonymous(target)).status_code == 404, target
    posted = await alice.activity("post", image)
    assert posted.status == 200
    shown = await anonymous(url)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] != "private, no-cache"


async def test_renditions_a_deleted_media_leaves_stay_unserved(server: Running, http: aiohttp.ClientSession) -> None:
    # Its variants' bytes are still on disk and were answered from memory: neither brings them back.
    photo = await upload(http, server, gradient(360, 240))
    url = f"{photo.url}?w=64&fm=webp"
    assert (await fetch(http, url))[0] == 200
    found = re.search(r"/v(\d+)/", photo.url)
    assert found is not None
    version = int(found[1])
    assert (rendition_dir(server.config.renditions, photo.blob, version) / "original.jpg").exists()
    seq = await server.events.append(MediaDeleted(at=time.time(), media_id=photo.media_id),
                                     msg_id=f"{photo.media_id}.deleted-by-event")
    assert await server.projection.wait_for(seq, timeout=10)
    assert (await fetch(http, url))[0] == 404
