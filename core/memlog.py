"""An in-memory EventLog with the same contract as the JetStream one, for unit tests of logic."""

from __future__ import annotations

import asyncio
import fnmatch
import functools
from collections.abc import AsyncGenerator

from core.events import AnyEvent, Codec
from core.log import Conflict, Record


def _matches(subject: str, pattern: str) -> bool:
    if pattern.endswith(".>"):
        return subject.startswith(pattern[:-1])
    return fnmatch.fnmatchcase(subject, pattern.replace("*", "[!.]*")) if "*" in pattern else subject == pattern


class MemoryLog:
    def __init__(self) -> None:
        self._codec = Codec()
        self._records: list[tuple[str, bytes]] = []
        self._msg_ids: dict[str, int] = {}
        self._grew = asyncio.Condition()

    async def append(
        self,
        event: AnyEvent,
        *,
        msg_id: str,
        expected_last: int | None = None,
        expected_on: str | None = None,
    ) -> int:
        if msg_id in self._msg_ids:
            return self._msg_ids[msg_id]
        subject = event.subject()
        if expected_last is not None:
            on = expected_on or subject
            last = max(
                (i + 1 for i, (s, _) in enumerate(self._records) if _matches(s, on)),
                default=0,
            )
            if last != expected_last:
                raise Conflict(f"wrong last sequence on {on}: {last}")
        # Round-trip through the codec so the fake fails wherever the real log would.
        self._records.append((subject, self._codec.encode(event)))
        seq = len(self._records)
        self._msg_ids[msg_id] = seq
        async with self._grew:
            self._grew.notify_all()
        return seq

    async def last_seq(self) -> int:
        return len(self._records)

    def _holds(self, seq: int) -> bool:
        return seq <= len(self._records)

    async def last_on(self, subject: str) -> int:
        return max((i + 1 for i, (s, _) in enumerate(self._records) if s == subject), default=0)

    async def read(self, start: int, *, follow: bool) -> AsyncGenerator[Record, None]:
        batches = self.read_batches(start, follow=follow, size=1)
        try:
            async for batch in batches:
                for record in batch:
                    yield record
        finally:
            await batches.aclose()

    async def read_batches(self, start: int, *, follow: bool, size: int) -> AsyncGenerator[list[Record], None]:
        seq = max(start, 1)
        end = len(self._records)
        while follow or seq <= end:
            if seq > len(self._records):
                async with self._grew:
                    await self._grew.wait_for(functools.partial(self._holds, seq))
            # A following read takes what is there; a bounded one stops at the head as of the call.
            last = min(seq + size - 1, len(self._records) if follow else end)
            yield [Record(seq=s, event=self._codec.decode(self._records[s - 1][1])) for s in range(seq, last + 1)]
            seq = last + 1
