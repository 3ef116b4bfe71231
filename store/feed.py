"""Keeps a projection folded up to the head of the log, in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.log import EventLog, Record
from core.tasks import stop
from core.watchdog import Stall
from store.projection import Projection

log = logging.getLogger(__name__)

# Records per transaction at most. A live feed applies whatever has arrived, so only a backlog
# (a rebuild, the catch-up at start, a burst) fills a batch; a big one saves a round trip to the
# writer thread and a commit per few thousand events.
BATCH = 5000
# Seconds between the watchdog's looks at the log head. A feed is declared stalled after two looks
# in a row find it behind and not moving, so within 10 s; a live feed is milliseconds behind.
WATCH_EVERY = 5.0


class Feed:
    """Reads the log from the projection's checkpoint on and applies what arrives in batches."""

    def __init__(
        self,
        events: EventLog,
        projection: Projection,
        *,
        batch: int = BATCH,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._events = events
        self._projection = projection
        self._batch = batch
        self._on_batch = on_batch

    async def run(self, *, follow: bool = True) -> int:
        """Apply until cancelled (follow) or until the head as of the call; returns the checkpoint."""
        # One list waits here while the writer thread applies the one before it, so reading and
        # decoding on the event loop overlap the SQLite work instead of adding up with it.
        queue: asyncio.Queue[list[Record] | BaseException | None] = asyncio.Queue(maxsize=1)
        reader = asyncio.create_task(self._read(queue, follow))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                applied = await self._projection.apply(item)
                if self._on_batch is not None:
                    self._on_batch(applied)
            await reader
        finally:
            await stop(reader)
        return self._projection.applied

    async def run_forever(self, *, retry_delay: float = 1.0, watch_every: float = WATCH_EVERY) -> None:
        """Follow the log for good; a broken or stalled subscription is resumed from the checkpoint."""
        while True:
            run = asyncio.create_task(self.run(follow=True))
            watch = asyncio.create_task(self._watch(watch_every))
            try:
                await asyncio.wait((run, watch), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stalled = watch.done() and not watch.cancelled() and not run.done()
                await stop(watch)
                if stalled:
                    log.warning("projection feed stalled at %d behind the log head; resuming from it",
                                self._projection.applied)
                await stop(run)
            if run.done() and not run.cancelled() and run.exception() is not None:
                log.warning("projection feed stopped (%s); resuming from %d", run.exception(),
                            self._projection.applied)
                await asyncio.sleep(retry_delay)

    async def _watch(self, every: float) -> None:
        """Return when the log head stays ahead of the projection while the projection stands still.

        The reader cannot see this itself: a subscription whose consumer is gone (a broker restart, a
        missed re-creation) just delivers nothing, exactly like one with nothing to deliver.
        """
        stall = Stall()
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(every):
                    head = await self._events.last_seq()
            except Exception:  # noqa: BLE001 - an unreachable log is no evidence either way
                continue
            applied = self._projection.applied
            if stall.sample(applied, waiting=head > applied):
                return

    async def _read(self, queue: asyncio.Queue[list[Record] | BaseException | None], follow: bool) -> None:
        try:
            batches = self._events.read_batches(self._projection.applied + 1, follow=follow, size=self._batch)
            try:
                async for batch in batches:
                    await queue.put(batch)
            finally:
                # A cancelled feed must end its subscription now, not whenever it is collected.
                await batches.aclose()
        except Exception as exc:  # noqa: BLE001 - handed to the applier, which raises it
            await queue.put(exc)
            return
        await queue.put(None)
