"""The processing worker on a real JetStream consumer: one outcome per upload, poison never blocks."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg
from nats.js import api as js_api

from core.events import (
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaUploaded,
    outcome_subject,
)
from core.jetstream import JetStreamLog, connect
from core.probe import Limits
from mediaplex.admin import AdminError, reprocess, reprocess_failed
from processors.worker import Processor, ProcessorSettings, lane_settings
from store.blobs import FileBlobStore
from tests import avsamples, images


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
    settings = ProcessorSettings(concurrency=1, max_deliver=3, backoff=(0.2, 0.2), heartbeat=0.1)
    processor = Processor(jetstream_log, blobs, tmp_path / "r", Limits(), settings)
    await run_until([processor], jetstream_log, 3)
    found = await outcomes(jetstream_log)
    assert isinstance(found["good"][0], MediaProcessed)
    assert isinstance(found["corrupt"][0], MediaFailed) and "truncated or corrupt" in found["corrupt"][0].reason
    assert isinstance(found["missing"][0], MediaFailed) and found["missing"][0].reason.startswith("gave up")
    assert all(len(v) == 1 for v in found.values())


def fast(**overrides: object) -> ProcessorSettings:
    """Short steps so that retries and give-ups happen within a test."""
    fields: dict[str, object] = {"concurrency": 1, "max_deliver": 3, "backoff": (0.3, 0.3), "heartbeat": 0.1}
    fields.update(overrides)
    return ProcessorSettings(**fields)  # type: ignore[arg-type]


def processor(events: JetStreamLog, blobs: FileBlobStore, tmp_path: Path, settings: ProcessorSettings) -> Processor:
    return Processor(events, blobs, tmp_path / "renditions", Limits(), settings)


async def test_the_consumer_has_bounded_backoff_and_takes_reprocess_requests(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    settings = ProcessorSettings()
    assert settings.max_deliver == len(settings.backoff) + 1
    await processor(jetstream_log, FileBlobStore(tmp_path / "b"), tmp_path, settings).ensure_consumer()
    info = await jetstream_log.jetstream.consumer_info(jetstream_log.stream, settings.durable)
    assert info.config.backoff == list(settings.backoff)
    assert info.config.max_deliver == settings.max_deliver
    assert info.config.ack_wait == settings.backoff[0]
    assert sorted(info.config.filter_subjects or ()) == sorted(
        jetstream_log.subject(f) for f in ("mx.media.*.uploaded", "mx.media.*.reprocess"))
    with pytest.raises(ValueError):
        ProcessorSettings(backoff=(1.0, 2.0), max_deliver=2)
    with pytest.raises(ValueError):
        ProcessorSettings(backoff=(1.0,), max_deliver=2, heartbeat=1.0)


async def test_a_consumer_created_under_the_old_settings_is_updated_in_place(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    done = await put_blob(blobs, images.jpeg(tmp_path / "a.jpg", 320, 240).read_bytes())
    await jetstream_log.append(uploaded("old", done), msg_id="old")
    # The consumer as it used to be made: uploads only, a fixed ack wait, no backoff.
    await jetstream_log.jetstream.add_consumer(jetstream_log.stream, js_api.ConsumerConfig(
        durable_name="processors", filter_subject=jetstream_log.subject("mx.media.*.uploaded"),
        ack_policy=js_api.AckPolicy.EXPLICIT, deliver_policy=js_api.DeliverPolicy.ALL, max_deliver=5,
        ack_wait=60.0, max_ack_pending=64))
    first = processor(jetstream_log, blobs, tmp_path, fast())
    await run_until([first], jetstream_log, 1)
    info = await jetstream_log.jetstream.consumer_info(jetstream_log.stream, "processors")
    assert info.config.backoff == [0.3, 0.3] and info.config.max_deliver == 3
    after = await jetstream_log.last_on(outcome_subject("old"))
    await jetstream_log.append(MediaReprocessRequested(at=2.0, media_id="old", blob=done, after=after), msg_id="r")
    second = processor(jetstream_log, blobs, tmp_path, fast())
    await run_until([second], jetstream_log, 2)
    # The position survived the update: the upload was not processed a second time.
    assert second.handled == 1
    assert [type(o) for o in (await outcomes(jetstream_log))["old"]] == [MediaProcessed, MediaProcessed]


async def test_the_last_attempt_appends_one_failure_and_terminates_the_message(
    jetstream_log: JetStreamLog, nats_url: str, tmp_path: Path
) -> None:
    watcher = await connect([nats_url], name="advisories")
    terminated: list[bytes] = []

    async def on_term(msg: Msg) -> None:
        terminated.append(msg.data)

    await watcher.subscribe(f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{jetstream_log.stream}.processors",
                            cb=on_term)
    try:
        await jetstream_log.append(uploaded("lost", hashlib.sha256(b"gone").hexdigest()), msg_id="lost")
        worker = processor(jetstream_log, FileBlobStore(tmp_path / "blobs"), tmp_path, fast())
        await run_until([worker], jetstream_log, 1)
        (failed,) = (await outcomes(jetstream_log))["lost"]
        assert isinstance(failed, MediaFailed) and failed.reason.startswith("gave up after 3 attempts")
        await watcher.flush()
        assert len(terminated) == 1
        info = await jetstream_log.jetstream.consumer_info(jetstream_log.stream, "processors")
        assert (info.num_ack_pending, info.num_pending) == (0, 0)
    finally:
        await watcher.close()


async def test_poison_media_never_holds_up_the_rest(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    await jetstream_log.append(uploaded("poison", hashlib.sha256(b"never stored").hexdigest()), msg_id="p")
    for i in range(8):
        blob = await put_blob(blobs, images.jpeg(tmp_path / f"{i}.jpg", 320, 240, seed=i).read_bytes())
        await jetstream_log.append(uploaded(str(i), blob), msg_id=f"up{i}")
    # Giving up on the poison takes two backoff steps: 6 s, far longer than the good media need.
    settings = fast(concurrency=2, backoff=(3.0, 3.0), heartbeat=0.5)
    replicas = [processor(jetstream_log, blobs, tmp_path, settings) for _ in range(2)]
    tasks = [asyncio.create_task(p.run()) for p in replicas]
    try:
        for _ in range(100):
            found = await outcomes(jetstream_log)
            if len(found) >= 8:
                break
            await asyncio.sleep(0.1)
        assert "poison" not in found and all(isinstance(found[str(i)][0], MediaProcessed) for i in range(8))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await run_until(replicas, jetstream_log, 9)
    found = await outcomes(jetstream_log)
    assert [type(o) for o in found["poison"]] == [MediaFailed]
    assert all(len(v) == 1 for v in found.values())


async def test_failed_media_reprocessed_once_its_blob_is_back(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    data = images.jpeg(tmp_path / "a.jpg", 320, 240).read_bytes()
    good = await put_blob(blobs, images.jpeg(tmp_path / "g.jpg", 320, 240, seed=3).read_bytes())
    await jetstream_log.append(uploaded("1", hashlib.sha256(data).hexdigest()), msg_id="up1")
    await jetstream_log.append(uploaded("2", hashlib.sha256(data).hexdigest()), msg_id="up2")
    await jetstream_log.append(uploaded("3", good), msg_id="up3")
    await run_until([processor(jetstream_log, blobs, tmp_path, fast())], jetstream_log, 3)
    assert {k: [type(o) for o in v] for k, v in (await outcomes(jetstream_log)).items()} == {
        "1": [MediaFailed], "2": [MediaFailed], "3": [MediaProcessed]}
    await put_blob(blobs, data)
    request = await reprocess(jetstream_log, "1")
    assert request.after == await jetstream_log.last_on(outcome_subject("1"))
    # The same request delivered twice, as a replay or a second writer would.
    await jetstream_log.append(request, msg_id="the-same-again")
    await run_until([processor(jetstream_log, blobs, tmp_path, fast())], jetstream_log, 4)
    found = await outcomes(jetstream_log)
    assert [type(o) for o in found["1"]] == [MediaFailed, MediaProcessed]
    assert [type(o) for o in found["2"]] == [MediaFailed]
    # Only 2 is failed now; 3 never was.
    assert [r.media_id for r in await reprocess_failed(jetstream_log)] == ["2"]
    await run_until([processor(jetstream_log, blobs, tmp_path, fast())], jetstream_log, 5)
    found = await outcomes(jetstream_log)
    assert {k: [type(o) for o in v] for k, v in found.items()} == {
        "1": [MediaFailed, MediaProcessed], "2": [MediaFailed, MediaProcessed], "3": [MediaProcessed]}
    assert await reprocess_failed(jetstream_log) == []


async def test_unknown_and_deleted_media_are_refused(jetstream_log: JetStreamLog) -> None:
    await jetstream_log.append(uploaded("9", "c" * 64), msg_id="up9")
    await jetstream_log.append(MediaDeleted(at=2.0, media_id="9"), msg_id="del9")
    with pytest.raises(AdminError, match="was deleted"):
        await reprocess(jetstream_log, "9")
    for unknown in ("10", "a.b", ">"):
        with pytest.raises(AdminError, match="no media"):
            await reprocess(jetstream_log, unknown)


async def test_each_lane_processes_its_own_kinds_and_acks_the_others(jetstream_log: JetStreamLog,
                                                                     tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    photo = await put_blob(blobs, images.jpeg(tmp_path / "p.jpg", 320, 240).read_bytes())
    clip = await put_blob(blobs, avsamples.h264_mp4(tmp_path / "c.mp4").read_bytes())
    tone = await put_blob(blobs, avsamples.audio(tmp_path / "t.flac", format="flac", codec="flac").read_bytes())
    await jetstream_log.append(uploaded("photo", photo), msg_id="p")
    await jetstream_log.append(msgspec.structs.replace(uploaded("clip", clip), content_type="video/mp4",
                                                       kind="video"), msg_id="c")
    await jetstream_log.append(msgspec.structs.replace(uploaded("tone", tone), content_type="audio/flac",
                                                       kind="audio"), msg_id="t")
    # Only the video lane runs: the photo and the tone wait for their own consumers, untouched.
    video = processor(jetstream_log, blobs, tmp_path, lane_settings("video", 1))
    await run_until([video], jetstream_log, 1)
    found = await outcomes(jetstream_log)
    assert list(found) == ["clip"] and isinstance(found["clip"][0], MediaProcessed)
    assert found["clip"][0].kind == "video" and found["clip"][0].meta is not None
    assert video.handled == 1
    lanes = [processor(jetstream_log, blobs, tmp_path, lane_settings(lane, 1)) for lane in ("image", "audio")]
    await run_until(lanes, jetstream_log, 3)
    found = await outcomes(jetstream_log)
    assert {media: outcome[0].kind for media, outcome in found.items()} == {
        "clip": "video", "photo": "image", "tone": "audio"}
    assert all(len(outcome) == 1 for outcome in found.values())
    durables = {c.name for c in await jetstream_log.jetstream.consumers_info(jetstream_log.stream)}
    assert {"processors", "processors-video", "processors-audio"} <= durables


class Stubborn(Processor):
    """A processor whose first fetch loop lets one cancel go, as a cancel lost inside the NATS client does."""

    swallowed = 0

    async def _loop(self, binding: object) -> None:  # type: ignore[override]
        if self.swallowed == 0:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.swallowed += 1
        await super()._loop(binding)  # type: ignore[arg-type]


async def test_a_processor_stops_even_when_a_loop_lets_a_cancel_go(jetstream_log: JetStreamLog,
                                                                  tmp_path: Path) -> None:
    worker = Stubborn(jetstream_log, FileBlobStore(tmp_path / "blobs"), tmp_path / "renditions", Limits(),
                      ProcessorSettings(concurrency=1))
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done, "the processor is still running after its cancel"
    assert worker.swallowed == 1 and task.cancelled()
