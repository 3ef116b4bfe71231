"""10. Video and audio: the video lane's transcode against bare PyAV, passthrough against transcode, and
photo latency while a video transcodes, all through the real Processor on an embedded broker."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

from nats.aio.msg import Msg

from bench import avcorpus, bare_av, corpus, processing, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict
from core.broker import EmbeddedBroker
from core.events import Codec, MediaFailed, MediaProcessed, MediaUploaded
from core.jetstream import JetStreamLog, StreamSettings, connect
from core.ports import rendition_dir
from core.probe import Limits
from core.tasks import stop
from processors.header import read_header
from processors.imaging import PROCESSING_VERSION, configure_vips
from processors.worker import Processor, lane_settings
from store.blobs import FileBlobStore

THROUGHPUT_GOAL = 0.95
PASSTHROUGH_GOAL = 10.0
LATENCY_GOAL = 0.9
VIDEO_CONCURRENCY = 1
IMAGE_CONCURRENCY = 2
OUTCOME_TIMEOUT = 900.0
# Until the video lane has its job in hand and FFmpeg's threads are busy.
BUSY_START = 1.0
POLL = 0.05


class Arrivals:
    """When each outcome reached the log, seen on a plain subscription as JetStream stores it."""

    def __init__(self) -> None:
        self._codec = Codec()
        self.at: dict[str, float] = {}
        self.processed: dict[str, MediaProcessed] = {}
        self.failed: dict[str, str] = {}
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def expect(self, media_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[media_id] = future
        return future

    async def on_message(self, msg: Msg) -> None:
        now = time.perf_counter()
        event = self._codec.decode(msg.data)
        if not isinstance(event, MediaProcessed | MediaFailed):
            return
        self.at[event.media_id] = now
        if isinstance(event, MediaProcessed):
            self.processed[event.media_id] = event
        else:
            self.failed[event.media_id] = event.reason
        future = self._waiting.pop(event.media_id, None)
        if future is not None and not future.done():
            future.set_result(None)


class Lab:
    """One broker, blob store and log; lanes started and stopped as a measurement needs them."""

    def __init__(self, work: Path, events: JetStreamLog, blobs: FileBlobStore, arrivals: Arrivals) -> None:
        self.work = work
        self.events = events
        self.blobs = blobs
        self.arrivals = arrivals
        self.renditions = work / "renditions"
        self.workers: list[asyncio.Task[None]] = []
        self._headers: dict[Path, MediaUploaded] = {}
        self._serial = 0

    def processor(self, lane: str, concurrency: int) -> Processor:
        settings = lane_settings("video" if lane == "video" else "image", concurrency)
        return Processor(self.events, self.blobs, self.renditions, Limits(), settings)

    async def start(self, processor: Processor) -> asyncio.Task[None]:
        await processor.ensure_consumer()
        task = asyncio.create_task(processor.run())
        self.workers.append(task)
        return task

    async def stop(self, task: asyncio.Task[None]) -> None:
        await stop(task)
        self.workers.remove(task)

    async def store(self, path: Path) -> MediaUploaded:
        """The blob committed and the upload the gateway would append for it, but for its media id."""
        if path not in self._headers:
            names = await processing.store_blobs(self.blobs, [corpus.Sample(path, "", "")])
            header = read_header(path)
            self._headers[path] = MediaUploaded(
                at=0.0, media_id="", owner_id="bench", blob=names[0], size=path.stat().st_size,
                content_type=header.content_type, width=header.width, height=header.height,
                frames=header.frames, kind=header.kind,
            )
        return self._headers[path]

    async def upload(self, path: Path) -> tuple[str, asyncio.Future[None]]:
        """Append an upload of `path` under a new media id; the future completes with its outcome."""
        template = await self.store(path)
        self._serial += 1
        media_id = f"av-{self._serial}"
        done = self.arrivals.expect(media_id)
        event = MediaUploaded(
            at=time.time(), media_id=media_id, owner_id=template.owner_id, blob=template.blob,
            size=template.size, content_type=template.content_type, width=template.width,
            height=template.height, frames=template.frames, kind=template.kind,
        )
        await self.events.append(event, msg_id=f"{media_id}.uploaded")
        return media_id, done

    async def outcome(self, media_id: str, done: asyncio.Future[None]) -> MediaProcessed:
        """Wait for the outcome of `media_id`; CouldNotMeasure if it failed or a lane stopped."""
        await asyncio.wait({done, *self.workers}, timeout=OUTCOME_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            stopped = [w for w in self.workers if w.done()]
            if stopped:
                problem = "cancelled" if stopped[0].cancelled() else repr(stopped[0].exception())
                raise CouldNotMeasure(f"a processor stopped while {media_id} was in it: {problem}")
            raise CouldNotMeasure(f"no outcome for {media_id} within {OUTCOME_TIMEOUT:.0f}s")
        if media_id in self.arrivals.failed:
            raise CouldNotMeasure(f"the processor failed {media_id}: {self.arrivals.failed[media_id]}")
        return self.arrivals.processed[media_id]

    async def through(self, paths: Sequence[Path]) -> tuple[float, list[Path]]:
        """Seconds from appending the uploads of `paths` (all at once) to the last outcome, and the originals."""
        started = time.perf_counter()
        pending = [await self.upload(path) for path in paths]
        originals = []
        for media_id, done in pending:
            processed = await self.outcome(media_id, done)
            originals.append(rendition_dir(self.renditions, processed.blob, PROCESSING_VERSION) / "original.mp4")
        return max(self.arrivals.at[m] for m, _ in pending) - started, originals

    async def latency(self, path: Path) -> float:
        """Seconds from appending one upload of `path` to its outcome."""
        started = time.perf_counter()
        media_id, done = await self.upload(path)
        await self.outcome(media_id, done)
        return self.arrivals.at[media_id] - started


def bare_run(sources: Sequence[Path], out: Path) -> tuple[float, list[Path]]:
    """Seconds to transcode `sources` one after another, and the MP4s written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{i}.mp4" for i in range(len(sources))]
    started = time.perf_counter()
    for source, path in zip(sources, paths, strict=True):
        bare_av.transcode(source, path)
    return time.perf_counter() - started, paths


