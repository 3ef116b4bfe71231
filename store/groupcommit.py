"""Group commit: the items that arrive while one batch is being made durable go together in the next.

A filesystem sync costs about the same for one file as for a dozen, so uploads that commit at the same
time share it instead of queueing for one fsync each; one upload alone still gets its own at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

class GroupCommit(Generic[Item, Outcome]):
    """Runs `batch` in a worker thread on the items submitted while earlier batches ran.

    `batch` gives one outcome an item, in order: its result, or the error that item alone met.
    Up to `parallel` batches run at once, so an item arriving during a slow sync waits for a sync
    of its own, not for the one under way to finish first.
    """

    def __init__(self, batch: Callable[[Sequence[Item]], list[Outcome | BaseException]], parallel: int = 1) -> None:
        self._batch = batch
        self._parallel = parallel
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._start()
        # Shielded: a caller that gives up must not cancel the batch others wait on, and its item
        # is made durable (or not) with the rest either way.
        return await asyncio.shield(future)

    def _start(self) -> None:
        while self._waiting and len(self._running) < self._parallel:
            taken, self._waiting = self._waiting, []
            task = asyncio.get_running_loop().create_task(self._run(taken))
            self._running.add(task)
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _run(self, taken: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await asyncio.to_thread(self._batch, [item for item, _ in taken])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter of the batch
            outcomes = [exc] * len(taken)
        for (_, future), outcome in zip(taken, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


class FileSync:
    """Makes written files and directory entries durable: one `syncfs` for a batch where Linux has it,
    else one fsync a path."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._syncfs = _syncfs()

    def paths(self, paths: Sequence[Path]) -> None:
        # One fsync is cheaper than a syncfs of the whole filesystem, which may hold other dirty data.
        if len(paths) <= 2 or self._syncfs is None:
            for path in dict.fromkeys(paths):
                fsync_path(path)
            return
        fd = os.open(self._root, os.O_RDONLY)
        try:
            if self._syncfs(fd) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(self._root))
        finally:
            os.close(fd)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name, use_errno=True), "syncfs", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function
