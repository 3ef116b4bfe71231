"""The log's events as the console lists them: what happened to which aggregate, never an event's secrets."""

from __future__ import annotations

import time

import msgspec

from core.log import EventLog, Record

# How many of the latest events the console page opens with.
LAST = 50


class EventRow(msgspec.Struct, frozen=True):
    seq: int
    # UTC, to the second.
    at: str
    type: str
    # Names the aggregate (`mx.media.42.uploaded`); password and token hashes stay out of sight.
    subject: str


def utc(at: float) -> str:
    """A time as the console shows it: UTC, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def event_row(record: Record) -> EventRow:
    event = record.event
    tag = type(event).__struct_config__.tag
    return EventRow(seq=record.seq, at=utc(event.at), type=str(tag), subject=event.subject())


async def last_events(events: EventLog, head: int, count: int = LAST) -> list[EventRow]:
    """The `count` events up to `head`, newest first."""
    rows = [event_row(record) async for record in events.read(max(1, head - count + 1), follow=False)
            if record.seq <= head]
    return rows[::-1]