async def throughput(lab: Lab, settings: Settings, clips: list[avcorpus.Clip], warm: Path) -> tuple[Row, list[str]]:
    """10a: frames/s of the video lane against the bare transcode, file by file, the two back to back."""
    lane = await lab.start(lab.processor("video", VIDEO_CONCURRENCY))
    notes: list[str] = []
    frames = sum(c.frames for c in clips)
    lane_rates: list[float] = []
    bare_rates: list[float] = []
    ratios: list[float] = []
    try:
        # Untimed: FFmpeg's first use on both sides, and the lane's fetch loops bound and waiting.
        await asyncio.to_thread(bare_run, [warm], lab.work / "bare-warm")
        await lab.through([warm])
        for run in range(settings.runs):
            lane_total = bare_total = 0.0
            made: list[Path] = []
            originals: list[Path] = []
            for i, clip in enumerate(clips):
                out = lab.work / f"bare-{run}-{i}"
                # Each file's pair back to back, the order alternating: a machine whose other load
                # comes and goes over seconds then touches both sides alike.
                if (run + i) % 2 == 0:
                    bare_seconds, mine = await asyncio.to_thread(bare_run, [clip.path], out)
                    seconds, theirs = await lab.through([clip.path])
                else:
                    seconds, theirs = await lab.through([clip.path])
                    bare_seconds, mine = await asyncio.to_thread(bare_run, [clip.path], out)
                made += mine
                originals += theirs
                lane_total += seconds
                bare_total += bare_seconds
                ratios.append(bare_seconds / seconds)
            if run == 0:
                notes += await asyncio.to_thread(compare, clips, made, originals)
            lane_rates.append(frames / lane_total)
            bare_rates.append(frames / bare_total)
    finally:
        await lab.stop(lane)
    ratio = stats.median(ratios)
    what = (f"Video transcode: {' and '.join(c.label for c in clips)} ({clips[0].frames} frames each at 30 fps, "
            f"with audio) one at a time through the video lane (Processor, concurrency {VIDEO_CONCURRENCY}), "
            f"upload to outcome")
    row = Row(
        key="10a", what=what, result=stats.rate(stats.median(lane_rates), "frames/s"),
        reference=f"bare PyAV transcode, same settings and threads: {stats.rate(stats.median(bare_rates), 'frames/s')}",
        ratio=stats.ratio(ratio), goal=f"≥ {THROUGHPUT_GOAL}", verdict=verdict(ratio >= THROUGHPUT_GOAL),
    )
    spread = ", ".join(f"{r:.2f}" for r in ratios)
    notes.append(f"Video transcode (10a): the ratio is the median over every file of every run of bare seconds / "
                 f"lane seconds ({spread}); the lane's own costs besides the transcode (reading the header, "
                 f"the first frame's stills, reading the original back for its meta, the log) take roughly 0.1 s a "
                 f"file.")
    return row, notes


