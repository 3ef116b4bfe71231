"""9. Processing throughput by replicas: 1, 2 and 3 `mediaplex processor` processes on the one durable consumer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from nats.js import errors as js_errors

from bench import corpus, processing, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict
from core.broker import EmbeddedBroker
from core.config import Config
from core.events import MediaFailed, MediaProcessed
from core.jetstream import JetStreamLog, connect
from mediaplex.runtime import stream_settings
from processors.worker import ProcessorSettings
from store.blobs import FileBlobStore

REPO = Path(__file__).resolve().parents[1]
REPLICAS = (1, 2, 3)
# One image at a time per replica: what scales is the number of processes, not threads within one.
CONCURRENCY = 1
GROWS = 1.5
HOLDS = 0.9
READY_TIMEOUT = 60.0
OUTCOME_TIMEOUT = 600.0
STOP_TIMEOUT = 30.0
POLL = 0.05


class Replicas:
    """``count`` processor processes, each with a data directory of its own and the shared blobs."""

    def __init__(self, count: int, url: str, blobs: Path, work: Path) -> None:
        self._count = count
        self._url = url
        self._blobs = blobs
        self._work = work
        self._processes: list[asyncio.subprocess.Process] = []
        # Nothing from the caller's environment may change how a replica runs.
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAPLEX_")}

    def log(self, i: int) -> Path:
        return self._work / f"processor-{i}" / "output.log"

    async def start(self) -> None:
        for i in range(self._count):
            data = self._work / f"processor-{i}"
            data.mkdir(parents=True)
            with self.log(i).open("wb") as output:
                self._processes.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "mediaplex", "processor", "--nats", self._url, "--data", str(data),
                    "--blobs", str(self._blobs), "--port", "0", "--processor-concurrency", str(CONCURRENCY),
                    stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=asyncio.subprocess.STDOUT,
                    cwd=REPO, env=self._env,
                ))

    def check_alive(self) -> None:
        for i, process in enumerate(self._processes):
            if process.returncode is not None:
                tail = self.log(i).read_text(errors="replace")[-500:]
                raise CouldNotMeasure(f"processor {i} exited with {process.returncode}: {tail}")

    async def stop(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def replicas(count: int, url: str, blobs: Path, work: Path) -> AsyncIterator[Replicas]:
    group = Replicas(count, url, blobs, work)
    try:
        await group.start()
        yield group
    finally:
        await group.stop()


async def waiting_fetches(events: JetStreamLog) -> int:
    try:
        info = await events.jetstream.consumer_info(events.stream, ProcessorSettings().durable)
    except js_errors.NotFoundError:
        # The first replica to start creates it.
        return 0
    return info.num_waiting or 0


async def all_bound(events: JetStreamLog, group: Replicas, count: int) -> None:
    """Until every replica has a fetch waiting on the consumer, so that none starts late."""
    deadline = time.monotonic() + READY_TIMEOUT
    while await waiting_fetches(events) < count:
        group.check_alive()
        if time.monotonic() > deadline:
            raise CouldNotMeasure(f"{count} processors did not all fetch within {READY_TIMEOUT:.0f}s")
        await asyncio.sleep(POLL)


async def none_bound(events: JetStreamLog) -> None:
    """Until the stopped replicas' fetches have expired, so that none is counted for the next ones."""
    deadline = time.monotonic() + READY_TIMEOUT
    while await waiting_fetches(events) > 0:
        if time.monotonic() > deadline:
            raise CouldNotMeasure(f"fetches of stopped processors still waiting after {READY_TIMEOUT:.0f}s")
        await asyncio.sleep(POLL)


