"""Fixed-window request counters shared by every gateway replica through a key-value bucket.

A window of `period` seconds starts at a multiple of `period` on the wall clock, so replicas agree on
it without talking. Each (window, subject) is one key holding the count as decimal text, raised with
compare-and-set so two replicas counting the same request at once never lose one. Keys carry the
window start and the bucket's TTL is the period, so old windows are forgotten by the broker itself.

While the broker cannot be reached, the counter counts in this process instead of failing the request:
a limit that turned every request into a 503 would take the API down with the broker, whereas a
per-replica count still bounds each client (by the limit times the number of replicas) until the
shared count is back.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import msgspec

from core.log import LogUnavailable
from gateways.kit.keyvalue import Bucket, Buckets, KeyExists, WrongRevision

# How often one increment retries after losing a race before it counts the request as seen.
ATTEMPTS = 8
# A broker slower than this is treated as away for counting: a rate limit must not slow every request.
BROKER_WAIT = 1.0


class Window(msgspec.Struct, frozen=True):
    """`limit` requests per `period` seconds, counted under `name`."""

    name: str
    limit: int
    period: int


class Count(msgspec.Struct, frozen=True):
    window: Window
    # Requests seen in this window, this one included.
    used: int
    # When the window ends, in seconds since the epoch.
    reset: float

    @property
    def over(self) -> bool:
        return self.used > self.window.limit

    @property
    def remaining(self) -> int:
        return max(0, self.window.limit - self.used)


class LocalCounts:
    """Counts of this process alone, used while the shared bucket is out of reach."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        # The latest window start seen per window name.
        self._starts: dict[str, int] = {}

    def hit(self, window: Window, subject: str, start: int) -> int:
        if start > self._starts.get(window.name, start - 1):
            # A new window: the ended ones are dropped, so an outage of any length holds one per subject.
            self._starts[window.name] = start
            for key in [k for k in self._counts if k[0] == window.name and k[2] < start]:
                del self._counts[key]
        key = (window.name, subject, start)
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        return used


class Counter:
    """Counts hits per (window, subject); a subject is an opaque key-safe string such as a hash."""

    def __init__(self, buckets: Buckets, *, clock: Callable[[], float] = time.time,
                 wait: float = BROKER_WAIT) -> None:
        self._buckets = buckets
        self._clock = clock
        self._wait = wait
        self._local = LocalCounts()

    async def hit(self, window: Window, subject: str) -> Count:
        now = self._clock()
        start = math.floor(now / window.period) * window.period
        reset = float(start + window.period)
        try:
            async with asyncio.timeout(self._wait):
                used = await self._shared(window, subject, start)
        except (LogUnavailable, TimeoutError):
            used = self._local.hit(window, subject, start)
        return Count(window=window, used=used, reset=reset)

    async def _bucket(self, window: Window) -> Bucket:
        # The period is in the name: a bucket keeps the TTL it was created with, so a new period needs its own.
        return await self._buckets.open(f"ratelimit_{window.name}_{window.period}", ttl=float(window.period))

    async def _shared(self, window: Window, subject: str, start: int) -> int:
        bucket = await self._bucket(window)
        key = f"{subject}.{start}"
        used = 0
        for _ in range(ATTEMPTS):
            entry = await bucket.get(key)
            if entry is None:
                try:
                    await bucket.create(key, b"1")
                except KeyExists:
                    continue
                return 1
            used = int(entry.value)
            if used > window.limit:
                # Already refused: more refusals need no writes.
                return used + 1
            try:
                await bucket.update(key, str(used + 1).encode(), last=entry.revision)
            except WrongRevision:
                continue
            return used + 1
        # Lost every race: many requests of this subject at once, which is worth counting, not failing.
        return used + 1