def compare(clips: Sequence[avcorpus.Clip], made: Sequence[Path], originals: Sequence[Path]) -> list[str]:
    """Where the bare transcode wrote something else than the lane: then the ratio compares unlike work."""
    notes = []
    same_bytes = []
    for clip, mine, theirs in zip(clips, made, originals, strict=True):
        a, b = bare_av.describe(mine), bare_av.describe(theirs)
        if (a.frames, a.width, a.height) != (b.frames, b.width, b.height):
            raise CouldNotMeasure(f"{clip.label}: the bare transcode wrote {a.frames} frames of {a.width}x{a.height}, "
                                  f"the lane {b.frames} of {b.width}x{b.height}")
        if a.sha256 == b.sha256:
            same_bytes.append(clip.label)
        else:
            notes.append(f"Video transcode (10a): {clip.label}: same frames and size ({b.frames} of {b.width}x"
                         f"{b.height}), but the bare transcode's MP4 differs in its bytes from the lane's.")
    if same_bytes:
        notes.append(f"Video transcode (10a): the bare transcode and the lane wrote byte-identical MP4s for "
                     f"{', '.join(same_bytes)}.")
    return notes


async def passthrough(lab: Lab, settings: Settings, big: avcorpus.Clip, mov: Path) -> tuple[Row, list[str]]:
    """10b: the same H.264 and AAC streams as a passed-through MP4 and as a QuickTime file, which is transcoded."""
    lane = await lab.start(lab.processor("video", VIDEO_CONCURRENCY))
    copies: list[float] = []
    transcodes: list[float] = []
    ratios: list[float] = []
    notes: list[str] = []
    try:
        # Untimed: the lane bound and waiting, and the upload and its first frame's decoder warm.
        await lab.through([big.path])
        for run in range(settings.runs):
            if run % 2 == 0:
                copy, copied = await lab.through([big.path])
                transcode, transcoded = await lab.through([mov])
            else:
                transcode, transcoded = await lab.through([mov])
                copy, copied = await lab.through([big.path])
            if run == 0:
                a, b = bare_av.describe(copied[0]), bare_av.describe(transcoded[0])
                if (a.frames, a.width, a.height) != (b.frames, b.width, b.height) or a.frames != big.frames:
                    raise CouldNotMeasure(f"passthrough wrote {a.frames} frames of {a.width}x{a.height}, the "
                                          f"transcode {b.frames} of {b.width}x{b.height}, of {big.frames}")
                notes.append(f"Passthrough (10b): the passed-through original is {copied[0].stat().st_size / 1e6:.1f} "
                             f"MB (the upload {big.path.stat().st_size / 1e6:.1f} MB), the transcoded one "
                             f"{transcoded[0].stat().st_size / 1e6:.1f} MB; both {a.frames} frames of "
                             f"{a.width}x{a.height}.")
            copies.append(copy)
            transcodes.append(transcode)
            ratios.append(transcode / copy)
    finally:
        await lab.stop(lane)
    ratio = stats.median(ratios)
    size = big.path.stat().st_size / 1e6
    row = Row(
        key="10b",
        what=f"Passthrough vs transcode: a {size:.0f} MB H.264 yuv420p + AAC MP4, {big.width}x{big.height}, "
             f"{big.frames} frames, through the video lane, upload to outcome",
        result=f"passthrough (streams copied): {stats.seconds(stats.median(copies))}",
        reference=f"the same streams in a QuickTime file, transcoded: {stats.seconds(stats.median(transcodes))}",
        ratio=stats.ratio(ratio), goal=f"≥ {PASSTHROUGH_GOAL:.0f}x faster", verdict=verdict(ratio >= PASSTHROUGH_GOAL),
    )
    return row, notes


async def photo_latencies(lab: Lab, photos: Sequence[corpus.Sample]) -> list[float]:
    return [await lab.latency(photo.path) for photo in photos]


async def busy_latencies(lab: Lab, photos: Sequence[corpus.Sample], long: avcorpus.Clip) -> tuple[list[float], float]:
    """Photo latencies while the video lane transcodes `long`; and the seconds the video went on after them."""
    media_id, done = await lab.upload(long.path)
    await asyncio.sleep(BUSY_START)
    if done.done():
        raise CouldNotMeasure("the long video was done before the first photo")
    latencies = await photo_latencies(lab, photos)
    if done.done():
        raise CouldNotMeasure(f"the long video ({long.frames} frames) was done before the last photo; "
                              f"it must be longer to keep the video lane busy")
    finished = time.perf_counter()
    await lab.outcome(media_id, done)
    return latencies, lab.arrivals.at[media_id] - finished


