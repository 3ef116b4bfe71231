"""Opens and closes what the commands need: broker, log, blobs, projection, processor, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from core.broker import EmbeddedBroker
from core.config import Config
from core.jetstream import JetStreamLog, StreamSettings, connect, patiently
from core.ports import RENDITION_NAMES, VARIANT_NAMES, BlobStore, DerivedFiles, rendition_dir
from core.probe import Limits
from processors.imaging import PROCESSING_VERSION, configure_vips
from processors.render import render
from processors.rendered import Rendered, share_renditions
from store import generations
from store.blobs import FileBlobStore
from store.derivedfiles import ObjectDerivedFiles
from store.feed import Feed
from store.objectblobs import BucketSettings, ObjectBlobStore
from store.projection import Projection

log = logging.getLogger(__name__)


def stream_settings(config: Config) -> StreamSettings:
    return StreamSettings(name=config.stream, prefix=config.subject_prefix, replicas=config.stream_replicas)


async def running_broker(config: Config) -> str | None:
    """The URL of the embedded broker of a `serve` already running on this data directory."""
    url_file = config.run_dir / "nats.url"
    if not url_file.exists():
        return None
    url = url_file.read_text().strip()
    address = urlsplit(url)
    # A bare greeting check: the NATS client would keep retrying a dead address.
    try:
        async with asyncio.timeout(2):
            reader, writer = await asyncio.open_connection(address.hostname, address.port)
            greeting = await reader.readline()
    except (OSError, TimeoutError):
        return None
    writer.close()
    return url if greeting.startswith(b"INFO ") else None


@contextlib.asynccontextmanager
async def event_log(config: Config, *, name: str, reuse_running: bool) -> AsyncIterator[JetStreamLog]:
    """The log, on the configured cluster, on a running server's broker, or on a broker of our own."""
    urls = config.nats_urls
    broker: EmbeddedBroker | None = None
    if not urls:
        running = await running_broker(config) if reuse_running else None
        if running is not None:
            urls = (running,)
        else:
            broker = EmbeddedBroker(config.nats_store, config.run_dir)
            urls = (await broker.start(),)
    try:
        client = await connect(urls, name=name)
        try:
            events = JetStreamLog(client, stream_settings(config))
            await patiently(events.ensure_stream, "creating the stream")
            yield events
        finally:
            try:
                await client.drain()
            except Exception:  # noqa: BLE001 - a drain that cannot finish still ends in a close
                # Stopping while the broker is away: the socket it would flush is already gone.
                with contextlib.suppress(OSError):
                    await client.close()
    finally:
        if broker is not None:
            await broker.stop()


async def open_blobs(config: Config, events: JetStreamLog) -> BlobStore:
    """The configured blob store; an object store's bucket is created here unless it is there."""
    if config.blob_store == "nats":
        store = ObjectBlobStore(events.jetstream, config.blob_cache, BucketSettings(
            bucket=config.blob_bucket, replicas=config.stream_replicas, cache_bytes=config.blob_cache_bytes))
        await patiently(store.open, "creating the blob bucket")
        return store
    return FileBlobStore(config.blobs)


class Derived(msgspec.Struct, frozen=True):
    """Where renditions and variants are shared between hosts; None: each host keeps its own."""

    renditions: DerivedFiles | None = None
    variants: DerivedFiles | None = None

    def every(self) -> tuple[DerivedFiles, ...]:
        return tuple(found for found in (self.renditions, self.variants) if found is not None)


async def open_derived(config: Config, events: JetStreamLog) -> Derived:
    """An object store's buckets of renditions and variants, created here unless they are there; none
    with the filesystem store, where they are files of each host."""
    if config.blob_store != "nats":
        return Derived()
    return Derived(renditions=await _derived_bucket(config, events, "renditions", RENDITION_NAMES, config.renditions),
                   variants=await _derived_bucket(config, events, "variants", VARIANT_NAMES, config.variants))


async def _derived_bucket(config: Config, events: JetStreamLog, what: str, names: str, cache: Path) -> DerivedFiles:
    store = ObjectDerivedFiles(ObjectBlobStore(
        events.jetstream, config.blob_cache / what, BucketSettings(
            bucket=config.derived_bucket(what), replicas=config.stream_replicas,
            cache_bytes=config.blob_cache_bytes, names=names, description=f"Mediaplex {what}", keep_held=True),
        cache=cache))
    await patiently(store.open, f"creating the {what} bucket")
    return store


@contextlib.asynccontextmanager
async def projection_at(path: Path) -> AsyncIterator[Projection]:
    projection = Projection(path, building=generations.building(path))
    await projection.open()
    try:
        yield projection
    finally:
        await projection.close()


async def catch_up(events: JetStreamLog, projection: Projection) -> int:
    """Fold everything already in the log before serving, so the first answers are current."""
    # Says where a restarted process picks up: from its checkpoint, not from the start of the log.
    log.info("projection at sequence %d: folding the log from %d on", projection.applied, projection.applied + 1)
    return await Feed(events, projection).run(follow=False)


# A video rendered again for a request gets the same time a processor's job does.
RENDER_SECONDS = 1200.0


class Renderer:
    """Re-creates renditions that were deleted (they are derived data) on first request, and renders
    the custom previews gateways take.

    Requests that find the same renditions missing at once share one render.
    """

    def __init__(self, blobs: BlobStore, renditions: Path, limits: Limits,
                 shared: DerivedFiles | None = None) -> None:
        self._blobs = blobs
        self._renditions = renditions
        self._limits = limits
        self._shared = shared
        self._running: dict[str, asyncio.Task[Rendered]] = {}
        # How many renders this process has run: a rendition fetched or found leaves it unchanged.
        self.renders = 0

    async def __call__(self, blob: str, version: int, kind: str) -> bool:
        if version != PROCESSING_VERSION:
            return False
        await self.render(blob, kind)
        return True

    async def render(self, blob: str, kind: str) -> Rendered:
        running = self._running.get(blob)
        if running is None:
            out = rendition_dir(self._renditions, blob, PROCESSING_VERSION)
            started = asyncio.create_task(self._render(blob, out, kind))
            self._running[blob] = running = started
            started.add_done_callback(lambda done: self._finished(blob, done))
        # Shielded: a client that hangs up must not cancel the render others wait for.
        return await asyncio.shield(running)

    async def _render(self, blob: str, out: Path, kind: str) -> Rendered:
        source = await self._blobs.local(blob)
        self.renders += 1
        rendered = await asyncio.to_thread(render, source, out, kind, self._limits, RENDER_SECONDS)
        if self._shared is not None:
            # Other hosts read these rather than render them again: a custom preview's, or files the
            # shared store had lost. What is kept there already stays.
            try:
                await share_renditions(self._shared, blob, PROCESSING_VERSION, out, rendered)
            except Exception as exc:  # noqa: BLE001 - the files are here and answer; other hosts render their own
                log.warning("renditions of %s not shared: %s", blob, exc)
        return rendered

    def _finished(self, blob: str, done: asyncio.Task[Rendered]) -> None:
        self._running.pop(blob, None)
        if not done.cancelled():
            # Seen, so a failure nobody waits for any more is not reported as never retrieved.
            done.exception()


def prepare_vips() -> None:
    configure_vips()
