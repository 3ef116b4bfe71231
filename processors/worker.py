"""Turns `media.uploaded` events into `media.processed` or `media.failed` ones.

Every replica binds to one durable pull consumer, so scaling out is starting another process.
A message is acked only after its outcome is in the log; the outcome append expects no earlier
outcome on the media's outcome subject, so a duplicate delivery (two replicas, a redelivery after
a crash) can never put a second outcome in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

from core.events import Codec, MediaFailed, MediaProcessed, MediaUploaded, RenditionInfo, outcome_subject
from core.jetstream import JetStreamLog
from core.log import Conflict
from core.ports import BlobStore, rendition_dir
from core.probe import Limits, MediaRejected
from processors.imaging import PROCESSING_VERSION, Rendition, process

log = logging.getLogger(__name__)


class ProcessorSettings(msgspec.Struct, frozen=True):
    durable: str = "processors"
    filter_subject: str = "mx.media.*.uploaded"
    concurrency: int = 2
    max_deliver: int = 5
    ack_wait: float = 60.0
    # in_progress() is sent this often while libvips works, well inside ack_wait.
    heartbeat: float = 10.0
    retry_delay: float = 2.0
    fetch_timeout: float = 2.0


def to_info(rendition: Rendition) -> RenditionInfo:
    return RenditionInfo(style=rendition.style, width=rendition.width, height=rendition.height,
                         content_type=rendition.content_type, size=rendition.size)


class Processor:
    def __init__(
        self,
        events: JetStreamLog,
        blobs: BlobStore,
        renditions: Path,
        limits: Limits,
        settings: ProcessorSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._blobs = blobs
        self._renditions = renditions
        self._limits = limits
        self._settings = settings
        self._clock = clock
        self._codec = Codec()
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="libvips")
        self.handled = 0

    def consumer_config(self) -> js_api.ConsumerConfig:
        s = self._settings
        return js_api.ConsumerConfig(
            durable_name=s.durable,
            filter_subject=self._events.subject(s.filter_subject),
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            max_deliver=s.max_deliver,
            ack_wait=s.ack_wait,
            max_ack_pending=max(64, s.concurrency * 8),
        )

    async def ensure_consumer(self) -> None:
        js = self._events.jetstream
        try:
            await js.consumer_info(self._events.stream, self._settings.durable)
        except js_errors.NotFoundError:
            await js.add_consumer(self._events.stream, self.consumer_config())

    async def run(self) -> None:
        """Work until cancelled, with `concurrency` fetch loops sharing the durable consumer."""
        await self.ensure_consumer()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._settings.concurrency):
                    group.create_task(self._loop())
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def _loop(self) -> None:
        sub = await self._events.jetstream.pull_subscribe_bind(
            durable=self._settings.durable, stream=self._events.stream
        )
        try:
            await self._fetch_loop(sub)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(sub.unsubscribe())

    async def _fetch_loop(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(1, timeout=self._settings.fetch_timeout)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
                log.warning("processor fetch: %s", exc)
                await asyncio.sleep(self._settings.retry_delay)
                continue
            for msg in msgs:
                await self.handle(msg)

    async def handle(self, msg: Msg) -> None:
        event = self._codec.decode(msg.data)
        if not isinstance(event, MediaUploaded):
            await msg.ack()
            return
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            outcome = await self._outcome(event, msg.metadata.num_delivered or 1)
        except Exception as exc:  # noqa: BLE001 - anything unexpected is retried, then reported
            heartbeat.cancel()
            log.warning("processing %s failed: %s", event.media_id, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._settings.retry_delay)
            return
        finally:
            heartbeat.cancel()
        if outcome is not None:
            try:
                await self._events.append(
                    outcome,
                    msg_id=f"{event.media_id}.outcome.{msg.metadata.sequence.stream}",
                    expected_last=0,
                    expected_on=outcome_subject(event.media_id),
                )
            except Conflict:
                # Another replica's outcome for the same upload landed first.
                pass
            except Exception as exc:  # noqa: BLE001 - not acked, so the message comes back
                log.warning("appending the outcome of %s failed: %s", event.media_id, exc)
                with contextlib.suppress(Exception):
                    await msg.nak(delay=self._settings.retry_delay)
                return
        await msg.ack_sync()
        self.handled += 1

    async def _outcome(self, event: MediaUploaded, delivered: int) -> MediaProcessed | MediaFailed | None:
        loop = asyncio.get_running_loop()
        out_dir = rendition_dir(self._renditions, event.blob, PROCESSING_VERSION)
        try:
            processed = await loop.run_in_executor(
                self._pool, process, self._blobs.path(event.blob), out_dir, self._limits
            )
        except MediaRejected as exc:
            # The same bytes fail the same way every time: no point retrying.
            return MediaFailed(at=self._clock(), media_id=event.media_id, reason=str(exc))
        except Exception as exc:
            if delivered >= self._settings.max_deliver:
                return MediaFailed(at=self._clock(), media_id=event.media_id, reason=f"gave up: {exc}")
            raise
        return MediaProcessed(
            at=self._clock(),
            media_id=event.media_id,
            blob=event.blob,
            version=PROCESSING_VERSION,
            original=to_info(processed.original),
            small=to_info(processed.small),
            blurhash=processed.blurhash,
            thumb=to_info(processed.thumb),
        )

    async def _heartbeat(self, msg: Msg) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self._settings.heartbeat)
                await msg.in_progress()
