"""1. Processing: images/s through the real Processor against the bare pyvips loop, 2 threads each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
from nats.aio.msg import Msg

from bench import bare, corpus, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict
from core.broker import EmbeddedBroker
from core.events import Codec, MediaProcessed, MediaUploaded
from core.jetstream import JetStreamLog, StreamSettings, connect
from core.probe import Limits
from core.tasks import stop
from processors.header import read_header
from processors.imaging import configure_vips
from processors.worker import Processor, ProcessorSettings
from store.blobs import FileBlobStore

CONCURRENCY = 2
# At the floor: processing adds no more than a few percent to what libvips itself costs.
GOAL = 0.97
OUTCOME_TIMEOUT = 300.0


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def store_blobs(blobs: FileBlobStore, samples: list[corpus.Sample]) -> list[str]:
    names = []
    for sample in samples:
        data = sample.path.read_bytes()
        staged = await blobs.receive(_one_chunk(data), limit=len(data))
        await blobs.commit(staged)
        names.append(staged.sha256)
    return names


def uploaded(run: int, i: int, sample: corpus.Sample, blob: str) -> MediaUploaded:
    header = read_header(sample.path)
    return MediaUploaded(at=time.time(), media_id=f"{run}-{i}", owner_id="bench", blob=blob,
                         size=sample.path.stat().st_size, content_type=header.content_type,
                         width=header.width, height=header.height)


class Outcomes:
    """Collects outcomes from a plain subscription: it sees each one as JetStream stores it, no polling."""

    def __init__(self) -> None:
        self._codec = Codec()
        self.processed: dict[str, MediaProcessed] = {}
        self.failed: list[str] = []
        self._expected: set[str] = set()
        self.all_in = asyncio.Event()

    def expect(self, media_ids: set[str]) -> None:
        self._expected = set(media_ids)
        self.all_in.clear()

    def seen(self) -> int:
        return len(self._expected & set(self.processed)) + len(self.failed)

    async def on_message(self, msg: Msg) -> None:
        event = self._codec.decode(msg.data)
        if isinstance(event, MediaProcessed):
            self.processed[event.media_id] = event
        else:
            self.failed.append(msgspec.json.encode(event).decode())
        if self.failed or self._expected <= set(self.processed):
            self.all_in.set()


async def pipeline_run(events: JetStreamLog, outcomes: Outcomes, worker: asyncio.Task[None], run: int,
                       samples: list[corpus.Sample], blob_names: list[str]) -> float:
    """Seconds from the first append until every outcome is in the log."""
    # The gateway reads the header before appending, so that is not part of the time either.
    uploads = [uploaded(run, i, s, name) for i, (s, name) in enumerate(zip(samples, blob_names, strict=True))]
    outcomes.expect({u.media_id for u in uploads})
    started = time.perf_counter()
    await asyncio.gather(*(events.append(event, msg_id=f"{event.media_id}.uploaded") for event in uploads))
    waiting = asyncio.create_task(outcomes.all_in.wait())
    await asyncio.wait({waiting, worker}, timeout=OUTCOME_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    elapsed = time.perf_counter() - started
    waiting.cancel()
    if outcomes.failed:
        raise CouldNotMeasure(f"the processor failed an upload: {outcomes.failed[0]}")
    if not outcomes.all_in.is_set():
        if worker.done():
            problem = "cancelled" if worker.cancelled() else repr(worker.exception())
            raise CouldNotMeasure(f"the processor stopped after {outcomes.seen()} of {len(uploads)} outcomes: "
                                  f"{problem}")
        raise CouldNotMeasure(f"only {outcomes.seen()} of {len(uploads)} outcomes within {OUTCOME_TIMEOUT:.0f}s")
    return elapsed


def bare_run(samples: list[corpus.Sample], out: Path) -> tuple[float, list[bare.Rendered]]:
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        started = time.perf_counter()
        rendered = list(pool.map(lambda pair: bare.render(pair[1].path, out / str(pair[0]), pair[1].content_type),
                                 enumerate(samples)))
        return time.perf_counter() - started, rendered


def mismatches(samples: list[corpus.Sample], rendered: list[bare.Rendered],
               outcomes: dict[str, MediaProcessed], run: int) -> list[str]:
    """Where the bare loop made something else than the processor: then the ratio compares unlike work."""
    found = []
    for i, (sample, mine) in enumerate(zip(samples, rendered, strict=True)):
        theirs = outcomes[f"{run}-{i}"]
        sizes = tuple((info.width, info.height) for info in theirs.renditions if info.style in ("original", "small"))
        if (mine.original, mine.small) != sizes or mine.blurhash != theirs.blurhash:
            found.append(sample.path.name)
    return found


async def measure(settings: Settings) -> Outcome:
    configure_vips()
    samples = corpus.processing_corpus(settings.work / "corpus", settings.scaled(3, 1))
    broker = EmbeddedBroker(settings.work / "nats" / "store", settings.work / "nats" / "run")
    url = await broker.start()
    pipeline_rates: list[float] = []
    bare_rates: list[float] = []
    ratios: list[float] = []
    notes: list[str] = []
    try:
        client = await connect([url], name="bench-processing")
        try:
            blobs = FileBlobStore(settings.work / "blobs")
            names = await store_blobs(blobs, samples)
            events = JetStreamLog(client, StreamSettings(name="BENCH_PROCESSING", prefix="bp"))
            await events.ensure_stream()
            processor = Processor(events, blobs, settings.work / "renditions", Limits(),
                                  ProcessorSettings(concurrency=CONCURRENCY))
            await processor.ensure_consumer()
            outcomes = Outcomes()
            subscription = await client.subscribe(events.subject("mx.media.*.outcome"), cb=outcomes.on_message)
            worker = asyncio.create_task(processor.run())
            try:
                # Untimed: warms the page cache and libvips on both sides, and lets both fetch loops
                # bind and park a pull request, as in a server that has been up a while.
                await asyncio.to_thread(bare_run, samples[:2], settings.work / "warm")
                await pipeline_run(events, outcomes, worker, -1, samples[:2], names[:2])
                for run in range(settings.runs):
                    out = settings.work / f"bare-{run}"
                    # Alternating the order keeps a drift in machine load from favouring one side.
                    if run % 2 == 0:
                        bare_seconds, rendered = await asyncio.to_thread(bare_run, samples, out)
                        seconds = await pipeline_run(events, outcomes, worker, run, samples, names)
                    else:
                        seconds = await pipeline_run(events, outcomes, worker, run, samples, names)
                        bare_seconds, rendered = await asyncio.to_thread(bare_run, samples, out)
                    different = mismatches(samples, rendered, outcomes.processed, run)
                    if different and run == 0:
                        notes.append(f"Processing: the bare loop's renditions differ from the processor's for "
                                     f"{', '.join(different)}; the ratio compares unlike work there.")
                    pipeline_rates.append(len(samples) / seconds)
                    bare_rates.append(len(samples) / bare_seconds)
                    ratios.append(bare_seconds / seconds)
            finally:
                await stop(worker)
                await subscription.unsubscribe()
        finally:
            await client.close()
    finally:
        await broker.stop()
    kinds = sorted({s.label for s in samples})
    per_kind = len(samples) // len(kinds)
    ratio = stats.median(ratios)
    row = Row(
        key="1",
        what=f"Processing: {len(samples)} images ({per_kind} each of {', '.join(kinds)}) through Processor, "
             f"{CONCURRENCY} threads",
        result=stats.rate(stats.median(pipeline_rates), "images/s"),
        reference=f"bare pyvips loop, {CONCURRENCY} threads: {stats.rate(stats.median(bare_rates), 'images/s')}",
        ratio=stats.ratio(ratio),
        goal=f"≥ {GOAL}",
        verdict=verdict(ratio >= GOAL),
    )
    return Outcome(rows=[row], notes=notes)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
