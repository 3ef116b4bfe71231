"""Ending asyncio tasks for sure."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel until the task is really done.

    Python 3.11's `asyncio.wait_for` drops a cancellation that arrives just as the awaited result does, and
    the NATS client awaits its requests that way: a reader cancelled while it subscribes would read on forever.
    """
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait([task], timeout=0.5)
        except asyncio.CancelledError:
            task.cancel()
            raise
    if not task.cancelled():
        task.exception()
