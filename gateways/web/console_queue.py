"""The processing queue of each lane, as JetStream's durable consumers report it."""

from __future__ import annotations

import time

import msgspec
from nats.js import errors as js_errors

from core.jetstream import JetStreamLog
from core.kinds import LANES, Lane
from core.log import EventLog
from processors.worker import lane_settings


class Backlog(msgspec.Struct, frozen=True):
    lane: Lane
    durable: str
    # False until a processor of the lane has started once: nothing is queued for it yet.
    exists: bool = False
    # Not yet handed to any processor.
    pending: int = 0
    # Handed out and neither acked nor given up on: being worked on, or waiting for a redelivery.
    ack_pending: int = 0
    redelivered: int = 0
    # Seconds since the oldest job not yet done was appended; None when there is none.
    oldest_age: float | None = None


async def backlogs(events: EventLog) -> list[Backlog] | None:
    """One backlog per lane; None for a log that is not JetStream and so has no consumers to ask."""
    if not isinstance(events, JetStreamLog):
        return None
    return [await _backlog(events, lane) for lane in LANES]


async def _backlog(events: JetStreamLog, lane: Lane) -> Backlog:
    settings = lane_settings(lane, 1)
    try:
        info = await events.jetstream.consumer_info(events.stream, settings.durable)
    except js_errors.NotFoundError:
        return Backlog(lane, settings.durable)
    pending, ack_pending = info.num_pending or 0, info.num_ack_pending or 0
    oldest = None
    if pending or ack_pending:
        floor = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
        oldest = await _oldest_age(events, floor, tuple(events.subject(f) for f in settings.filter_subjects))
    return Backlog(lane, settings.durable, True, pending, ack_pending, info.num_redelivered or 0, oldest)


async def _oldest_age(events: JetStreamLog, floor: int, filters: tuple[str, ...]) -> float | None:
    # Everything up to the ack floor is done, so the first message of the consumer's subjects past it is
    # the oldest one still to do.
    times = []
    for subject in filters:
        try:
            msg = await events.jetstream.get_msg(events.stream, seq=floor + 1, subject=subject, next=True)
        except js_errors.NotFoundError:
            continue
        if msg.time is not None:
            times.append(msg.time.timestamp())
    return max(0.0, time.time() - min(times)) if times else None
