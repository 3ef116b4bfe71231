"""Folding a whole log into a projection nothing else uses yet, on the event loop's own thread.

A live feed applies on the projection's writer thread so that the event loop keeps serving. A rebuild
serves nothing, and there the two threads only took turns on the interpreter lock: each socket read
of the reader and each SQLite step of the writer let go of it and then waited up to a switch
interval to win it back from the other, which doubled the writer's time. Reading a list, then
applying it, one after the other on one thread, costs less than the overlap saved.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

from core.log import EventLog
from store.projection import Projection

# Records per list and transaction: a live feed's biggest.
BATCH = 5_000


async def fold(events: EventLog, projection: Projection, *, on_batch: Callable[[int], None] | None = None,
               batch: int = BATCH) -> int:
    """Apply the log from the projection's checkpoint to the head as of the call; returns the checkpoint.

    Each list is one transaction with its checkpoint, as `Projection.apply` makes it, so a fold that
    stops part way resumes from where it stopped. The event loop is blocked while a list is applied
    (a tenth of a second or so): call it only where nothing else needs the loop meanwhile.
    """
    lists = events.read_batches(projection.applied + 1, follow=False, size=batch)
    try:
        with _no_collections():
            async for records in lists:
                applied = projection.apply_here(records)
                if on_batch is not None:
                    on_batch(applied)
    finally:
        await lists.aclose()
    return projection.applied


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """The cyclic collector paused, and put back as it was after: a fold makes a few dicts and lists
    per change and no cycles, and the collections their numbers set off cost a fifth of its time
    while finding nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
