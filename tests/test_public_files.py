"""A blob's public files (renditions, their transformations, the content-addressed original) are served
while a processed media names the blob, and are a 404 the moment none does: failed or deleted."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.events import AnyEvent, MediaDeleted, MediaFailed, MediaProcessed, MediaReprocessRequested, MediaUploaded
from core.ports import rendition_dir
from core.probe import Limits
from processors.imaging import PROCESSING_VERSION, process
from processors.rendered import to_info
from tests import images
from tests.servers import Running

V = PROCESSING_VERSION


# No processor: the test writes every outcome itself, so nothing renders behind its back.
pytestmark = pytest.mark.server(processor=False)


async def append(server: Running, event: AnyEvent) -> None:
    seq = await server.events.append(event, msg_id=f"{event.subject()}.{time.monotonic_ns()}")
    assert await server.projection.wait_for(seq, timeout=10)


async def uploaded(server: Running, media_id: str, data: bytes) -> str:
    blobs = server.server.blobs

    async def body() -> AsyncIterator[bytes]:
        yield data

    staged = await blobs.receive(body(), limit=len(data))
    await blobs.commit(staged)
    await append(server, MediaUploaded(at=time.time(), media_id=media_id, owner_id="alice", blob=staged.sha256,
                                       size=staged.size, content_type="image/jpeg", width=320, height=240))
    return staged.sha256


async def processed(server: Running, media_id: str, blob: str) -> None:
    """What a processor does: the renditions on disk, then the outcome in the log."""
    out = rendition_dir(server.config.renditions, blob, V)
    done = await asyncio.to_thread(process, server.server.blobs.path(blob), out, Limits())
    await append(server, MediaProcessed(at=time.time(), media_id=media_id, blob=blob, version=V,
                                        renditions=(to_info(done.original), to_info(done.small), to_info(done.thumb)),
                                        blurhash=done.blurhash))


def urls(server: Running, blob: str) -> list[str]:
    files = f"{server.url}/media/files/{blob}/v{V}"
    digest = f"{server.url}/media/sha256/{blob}"
    return [f"{files}/original.jpg", f"{files}/small.jpg", f"{files}/thumb.jpg", f"{files}/original.jpg?w=40",
            f"{files}/small.jpg?w=30&fm=png", digest, f"{digest}?w=50"]


async def statuses(http: aiohttp.ClientSession, server: Running, blob: str) -> list[int]:
    found = []
    for url in urls(server, blob):
        async with http.get(url) as response:
            await response.read()
            found.append(response.status)
    return found


async def test_a_failed_blob_is_never_processed_by_asking_for_its_files(
    server: Running, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # Good bytes whose processing gave up (a transient error on every delivery): rendering them on
    # request would work, and would do the processor's work on every request.
    blob = await uploaded(server, "gave-up", images.jpeg(tmp_path / "a.jpg", 320, 240).read_bytes())
    await append(server, MediaFailed(at=time.time(), media_id="gave-up", reason="gave up after 5 attempts"))
    for _ in range(2):
        assert await statuses(http, server, blob) == [404] * 7
    assert not (server.config.renditions / blob[:2] / blob).exists()
    async with http.get(f"{server.url}/media/sha256/{blob}") as response:
        assert await response.json() == {"error": "no image has this address", "code": "not_found"}

    # Processed once, then processed again and failed: the earlier files are on disk, and not served.
    await append(server, MediaReprocessRequested(at=time.time(), media_id="gave-up", blob=blob, after=0))
    await processed(server, "gave-up", blob)
    assert await statuses(http, server, blob) == [200] * 7
    await append(server, MediaReprocessRequested(at=time.time(), media_id="gave-up", blob=blob, after=0))
    # While it is processed again, the earlier renditions stay up.
    assert await statuses(http, server, blob) == [200] * 7
    await append(server, MediaFailed(at=time.time(), media_id="gave-up", reason="corrupt"))
    assert await statuses(http, server, blob) == [404] * 7
    assert (rendition_dir(server.config.renditions, blob, V) / "original.jpg").exists()


async def test_deleted_media_files_go_at_once_unless_another_media_shows_them(
    server: Running, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    shared = images.jpeg(tmp_path / "shared.jpg", 320, 240, seed=1).read_bytes()
    blob = await uploaded(server, "first", shared)
    assert await uploaded(server, "second", shared) == blob
    own = await uploaded(server, "alone", images.jpeg(tmp_path / "own.jpg", 320, 240, seed=2).read_bytes())
    for media_id, sha in (("first", blob), ("second", blob), ("alone", own)):
        await processed(server, media_id, sha)
    assert await statuses(http, server, blob) == [200] * 7
    assert await statuses(http, server, own) == [200] * 7

    await append(server, MediaDeleted(at=time.time(), media_id="alone"))
    # The sweeper has not run: the files are all still on disk, and none is served.
    assert (rendition_dir(server.config.renditions, own, V) / "original.jpg").exists()
    assert server.server.blobs.exists(own)
    assert await statuses(http, server, own) == [404] * 7
    # Wiped renditions of a deleted media do not come back from its blob either.
    shutil.rmtree(server.config.renditions / own[:2] / own)
    assert await statuses(http, server, own) == [404] * 7
    assert not (server.config.renditions / own[:2] / own).exists()

    await append(server, MediaDeleted(at=time.time(), media_id="first"))
    assert await statuses(http, server, blob) == [200] * 7
    # A ready media's renditions come back when wiped; a name it never had is not rendered for.
    shutil.rmtree(server.config.renditions / blob[:2] / blob)
    async with http.get(f"{server.url}/media/files/{blob}/v{V}/original.png") as response:
        assert response.status == 404
    assert not (server.config.renditions / blob[:2] / blob).exists()
    assert await statuses(http, server, blob) == [200] * 7
    await append(server, MediaDeleted(at=time.time(), media_id="second"))
    assert await statuses(http, server, blob) == [404] * 7


async def test_files_named_by_an_event_not_folded_yet_are_served(
    server: Running, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The URL came from another replica a moment ago: this one catches up before it answers 404."""
    data = images.jpeg(tmp_path / "new.jpg", 320, 240, seed=5).read_bytes()
    blobs = server.server.blobs

    async def body() -> AsyncIterator[bytes]:
        yield data

    staged = await blobs.receive(body(), limit=len(data))
    await blobs.commit(staged)
    blob = staged.sha256
    done = await asyncio.to_thread(process, blobs.path(blob), rendition_dir(server.config.renditions, blob, V),
                                   Limits())
    infos = (to_info(done.original), to_info(done.small), to_info(done.thumb))
    for i in range(5):
        media_id = f"elsewhere-{i}"
        await server.events.append(MediaUploaded(at=time.time(), media_id=media_id, owner_id="alice", blob=blob,
                                                 size=staged.size, content_type="image/jpeg", width=320,
                                                 height=240), msg_id=f"{media_id}.uploaded")
        if i:
            await server.events.append(MediaDeleted(at=time.time(), media_id=f"elsewhere-{i - 1}"),
                                       msg_id=f"{media_id}.deleted-before")
        await server.events.append(MediaProcessed(at=time.time(), media_id=media_id, blob=blob, version=V,
                                                  renditions=infos, blurhash=done.blurhash),
                                   msg_id=f"{media_id}.outcome")
        # Not waited for: the request races the projection's feed, as it would on another replica.
        async with http.get(f"{server.url}/media/sha256/{blob}") as response:
            assert response.status == 200
