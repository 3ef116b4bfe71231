"""`serve`, `gateway` and `processor`: one Server running the parts each role asks for."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import pyvips
from aiohttp import web
from aiohttp.typedefs import Middleware

from core.config import Config
from core.jetstream import JetStreamLog, patiently
from core.kinds import LANES
from core.metrics import Metrics
from core.ports import BlobStore
from core.probe import Limits
from core.tasks import stop as stop_task
from gateways import health
from gateways.app import Handler, create_app
from gateways.kit.descriptor import Gateway
from gateways.kit.grants import Grants
from gateways.kit.jetstream_kv import JetStreamBuckets
from gateways.kit.services import SERVICES, Services
from gateways.registry import GATEWAYS, processing_limits, swept_vias
from gateways.transform.cache import VariantCache
from gateways.transform.settings import TransformSettings
from mediaplex.admin import add_user, create_token
from mediaplex.runner import AppRunner
from mediaplex.runtime import Derived, Renderer, event_log, open_blobs, open_derived, prepare_vips, running_broker
from mediaplex.swap import Generations
from mediaplex.sweeper import Sweeper, SweepSettings, remove_stale
from processors.imaging import rendition_leftovers
from processors.worker import Processor, lane_settings
from store.live import LiveProjection
from store.projection import Told

log = logging.getLogger(__name__)


class AlreadyRunning(Exception):
    pass


class Parts(msgspec.Struct, frozen=True):
    """What one process runs: `serve` runs both parts, the `gateway` and `processor` roles one each."""

    # The HTTP gateways with their projection, its feed and the sweeper.
    gateways: bool = True
    # Processing uploads, bound to the durable consumer every processor shares.
    processor: bool = True

    @property
    def both(self) -> bool:
        return self.gateways and self.processor


class Server:
    """The parts a command runs, started and stopped as one; `url` is known once started."""

    def __init__(self, config: Config, *, parts: Parts | None = None,
                 say: Callable[[str], None] | None = None, gateways: tuple[Gateway, ...] = GATEWAYS) -> None:
        self.config = config
        self.parts = parts or Parts()
        self.gateways = gateways
        self._say = say or functools.partial(print, flush=True)
        self._stack = contextlib.AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self.events: JetStreamLog | None = None
        self.projection: LiveProjection | None = None
        self.generations: Generations | None = None
        self.variants: VariantCache | None = None
        self.grants = Grants()
        self.services: Services | None = None
        self._blobs: BlobStore | None = None
        self.derived = Derived()
        self.limits = Limits()
        self.metrics = Metrics()
        self._reconnects = 0
        self.url = ""
        self._head_at_start = 0
        # The running processor of each lane, by its durable consumer.
        self._processing: dict[str, asyncio.Task[None]] = {}

    @property
    def blobs(self) -> BlobStore:
        assert self._blobs is not None, "the server has not started"
        return self._blobs

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        parts = self.parts
        if not config.nats_urls and await running_broker(config) is not None:
            raise AlreadyRunning(f"a server is already running on {config.data_dir}")
        prepare_vips()
        name = "mediaplex" if parts.both else ("mediaplex-gateway" if parts.gateways else "mediaplex-processor")
        events = await self._stack.enter_async_context(event_log(config, name=name, reuse_running=False))
        self.events = events
        events.metrics = self.metrics
        self.metrics.on_scrape(self._refresh_metrics)
        self._head_at_start = await patiently(events.last_seq, "reading the head of the log")
        self._blobs = await open_blobs(config, events)
        self.derived = await open_derived(config, events)
        # Each gateway refuses at its own edge; processing must not fail what any of them let in.
        processing = processing_limits(self.gateways)
        if parts.gateways:
            await self._start_projection(events)
        if parts.processor:
            if not parts.gateways:
                # No sweeper in this role: renders a crash cut short are cleaned up here, at start.
                await asyncio.to_thread(remove_stale, rendition_leftovers(config.renditions),
                                        time.time() - config.sweep_grace)
            for lane in LANES:
                if lane not in config.processor_lanes:
                    continue
                concurrency = config.processor_concurrency if lane == "image" else config.av_concurrency
                settings = lane_settings(lane, concurrency)
                processor = Processor(events, self.blobs, config.renditions, processing, settings, metrics=self.metrics,
                                      shared=self.derived.renditions)
                # Created before readiness is asked, so a ready processor is one whose consumer exists.
                await patiently(processor.ensure_consumer, f"creating the {lane} consumer")
                self._processing[settings.durable] = self._spawn(processor.run())

        listener = _listen(config.host, config.port)
        port = listener.getsockname()[1]
        if port != config.port:
            # Asked for any free port: the URLs in responses must carry the real one.
            config = msgspec.structs.replace(config, port=port)
            self.config = config
        app = await self._gateway_app(events, processing) if parts.gateways else health.create_app(self.metrics)
        app[health.READINESS] = self.readiness
        runner = AppRunner(app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        await web.SockSite(runner, listener).start()
        self.url = config.base_url
        if not parts.gateways:
            self._say(f"Mediaplex processor is running; health at {self.url}/readyz")
            return
        if self._head_at_start == 0:
            await self._welcome(events)
        self._say(f"Mediaplex is serving at {self.url}")

    async def _start_projection(self, events: JetStreamLog) -> None:
        config = self.config
        # Made before the projection, which tells it of every blob whose media rows change.
        variants = VariantCache(config.variants, answers=config.settings(TransformSettings).variant_memory,
                                metrics=self.metrics, shared=self.derived.variants)
        # Pushed before the runner's cleanup, so it runs after it: no request can start a render then.
        self._stack.push_async_callback(variants.close)
        self.variants = variants
        # The grants are told of the tokens every batch issues or revokes: a revoked one is refused at once.
        owner = Generations(events, config.projection_dir, told=Told(blobs=variants.forget, tokens=self.grants.forget))
        self.projection = await owner.open()
        # Pushed before the runner's cleanup, so it runs after it: requests end before the file closes.
        self._stack.push_async_callback(owner.close)
        self.generations = owner
        self._spawn(owner.watch())
        sweep = SweepSettings(unposted_ttl=config.unposted_ttl, interval=config.sweep_interval,
                              via=swept_vias(self.gateways), blob_grace=config.sweep_grace,
                              temp_grace=config.sweep_grace)
        self._spawn(Sweeper(events, self.projection, self.blobs, config.renditions, sweep,
                            variants=config.variants, derived=self.derived.every()).run())

    async def _gateway_app(self, events: JetStreamLog, processing: Limits) -> web.Application:
        config = self.config
        assert self.projection is not None
        blobs = self.blobs
        app = create_app(self.gateways, self.metrics)
        # Innermost, so a request's every read goes to the one generation current when it began.
        app.middlewares.append(_pinning(self.projection))
        variants = self.variants
        assert variants is not None
        buckets = JetStreamBuckets(events.client, events.stream, replicas=config.stream_replicas)
        self.services = Services(config=config, events=events, projection=self.projection, blobs=blobs,
                                 limits=self.limits,
                                 renderer=Renderer(blobs, config.renditions, processing, self.derived.renditions),
                                 variants=variants, buckets=buckets, metrics=self.metrics,
                                 renditions=self.derived.renditions, grants=self.grants)
        app[SERVICES] = self.services
        for gateway in self.gateways:
            if gateway.start is not None:
                await gateway.start(app)
        return app

    async def _refresh_metrics(self) -> None:
        """What is read from the broker at scrape time: reconnects, queue depth, projection lag."""
        events = self.events
        if events is None:
            return
        metrics = self.metrics
        reconnects = events.reconnects
        if reconnects > self._reconnects:
            metrics.reconnects.inc(reconnects - self._reconnects)
            self._reconnects = reconnects
        if self.projection is not None:
            metrics.projected(await events.last_seq(), self.projection.applied)
        # Every lane's consumer, whichever this process works: a gateway can report the queues too.
        for lane in LANES:
            durable = lane_settings(lane, 1).durable
            try:
                info = await events.jetstream.consumer_info(events.stream, durable)
            except Exception:  # noqa: BLE001 - a lane nobody processes has no consumer yet
                continue
            metrics.queue.labels(durable).set(info.num_pending or 0)
            metrics.queue_unacked.labels(durable).set(info.num_ack_pending or 0)

    async def readiness(self) -> dict[str, str]:
        """What keeps this process from taking work, by part; empty when it is ready."""
        events = self.events
        if events is None or not events.connected:
            return {"nats": "not connected"}
        waiting: dict[str, str] = {}
        if self.parts.gateways:
            applied = self.projection.applied if self.projection is not None else 0
            if applied < self._head_at_start:
                waiting["projection"] = f"folded {applied} of {self._head_at_start} events"
        if self.parts.processor:
            problems = [] if self._processing else ["not running"]
            for durable, task in self._processing.items():
                if task.done():
                    problems.append(f"{durable} not running")
                    continue
                try:
                    async with asyncio.timeout(2):
                        await events.jetstream.consumer_info(events.stream, durable)
                except Exception as exc:  # noqa: BLE001 - any failure to see the consumer means not bound
                    problems.append(f"consumer {durable!r} not bound: {type(exc).__name__}")
            if problems:
                waiting["processor"] = "; ".join(problems)
        return waiting

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        task.add_done_callback(_report)
        self._tasks.append(task)
        return task

    async def _welcome(self, events: JetStreamLog) -> None:
        password = secrets.token_urlsafe(12)
        await add_user(events, "admin", password, admin=True)
        token = await create_token(events, "admin", ("read", "write"))
        sample = self.config.data_dir.resolve() / "sample.jpg"
        await asyncio.to_thread(_write_sample, sample)
        self._say(
            "First start: created the user 'admin', an administrator (shown once, keep it safe)\n"
            f"  password: {password}\n"
            f"  token:    {token}\n"
            "Upload an image through the Mastodon API:\n"
            f'  curl -H "Authorization: Bearer {token}" -F "file=@{sample}" '
            f'-F "description=A first upload" {self.url}/api/v2/media\n'
            f"Or open {self.url}/ in a browser, sign in as admin and upload from {self.url}/upload"
        )

    async def stop(self) -> None:
        await asyncio.gather(*(stop_task(task) for task in self._tasks))
        self._tasks.clear()
        await self._stack.aclose()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=512)


def _pinning(live: LiveProjection) -> Middleware:
    @web.middleware
    async def pin(request: web.Request, handler: Handler) -> web.StreamResponse:
        async with live.pinned():
            return await handler(request)

    return pin


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task stopped", exc_info=task.exception())


def _write_sample(path: object) -> None:
    """A small gradient to upload, so a first try needs no file of one's own."""
    x = pyvips.Image.xyz(640, 480)
    image = (x[0] * 255 / 640).bandjoin([x[1] * 255 / 480, 128]).cast("uchar")
    image.jpegsave(str(path), Q=85)


async def serve(config: Config, parts: Parts | None = None) -> None:
    server = Server(config, parts=parts)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
