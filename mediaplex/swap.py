"""Follows the CURRENT pointer of a running server's projection directory and swaps generations live."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from core.jetstream import JetStreamLog
from core.tasks import stop
from mediaplex.runtime import catch_up
from store import generations
from store.feed import Feed
from store.live import LiveProjection
from store.projection import Projection, SchemaChanged, Told

log = logging.getLogger(__name__)

# How long a new generation may take to reach where the old one is, once it has folded the log's
# head as of its opening; only the events appended meanwhile are left, so this is generous.
CATCH_UP = 60.0


class Generation:
    """One open projection file and the feed keeping it at the head of the log."""

    def __init__(self, projection: Projection, feed: asyncio.Task[None] | None) -> None:
        self.projection = projection
        self.feed = feed

    async def close(self) -> None:
        # Cancelling between or inside a batch is a clean boundary: each batch is one transaction.
        if self.feed is not None:
            await stop(self.feed)
        await self.projection.close()


class Generations:
    """Owns the projection a server answers from: opens it, feeds it, and moves to a promoted rebuild.

    The pointer is polled rather than announced: a rebuild runs as its own process, possibly with no
    broker of its own in common with this server, and the pointer file is what it leaves behind. A
    stat and a read of a dozen bytes every `interval` costs nothing next to a request.
    """

    def __init__(self, events: JetStreamLog, directory: Path, *, interval: float = 0.5,
                 told: Told | None = None) -> None:
        """`told`: who every generation tells what each batch changed (store.projection.Told)."""
        self._events = events
        self._told = told
        self._directory = directory
        self._interval = interval
        self._generation: Generation | None = None
        # The generation swapped out while requests still use it; closed once they end, or at close.
        self._retiring: Generation | None = None
        self._live: LiveProjection | None = None
        # A promoted file this server cannot open (another schema): not tried again on every poll.
        self._refused = ""
        self.swaps = 0

    @property
    def live(self) -> LiveProjection:
        assert self._live is not None
        return self._live

    async def open(self) -> LiveProjection:
        """Open the live generation, folding a new one first when the read-model schema changed."""
        path = generations.current(self._directory)
        fresh = False
        try:
            projection = await _opened(path, self._told)
        except SchemaChanged:
            # Read models are derived: a new shape is folded afresh from the whole log.
            log.info("read-model schema changed: folding a new projection from the log")
            path = generations.fresh(self._directory)
            projection = await _opened(path, self._told)
            fresh = True
        try:
            await catch_up(self._events, projection)
        except BaseException:
            await projection.close()
            raise
        if fresh:
            generations.promote(self._directory, path)
        generations.prune(self._directory, path)
        self._generation = Generation(projection, self._feed(projection))
        self._live = LiveProjection(projection)
        return self._live

    def _feed(self, projection: Projection) -> asyncio.Task[None]:
        return asyncio.create_task(Feed(self._events, projection).run_forever())

    async def watch(self) -> None:
        """Swap to every generation a rebuild promotes, until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            path = self.promoted()
            if path is None:
                continue
            try:
                await self.swap_to(path)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The old generation keeps serving; the next poll tries again.
                log.exception("could not switch to %s; staying on the current projection", path.name)

    def promoted(self) -> Path | None:
        """The file the pointer names when it is not the one being served and is ready to open."""
        pointer = self._directory / generations.POINTER
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        assert self._generation is not None
        path = self._directory / name
        if not name or path == self._generation.projection.path or name == self._refused:
            return None
        if generations.building(path) or not path.exists():
            return None
        return path

    async def swap_to(self, path: Path) -> None:
        """Open `path`, bring it up to the serving generation, switch readers, then retire the old one."""
        old = self._generation
        live = self._live
        assert old is not None and live is not None
        try:
            projection = await _opened(path, self._told)
        except SchemaChanged:
            self._refused = path.name
            log.warning("%s was built for another read-model schema; not switching to it", path.name)
            return
        feed: asyncio.Task[None] | None = None
        try:
            await catch_up(self._events, projection)
            feed = self._feed(projection)
            # The old generation keeps folding meanwhile; the new one must not answer from behind it.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CATCH_UP
            while projection.applied < old.projection.applied:
                if not await projection.wait_for(old.projection.applied, max(deadline - loop.time(), 0.0)):
                    raise TimeoutError(f"{path.name} did not catch up with the served projection")
        except BaseException:
            await Generation(projection, feed).close()
            raise
        self._generation = Generation(projection, feed)
        live.swap(projection)
        self.swaps += 1
        log.info("switched to projection %s at sequence %d", path.name, projection.applied)
        # Requests that started on the old file finish there; its feed keeps their waits answered.
        self._retiring = old
        await live.drained(old.projection)
        self._retiring = None
        # Past this point nothing else will close it: a stop arriving now must not leave it half closed.
        await asyncio.shield(old.close())
        generations.prune(self._directory, path)

    async def close(self) -> None:
        if self._retiring is not None:
            await self._retiring.close()
            self._retiring = None
        if self._generation is not None:
            await self._generation.close()
            self._generation = None


async def _opened(path: Path, told: Told | None) -> Projection:
    projection = Projection(path, building=generations.building(path), told=told)
    await projection.open()
    return projection