async def outcomes_in(outcomes: processing.Outcomes, group: Replicas, total: int) -> None:
    deadline = time.monotonic() + OUTCOME_TIMEOUT
    while not outcomes.all_in.is_set():
        group.check_alive()
        if time.monotonic() > deadline:
            raise CouldNotMeasure(f"only {outcomes.seen()} of {total} outcomes within {OUTCOME_TIMEOUT:.0f}s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outcomes.all_in.wait(), 1.0)
    if outcomes.failed:
        raise CouldNotMeasure(f"a processor failed an upload: {outcomes.failed[0]}")


async def throughput(events: JetStreamLog, after: int, media_ids: set[str]) -> float:
    """Images/s from the first to the last `media.processed` in the log, checking one outcome per upload.

    The first outcome opens the window, so the images counted are those finished after it.
    """
    finished: dict[str, list[float]] = {}
    async for record in events.read(after + 1, follow=False):
        event = record.event
        if isinstance(event, MediaFailed) and event.media_id in media_ids:
            raise CouldNotMeasure(f"{event.media_id} failed: {event.reason}")
        if isinstance(event, MediaProcessed) and event.media_id in media_ids:
            finished.setdefault(event.media_id, []).append(event.at)
    twice = sorted(m for m, times in finished.items() if len(times) > 1)
    if twice:
        raise CouldNotMeasure(f"{len(twice)} media processed more than once, e.g. {twice[0]}")
    if len(finished) != len(media_ids):
        raise CouldNotMeasure(f"{len(finished)} of {len(media_ids)} media processed in the log")
    times = sorted(t for (t,) in finished.values())
    if times[-1] <= times[0]:
        raise CouldNotMeasure("every outcome has the same time")
    return (len(times) - 1) / (times[-1] - times[0])


async def one_round(events: JetStreamLog, outcomes: processing.Outcomes, url: str, blobs: Path, work: Path,
                    count: int, tag: str, samples: list[corpus.Sample], names: list[str]) -> float:
    """Images/s of ``count`` replicas working through every sample."""
    uploads = [msgspec.structs.replace(processing.uploaded(0, i, sample, name), media_id=f"{tag}-{i}")
               for i, (sample, name) in enumerate(zip(samples, names, strict=True))]
    media_ids = {u.media_id for u in uploads}
    try:
        async with replicas(count, url, blobs, work) as group:
            # The uploads go in once every replica waits on the consumer: processes that start up
            # one after another on a busy machine would otherwise have the first ones work alone.
            await all_bound(events, group, count)
            after = await events.last_seq()
            outcomes.expect(media_ids)
            await asyncio.gather(*(events.append(u, msg_id=f"{u.media_id}.uploaded") for u in uploads))
            await outcomes_in(outcomes, group, len(uploads))
        await none_bound(events)
        return await throughput(events, after, media_ids)
    finally:
        # Renditions of a few hundred images: not needed once counted.
        shutil.rmtree(work, ignore_errors=True)


async def measure(settings: Settings) -> Outcome:
    count = settings.scaled(96, 12)
    samples = corpus.photo_series(settings.work / "corpus", count, 1632, 1224)
    broker = EmbeddedBroker(settings.work / "nats" / "store", settings.work / "nats" / "run")
    url = await broker.start()
    rates: dict[int, list[float]] = {n: [] for n in REPLICAS}
    try:
        client = await connect([url], name="bench-replicas")
        try:
            blobs = FileBlobStore(settings.work / "blobs")
            names = await processing.store_blobs(blobs, samples)
            # The stream every `mediaplex` command uses unless told otherwise.
            events = JetStreamLog(client, stream_settings(Config()))
            await events.ensure_stream()
            outcomes = processing.Outcomes()
            subscription = await client.subscribe(events.subject("mx.media.*.outcome"), cb=outcomes.on_message)
            try:
                for run in range(settings.runs):
                    # Alternating the order keeps a drift in machine load from favouring one count.
                    order = REPLICAS if run % 2 == 0 else tuple(reversed(REPLICAS))
                    for n in order:
                        rates[n].append(await one_round(events, outcomes, url, settings.work / "blobs",
                                                        settings.work / f"run-{run}-{n}", n, f"{run}-{n}",
                                                        samples, names))
            finally:
                await subscription.unsubscribe()
        finally:
            await client.close()
    finally:
        await broker.stop()
    return outcome(rates, count, len(os.sched_getaffinity(0)))


def outcome(rates: dict[int, list[float]], count: int, cores: int) -> Outcome:
    one, two, three = (rates[n] for n in REPLICAS)
    grows = stats.median([b / a for a, b in zip(one, two, strict=True)])
    holds = stats.median([b / a for a, b in zip(two, three, strict=True)])
    what = (f"{count} JPEGs of 2 MP, appended as media.uploaded in one burst once every replica waits on the "
            f"consumer; `mediaplex processor` processes, concurrency {CONCURRENCY} each, on one durable consumer, "
            f"{cores} cores; images/s from the first to the last media.processed")
    rows = [
        Row(key="9a", what=f"Processor replicas: 2 replicas vs 1, {what}",
            result=stats.rate(stats.median(two), "images/s"),
            reference=f"1 replica: {stats.rate(stats.median(one), 'images/s')}",
            ratio=stats.ratio(grows), goal=f"> {GROWS}x 1 replica (grows)", verdict=verdict(grows > GROWS)),
        Row(key="9b", what=f"Processor replicas: 3 replicas vs 2, the same work on {cores} cores",
            result=stats.rate(stats.median(three), "images/s"),
            reference=f"2 replicas: {stats.rate(stats.median(two), 'images/s')}",
            ratio=stats.ratio(holds), goal=f"≥ {HOLDS}x 2 replicas (saturated, not collapsing)",
            verdict=verdict(holds >= HOLDS)),
    ]
    per_run = "; ".join(f"{n}: {', '.join(f'{r:.2f}' for r in rates[n])}" for n in REPLICAS)
    notes = [f"Processor replicas (9): images/s per run by replicas, {per_run}. Every upload had exactly one "
             f"media.processed in the log. libvips keeps its own thread pool in each process (one thread per "
             f"core by default), so one replica can already use some of the second core. The window opens at the "
             f"first outcome, while the other replicas are part way through their first image, which favours "
             f"more replicas: by {window_bias(count, 2, 1):.1%} in 9a and {window_bias(count, 3, 2):.1%} in 9b at "
             f"{count} images."]
    return Outcome(rows=rows, notes=notes)


def window_bias(count: int, more: int, fewer: int) -> float:
    """How much counting from the first outcome overstates ``more`` replicas against ``fewer``.

    With r replicas in step, the window from the first to the last outcome holds count/r - 1 images'
    time per replica, in which count - 1 images are counted.
    """
    return (count - fewer) / (count - more) - 1


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
