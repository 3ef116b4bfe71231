"""The processing worker on a real JetStream consumer: one outcome per upload, poison never blocks."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from core.events import MediaFailed, MediaProcessed, MediaUploaded
from core.jetstream import JetStreamLog
from core.probe import Limits
from processors.worker import Processor, ProcessorSettings
from store.blobs import FileBlobStore
from tests import images


async def put_blob(store: FileBlobStore, data: bytes) -> str:
    async def one() -> object:
        yield data

    staged = await store.receive(one(), limit=len(data))  # type: ignore[arg-type]
    await store.commit(staged)
    return staged.sha256


def uploaded(media_id: str, blob: str) -> MediaUploaded:
    return MediaUploaded(at=1.0, media_id=media_id, owner_id="alice", blob=blob, size=1,
                         content_type="image/jpeg", width=320, height=240)


async def outcomes(events: JetStreamLog) -> dict[str, list[MediaProcessed | MediaFailed]]:
    found: dict[str, list[MediaProcessed | MediaFailed]] = {}
    async for record in events.read(1, follow=False):
        if isinstance(record.event, MediaProcessed | MediaFailed):
            found.setdefault(record.event.media_id, []).append(record.event)
    return found


async def run_until(processors: list[Processor], events: JetStreamLog, count: int, timeout: float = 30) -> None:
    tasks = [asyncio.create_task(p.run()) for p in processors]
    try:
        # The log is the thing observed, so it is polled.
        for _ in range(int(timeout * 10)):
            if sum(len(v) for v in (await outcomes(events)).values()) >= count:
                break
            await asyncio.sleep(0.1)
        # Give any duplicate a chance to show up before counting.
        await asyncio.sleep(0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_two_replicas_give_each_upload_exactly_one_outcome(jetstream_log: JetStreamLog,
                                                                 tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    for i in range(12):
        blob = await put_blob(blobs, images.jpeg(tmp_path / f"{i}.jpg", 320, 240, seed=i).read_bytes())
        await jetstream_log.append(uploaded(str(i), blob), msg_id=f"up{i}")
    settings = ProcessorSettings(concurrency=2)
    replicas = [Processor(jetstream_log, blobs, tmp_path / "renditions", Limits(), settings) for _ in range(2)]
    await run_until(replicas, jetstream_log, 12)
    found = await outcomes(jetstream_log)
    assert sorted(found, key=int) == [str(i) for i in range(12)]
    assert all(len(v) == 1 and isinstance(v[0], MediaProcessed) for v in found.values())
    assert sum(p.handled for p in replicas) == 12


async def test_a_duplicate_delivery_adds_no_second_outcome(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    blob = await put_blob(blobs, images.jpeg(tmp_path / "a.jpg", 320, 240).read_bytes())
    await jetstream_log.append(uploaded("1", blob), msg_id="up1")
    # The same upload appended again under another id, as a replay or a buggy writer would.
    await jetstream_log.append(uploaded("1", blob), msg_id="up1-again")
    processor = Processor(jetstream_log, blobs, tmp_path / "r", Limits(), ProcessorSettings(concurrency=1))
    await run_until([processor], jetstream_log, 1)
    assert processor.handled == 2
    assert [type(o) for o in (await outcomes(jetstream_log))["1"]] == [MediaProcessed]


async def test_rejected_media_fail_at_once_and_missing_blobs_after_the_last_delivery(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    corrupt = await put_blob(blobs, images.truncate(images.jpeg(tmp_path / "c.jpg", 640, 480), 0.5).read_bytes())
    good = await put_blob(blobs, images.jpeg(tmp_path / "g.jpg", 320, 240).read_bytes())
    missing = hashlib.sha256(b"never stored").hexdigest()
    await jetstream_log.append(uploaded("corrupt", corrupt), msg_id="a")
    await jetstream_log.append(uploaded("missing", missing), msg_id="b")
    await jetstream_log.append(uploaded("good", good), msg_id="c")
    settings = ProcessorSettings(concurrency=1, max_deliver=3, retry_delay=0.05)
    processor = Processor(jetstream_log, blobs, tmp_path / "r", Limits(), settings)
    await run_until([processor], jetstream_log, 3)
    found = await outcomes(jetstream_log)
    assert isinstance(found["good"][0], MediaProcessed)
    assert isinstance(found["corrupt"][0], MediaFailed) and "truncated or corrupt" in found["corrupt"][0].reason
    assert isinstance(found["missing"][0], MediaFailed) and found["missing"][0].reason.startswith("gave up")
    assert all(len(v) == 1 for v in found.values())