async def contention(lab: Lab, settings: Settings, photos: list[corpus.Sample],
                     long: avcorpus.Clip) -> tuple[Row, list[str]]:
    """10c: photo latency through the image lane, idle and while the video lane transcodes, one process."""
    images = await lab.start(lab.processor("image", IMAGE_CONCURRENCY))
    video = await lab.start(lab.processor("video", VIDEO_CONCURRENCY))
    idle_medians: list[float] = []
    busy_medians: list[float] = []
    ratios: list[float] = []
    tails: list[float] = []
    try:
        # Untimed: libvips' first use, and both lanes bound and waiting.
        await photo_latencies(lab, photos[:2])
        for run in range(settings.runs):
            if run % 2 == 0:
                idle = await photo_latencies(lab, photos)
                busy, tail = await busy_latencies(lab, photos, long)
            else:
                busy, tail = await busy_latencies(lab, photos, long)
                idle = await photo_latencies(lab, photos)
            idle_medians.append(stats.median(idle))
            busy_medians.append(stats.median(busy))
            ratios.append(idle_medians[-1] / busy_medians[-1])
            tails.append(tail)
    finally:
        await lab.stop(video)
        await lab.stop(images)
    ratio = stats.median(ratios)
    label = photos[0].label
    row = Row(
        key="10c",
        what=f"Photo latency while a video transcodes: {len(photos)} {label}s one at a time through the image "
             f"lane (concurrency {IMAGE_CONCURRENCY}) while the video lane (concurrency {VIDEO_CONCURRENCY}) "
             f"transcodes {long.label} ({long.frames} frames), same process; median upload to outcome",
        result=f"while transcoding: {stats.seconds(stats.median(busy_medians))}",
        reference=f"nothing else running: {stats.seconds(stats.median(idle_medians))}",
        ratio=stats.ratio(ratio), goal=f"≥ {LATENCY_GOAL} (idle / busy)", verdict=verdict(ratio >= LATENCY_GOAL),
    )
    per_run = ", ".join(f"{i * 1e3:.0f}/{b * 1e3:.0f} ms" for i, b in zip(idle_medians, busy_medians, strict=True))
    notes = [f"Photo latency (10c): idle/busy median per run {per_run}; the video transcode went on "
             f"{stats.median(tails):.1f} s after the last photo, so every photo met a busy video lane. FFmpeg runs "
             f"2 decoder and 2 encoder threads for the video and libvips a thread per core for the photo, on "
             f"{len(os.sched_getaffinity(0))} cores."]
    return row, notes


async def measure(settings: Settings) -> Outcome:
    configure_vips()
    inputs = settings.work / "inputs"
    inputs.mkdir()
    frames = settings.scaled(300, 60)
    clips = [
        avcorpus.clip(inputs / "vp9.webm", avcorpus.VP9_WEBM, 1280, 720, frames),
        avcorpus.clip(inputs / "h264-444.mp4", avcorpus.H264_444_MP4, 1280, 720, frames),
    ]
    warm = avcorpus.clip(inputs / "warm.webm", avcorpus.VP9_WEBM, 320, 180, 15).path
    h264 = avcorpus.Codec("mp4", "libx264", "yuv420p", "aac", {"preset": "ultrafast", "crf": "22"})
    big = avcorpus.clip(inputs / "big.mp4", h264, 1920, 1080, 3000, sigma=2.0,
                        max_bytes=settings.scaled(50_000_000, 10_000_000))
    mov = avcorpus.as_mov(big.path, inputs / "big.mov")
    long = avcorpus.clip(inputs / "long.mp4", avcorpus.H264_444_MP4, 1280, 720, settings.scaled(600, 300))
    photos = corpus.photo_series(inputs / "photos", settings.scaled(24, 6), 1632, 1224)
    broker = EmbeddedBroker(settings.work / "nats" / "store", settings.work / "nats" / "run")
    url = await broker.start()
    rows: list[Row] = []
    notes: list[str] = []
    try:
        client = await connect([url], name="bench-av")
        try:
            events = JetStreamLog(client, StreamSettings(name="BENCH_AV", prefix="bav"))
            await events.ensure_stream()
            arrivals = Arrivals()
            subscription = await client.subscribe(events.subject("mx.media.*.outcome"), cb=arrivals.on_message)
            lab = Lab(settings.work, events, FileBlobStore(settings.work / "blobs"), arrivals)
            try:
                for step in (throughput(lab, settings, clips, warm), passthrough(lab, settings, big, mov),
                             contention(lab, settings, photos, long)):
                    row, more = await step
                    rows.append(row)
                    notes += more
            finally:
                await subscription.unsubscribe()
        finally:
            await client.close()
    finally:
        await broker.stop()
    notes.insert(0, "Video and audio (10): inputs written with PyAV for the run: frames pan across a noisy "
                    "photograph-like texture with fresh grain on each, a stereo tone alongside (Opus in the WebM, "
                    "AAC in the MP4s); VP9 at realtime speed, H.264 4:4:4 at ultrafast crf 20, and for 10b "
                    "H.264 4:2:0 at ultrafast crf 22 with lighter grain, cut once the video reaches its size. "
                    "Everything is transcoded to H.264 veryfast yuv420p with AAC 192k.")
    return Outcome(rows=rows, notes=notes)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
