"""The event log port: an append-only, totally ordered sequence of events."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

import msgspec

from core.events import AnyEvent


class Record(msgspec.Struct, frozen=True, gc=False):
    seq: int
    event: AnyEvent


class Conflict(Exception):
    """The expected last sequence did not match: somebody else wrote to the aggregate first."""


class LogUnavailable(Exception):
    """The log could not be reached or did not confirm the append in time."""


class EventLog(Protocol):
    async def append(
        self,
        event: AnyEvent,
        *,
        msg_id: str,
        expected_last: int | None = None,
        expected_on: str | None = None,
    ) -> int:
        """Append and return the stream sequence.

        `msg_id` makes a retried append a no-op that returns the first append's sequence.
        With `expected_last`, the append only lands if the last sequence on `expected_on` (a subject
        or wildcard filter, default the event's own subject) equals it; 0 means "nothing there yet".
        Otherwise `Conflict` is raised.
        """
        ...

    async def last_seq(self) -> int: ...

    async def last_on(self, subject: str) -> int:
        """The sequence of the last event on exactly `subject`, 0 when there is none."""
        ...

    def read(self, start: int, *, follow: bool) -> AsyncGenerator[Record, None]:
        """Events from `start` on. Without `follow` it ends at the last sequence as of the call."""
        ...

    def read_batches(self, start: int, *, follow: bool, size: int) -> AsyncGenerator[list[Record], None]:
        """The records `read` yields, in lists of 1 to `size`: consecutive, gap-free, in order.

        A bounded read hands out full lists wherever it can; a following one hands out whatever has
        arrived, so a live reader is never kept waiting for a list to fill.
        """
        ...
