"""Upload requests whose URL expired with no bytes sent are deleted by the sweeper, through the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.events import MediaDeleted, MediaRequested, MediaUploaded
from core.jetstream import JetStreamLog
from mediaplex.sweeper import Sweeper, SweepSettings
from store.blobs import FileBlobStore
from store.feed import Feed
from store.projection import Projection

NOW = 1_800_000_000.0
GRACE = SweepSettings().request_grace


def requested(media_id: str, expires_at: float) -> MediaRequested:
    return MediaRequested(at=expires_at - 900, media_id=media_id, owner_id="alice", filename=f"{media_id}.png",
                          content_type="image/png", max_bytes=1000, expires_at=expires_at)


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    opened = Projection(tmp_path / "p.db")
    await opened.open()
    yield opened
    await opened.close()


async def pending(projection: Projection) -> set[str]:
    rows = await projection.read(lambda c: c.execute("SELECT media_id FROM requests").fetchall())
    return {row[0] for row in rows}


async def test_expired_requests_are_deleted(jetstream_log: JetStreamLog, projection: Projection,
                                            tmp_path: Path) -> None:
    for event in (
        requested("expired", NOW - GRACE - 1),
        requested("in-grace", NOW - GRACE + 60),
        requested("valid", NOW + 10_000),
        requested("raced", NOW + 100),
    ):
        await jetstream_log.append(event, msg_id=event.subject())
    following = asyncio.create_task(Feed(jetstream_log, projection).run_forever())
    assert await projection.wait_for(await jetstream_log.last_seq(), timeout=10)
    blobs = FileBlobStore(tmp_path / "blobs")
    renditions = tmp_path / "renditions"

    report = await Sweeper(jetstream_log, projection, blobs, renditions, SweepSettings(),
                           clock=lambda: NOW).sweep_once()
    assert report.requests_expired == 1
    deleted = [r.event async for r in jetstream_log.read(1, follow=False) if isinstance(r.event, MediaDeleted)]
    assert [(e.media_id, e.reason) for e in deleted] == [("expired", "expired")]
    assert await pending(projection) == {"in-grace", "valid", "raced"}
    report = await Sweeper(jetstream_log, projection, blobs, renditions, SweepSettings(),
                           clock=lambda: NOW + 61).sweep_once()
    assert report.requests_expired == 1
    assert await pending(projection) == {"valid", "raced"}

    # "raced" is uploaded just as its URL expires; this projection has not seen the upload yet.
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    upload = MediaUploaded(at=NOW + 99, media_id="raced", owner_id="alice", blob="0" * 64, size=1,
                           content_type="image/png", width=1, height=1, via="presigned")
    await jetstream_log.append(upload, msg_id=upload.subject())
    later = NOW + 100 + GRACE + 1
    report = await Sweeper(jetstream_log, projection, blobs, renditions, SweepSettings(),
                           clock=lambda: later).sweep_once()
    # Its deletion would only land if nothing had happened to the media since the request.
    assert report.requests_expired == 0
    deleted = [r.event async for r in jetstream_log.read(1, follow=False) if isinstance(r.event, MediaDeleted)]
    assert [e.media_id for e in deleted] == ["expired", "in-grace"]
