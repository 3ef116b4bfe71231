"""The projection a server answers from, which a newer generation can replace while requests run."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from store.projection import Projection, RowKey

T = TypeVar("T")


class LiveProjection:
    """Hands every caller the current projection and counts who still uses each one.

    A request pins the projection current when it starts (`pinned`), so all its reads and
    read-your-writes waits go to one file even if a swap happens meanwhile; callers outside a
    request get the current one per call. A caller that ends on a replaced file waits for the new
    one to reach the same sequence, so no client sees the log go backwards. The old file may
    close once `drained` says nobody uses it any more.
    """

    def __init__(self, projection: Projection, *, catch_up: float = 10.0) -> None:
        self._current = projection
        self._catch_up = catch_up
        self._users: dict[Projection, int] = {}
        self._released = asyncio.Condition()
        # One variable per holder, not per module: two servers in one process pin independently.
        self._pin: contextvars.ContextVar[Projection | None] = contextvars.ContextVar(
            f"pinned-projection-{id(self)}", default=None
        )

    @property
    def current(self) -> Projection:
        return self._current

    @property
    def path(self) -> Path:
        return self._chosen().path

    @property
    def applied(self) -> int:
        return self._chosen().applied

    def _chosen(self) -> Projection:
        return self._pin.get() or self._current

    @contextlib.asynccontextmanager
    async def pinned(self) -> AsyncIterator[Projection]:
        """Use the current projection until the block ends, whatever gets swapped in meanwhile."""
        already = self._pin.get()
        if already is not None:
            yield already
            return
        projection = self._current
        token = self._pin.set(projection)
        self._users[projection] = self._users.get(projection, 0) + 1
        try:
            yield projection
            if projection is not self._current:
                # What this caller read or waited for on the old file, the next one must find on the
                # new one: the answer leaves only once the new generation has folded as far.
                await self._current.wait_for(projection.applied, timeout=self._catch_up)
        finally:
            self._pin.reset(token)
            self._users[projection] -= 1
            if not self._users[projection]:
                del self._users[projection]
                async with self._released:
                    self._released.notify_all()

    def swap(self, projection: Projection) -> Projection:
        """Make `projection` current for every caller from now on; returns the one it replaces."""
        old, self._current = self._current, projection
        return old

    async def drained(self, projection: Projection) -> None:
        """Wait until no request or call pinned to `projection` is still running."""
        async with self._released:
            await self._released.wait_for(lambda: projection not in self._users)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self.pinned() as projection:
            return await projection.read(fn)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.pinned() as projection:
            return await projection.one(sql, params)

    async def keyed(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.pinned() as projection:
            return await projection.keyed(sql, params)

    async def wait_for(self, seq: int, timeout: float) -> bool:
        async with self.pinned() as projection:
            return await projection.wait_for(seq, timeout)

    async def wait_until(self, check: Callable[[], Awaitable[bool]], timeout: float, *,
                         row: RowKey | None = None) -> bool:
        async with self.pinned() as projection:
            return await projection.wait_until(check, timeout, row=row)

    async def digest(self) -> tuple[int, str]:
        async with self.pinned() as projection:
            return await projection.digest()
