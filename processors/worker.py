"""Turns `media.uploaded` and `media.reprocess` events into `media.processed` or `media.failed` ones.

Each lane (images; video and gifv; audio: core/kinds.py) has a durable pull consumer of its own that
sees every upload and acks at once the ones of other lanes, so a long video never holds up a photo.
Every replica of a lane binds to its one consumer, so scaling out is starting another process.
A message is acked only after its outcome is in the log; the outcome append expects the last
sequence on the media's outcome subject to be the one the job names (0 for an upload, the outcome
being replaced for a reprocess request), so a duplicate delivery (two replicas, a redelivery after
a crash) can never put a second outcome in the log.

A failure nobody expected is retried on the consumer's backoff schedule, so one bad blob holds up
no other media; the last delivery appends `media.failed` and terminates the message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors

from core.events import (
    Codec,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaUploaded,
    outcome_subject,
)
from core.jetstream import JetStreamLog
from core.kinds import Lane, lane_of
from core.log import Conflict
from core.metrics import REQUEST_HEADER, Metrics, request_id
from core.ports import BlobStore, DerivedFiles, rendition_dir
from core.probe import Limits, MediaRejected
from core.tasks import stop
from core.watchdog import Stall
from processors.encoding import Stopped
from processors.imaging import PROCESSING_VERSION
from processors.render import render
from processors.rendered import share_renditions

log = logging.getLogger(__name__)

# Seconds past a fetch's own timeout before the loop gives up on it.
FETCH_GRACE = 3.0


class ProcessorSettings(msgspec.Struct, frozen=True):
    durable: str = "processors"
    # The kinds this consumer processes; it acks every other upload untouched.
    lane: Lane = "image"
    # Wall-clock seconds a video or audio job may take before it fails as timed out.
    job_seconds: float = 900.0
    # Added to the niceness of the lane's worker threads (and so of the codec threads FFmpeg starts from
    # them): a transcode then takes the cores a photo beside it leaves idle, not the photo's share.
    nice: int = 0
    filter_subjects: tuple[str, ...] = ("mx.media.*.uploaded", "mx.media.*.reprocess")
    concurrency: int = 2
    # Seconds before the 2nd, 3rd, ... delivery of a message that was not acked; the last step
    # repeats. JetStream takes the first step as the ack wait of the first delivery, so a crashed
    # replica's work comes back after backoff[0], and a failure is retried on the same schedule.
    backoff: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0)
    # One delivery more than there are backoff steps: JetStream refuses fewer.
    max_deliver: int = 5
    # in_progress() is sent this often while libvips works, well inside the shortest ack wait.
    heartbeat: float = 3.0
    retry_delay: float = 2.0
    fetch_timeout: float = 2.0
    # Seconds between the watchdog's looks at the consumer; two looks that find messages pending and
    # none delivered while a loop waits for one make every loop bind again.
    watch_every: float = 5.0

    def __post_init__(self) -> None:
        if not self.backoff or self.max_deliver <= len(self.backoff):
            raise ValueError("max_deliver must exceed the number of backoff steps, of which there is one at least")
        if self.heartbeat >= min(self.backoff):
            raise ValueError("heartbeat must be shorter than the shortest backoff step")

    def delay(self, delivered: int) -> float:
        """How long to wait before the delivery after the `delivered`-th."""
        return self.backoff[min(max(delivered, 1), len(self.backoff)) - 1]


def lane_settings(lane: Lane, concurrency: int) -> ProcessorSettings:
    """The consumer of `lane`: images keep the durable name they always had; video and audio jobs
    run minutes, so they come back later after a crash and are retried less eagerly."""
    if lane == "image":
        return ProcessorSettings(concurrency=concurrency)
    return ProcessorSettings(durable=f"processors-{lane}", lane=lane, concurrency=concurrency,
                             backoff=(30.0, 60.0, 120.0, 300.0), job_seconds=1200.0 if lane == "video" else 900.0,
                             nice=10)


class Job(msgspec.Struct, frozen=True):
    media_id: str
    blob: str
    # The last sequence on the outcome subject the new outcome must follow: 0 for an upload.
    after: int
    kind: str = "image"


def job_of(event: object) -> Job | None:
    if isinstance(event, MediaUploaded):
        return Job(event.media_id, event.blob, 0, event.kind)
    if isinstance(event, MediaReprocessRequested):
        return Job(event.media_id, event.blob, event.after, event.kind)
    return None


class Processor:
    def __init__(
        self,
        events: JetStreamLog,
        blobs: BlobStore,
        renditions: Path,
        limits: Limits,
        settings: ProcessorSettings,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        shared: DerivedFiles | None = None,
    ) -> None:
        """`shared`: where renditions are kept for every host to read; None: each host renders its own."""
        self._events = events
        self._shared = shared
        self._blobs = blobs
        self._renditions = renditions
        self._limits = limits
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._codec = Codec()
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix=f"render-{settings.lane}",
                                        initializer=_lower_priority, initargs=(settings.nice,))
        # Set as the processor stops: FFmpeg work in flight gives its job back instead of finishing it.
        self._stopping = threading.Event()
        self.handled = 0

    def consumer_config(self) -> js_api.ConsumerConfig:
        s = self._settings
        return js_api.ConsumerConfig(
            durable_name=s.durable,
            filter_subjects=[self._events.subject(f) for f in s.filter_subjects],
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            max_deliver=s.max_deliver,
            ack_wait=s.backoff[0],
            backoff=list(s.backoff),
            max_ack_pending=max(64, s.concurrency * 8),
        )

    async def ensure_consumer(self) -> None:
        """Create the durable consumer, or bring one created under other settings up to these.

        JetStream keeps a durable's position across the update, so nothing is redelivered or lost.
        """
        js = self._events.jetstream
        wanted = self.consumer_config()
        try:
            info = await js.consumer_info(self._events.stream, self._settings.durable)
        except js_errors.NotFoundError:
            await js.add_consumer(self._events.stream, wanted)
            return
        if _policy(info.config) != _policy(wanted):
            log.info("updating consumer %s: %s -> %s", self._settings.durable, _policy(info.config), _policy(wanted))
            await js.add_consumer(self._events.stream, wanted)

    async def run(self) -> None:
        """Work until cancelled, with `concurrency` fetch loops sharing the durable consumer."""
        await self.ensure_consumer()
        binding = _Binding()
        loops = [asyncio.create_task(self._loop(binding)) for _ in range(self._settings.concurrency)]
        loops.append(asyncio.create_task(self._watch(binding)))
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for loop in done:
                loop.result()
        finally:
            # Each loop is cancelled until it has ended: a cancel can be lost inside the NATS client's
            # requests (see core.tasks.stop), and a task group cancels its tasks only once.
            await asyncio.gather(*(stop(loop) for loop in loops))
            self._stopping.set()
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def _loop(self, binding: _Binding) -> None:
        """Fetch for good, binding a new pull subscription whenever the one in hand is in doubt."""
        while True:
            try:
                sub = await self._events.jetstream.pull_subscribe_bind(
                    durable=self._settings.durable, stream=self._events.stream
                )
            except Exception as exc:  # noqa: BLE001 - the loop outlives any one failure to bind
                log.warning("processor bind: %s", exc)
                await asyncio.sleep(self._settings.retry_delay)
                continue
            try:
                await self._fetch_loop(sub, binding)
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._settings.fetch_timeout):
                        await asyncio.shield(sub.unsubscribe())

    async def _fetch_loop(self, sub: JetStreamContext.PullSubscription, binding: _Binding) -> None:
        """Fetch and handle until the subscription should be bound again."""
        generation = binding.generation
        reconnects = self._events.reconnects
        timeout = self._settings.fetch_timeout
        while True:
            # nats-py pull subscriptions are known to go quiet after a broker restart, and a fetch
            # can leave a pull request behind that takes the next message; a fresh binding after a
            # reconnect or a stall costs one subscription.
            if binding.generation != generation:
                return
            if self._events.reconnects != reconnects and self._events.connected:
                log.info("processor: reconnected; binding the consumer again")
                return
            binding.fetching += 1
            try:
                # fetch() has its own timeout, but not every path in it honours it.
                async with asyncio.timeout(timeout + FETCH_GRACE):
                    msgs = await sub.fetch(1, timeout=timeout)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as exc:  # noqa: BLE001 - disconnects, a broker not ready yet: wait and retry
                log.warning("processor fetch: %s", exc)
                await asyncio.sleep(self._settings.retry_delay)
                continue
            finally:
                binding.fetching -= 1
            for msg in msgs:
                try:
                    await self.handle(msg)
                except Exception as exc:  # noqa: BLE001 - the message comes back; the loop must not end
                    # E.g. an ack with no consumer leader while the cluster elects one: the redelivery
                    # finds its outcome in the log and is acked without work.
                    log.warning("processor: handling a message failed: %s", exc)

    async def _watch(self, binding: _Binding) -> None:
        """Bind again when the consumer has messages to hand out, a loop asks for them and none come."""
        stall = Stall()
        every = self._settings.watch_every
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(every):
                    info = await self._events.jetstream.consumer_info(self._events.stream, self._settings.durable)
            except Exception:  # noqa: BLE001 - an unreachable broker is no evidence either way
                continue
            room = (info.num_ack_pending or 0) < (info.config.max_ack_pending or 1 << 30)
            waiting = binding.fetching > 0 and (info.num_pending or 0) > 0 and room
            delivered = info.delivered.consumer_seq if info.delivered else 0
            if stall.sample(delivered or 0, waiting):
                log.warning("processor: %d messages pending but none delivered; binding the consumer again",
                            info.num_pending)
                binding.generation += 1

    async def handle(self, msg: Msg) -> None:
        # The id of the request that appended the event, carried into this job's log lines and outcome.
        token = request_id.set((msg.headers or {}).get(REQUEST_HEADER, ""))
        try:
            await self._handle(msg)
        finally:
            request_id.reset(token)

    async def _handle(self, msg: Msg) -> None:
        job = job_of(self._codec.decode(msg.data))
        if job is None or lane_of(job.kind) != self._settings.lane:
            await msg.ack()
            return
        outcome_on = outcome_subject(job.media_id)
        if await self._events.last_on(outcome_on) != job.after:
            # A duplicate delivery whose outcome is in the log already: no need to redo the work.
            await msg.ack_sync()
            self.handled += 1
            return
        delivered = msg.metadata.num_delivered or 1
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        began = time.monotonic()
        try:
            outcome, final = await self._outcome(job, delivered)
        except Exception as exc:  # noqa: BLE001 - anything unexpected is retried, then reported
            heartbeat.cancel()
            self._processed(job, "retried", began)
            log.warning("processing %s failed (delivery %d of %d): %s",
                        job.media_id, delivered, self._settings.max_deliver, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._settings.delay(delivered))
            return
        finally:
            heartbeat.cancel()
        self._processed(job, "ready" if isinstance(outcome, MediaProcessed) else "failed", began)
        try:
            await self._events.append(
                outcome,
                msg_id=f"{job.media_id}.outcome.{msg.metadata.sequence.stream}",
                expected_last=job.after,
                expected_on=outcome_on,
            )
        except Conflict:
            # Another replica's outcome for the same upload or request landed first.
            pass
        except Exception as exc:  # noqa: BLE001 - not acked, so the message comes back
            log.warning("appending the outcome of %s failed: %s", job.media_id, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._settings.delay(delivered))
            return
        if final:
            # Terminated rather than acked: the consumer's state says this one was given up on.
            await msg.term()
        else:
            await msg.ack_sync()
        self.handled += 1

    def _processed(self, job: Job, outcome: str, began: float) -> None:
        seconds = time.monotonic() - began
        if self._metrics is not None:
            self._metrics.processing.labels(job.kind, outcome).observe(seconds)
        log.info("processed request_id=%s media=%s kind=%s outcome=%s duration_ms=%.1f",
                 request_id.get() or "-", job.media_id, job.kind, outcome, seconds * 1000)

    async def _outcome(self, job: Job, delivered: int) -> tuple[MediaProcessed | MediaFailed, bool]:
        """The outcome, and whether it is a last attempt given up on."""
        loop = asyncio.get_running_loop()
        out_dir = rendition_dir(self._renditions, job.blob, PROCESSING_VERSION)
        try:
            source = await self._blobs.local(job.blob)
            processed = await loop.run_in_executor(
                self._pool, render, source, out_dir, job.kind, self._limits,
                self._settings.job_seconds, self._stopping,
            )
            if self._shared is not None:
                # Before the outcome is appended: a gateway that reads it finds the files.
                await share_renditions(self._shared, job.blob, PROCESSING_VERSION, out_dir, processed)
        except MediaRejected as exc:
            # The same bytes fail the same way every time: no point retrying.
            return MediaFailed(at=self._clock(), media_id=job.media_id, reason=str(exc)), False
        except Stopped:
            # Not the media's fault: the job comes back to a replica that keeps running.
            raise
        except Exception as exc:
            if delivered >= self._settings.max_deliver:
                reason = f"gave up after {delivered} attempts: {exc}"
                return MediaFailed(at=self._clock(), media_id=job.media_id, reason=reason), True
            raise
        return MediaProcessed(
            at=self._clock(),
            media_id=job.media_id,
            blob=job.blob,
            version=PROCESSING_VERSION,
            renditions=processed.infos(),
            blurhash=processed.blurhash,
            kind=processed.kind,
            meta=processed.meta,
        ), False

    async def _heartbeat(self, msg: Msg) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self._settings.heartbeat)
                await msg.in_progress()


class _Binding:
    """What the fetch loops of one processor share: how many wait in a fetch, and when to bind again."""

    def __init__(self) -> None:
        self.generation = 0
        self.fetching = 0


def _lower_priority(nice: int) -> None:
    # Linux keeps a niceness per thread, and threads started from this one inherit it.
    if nice:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)


def _policy(config: js_api.ConsumerConfig) -> tuple[object, ...]:
    """The parts of a consumer's config the processor sets and JetStream lets a durable change."""
    subjects = set(config.filter_subjects or ())
    if config.filter_subject:
        subjects.add(config.filter_subject)
    backoff = tuple(round(step, 3) for step in config.backoff or ())
    return (sorted(subjects), config.max_deliver, round(config.ack_wait or 0, 3), backoff, config.max_ack_pending)
