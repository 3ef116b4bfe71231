"""Processing media again: one request per media, naming the outcome it replaces.

The command line and the operator console both ask through here, so both append the same event.
"""

from __future__ import annotations

import time

import msgspec

from core.events import (
    ActivityPosted,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaUploaded,
    outcome_subject,
)
from core.log import Conflict, EventLog


class MediaState(msgspec.Struct):
    blob: str
    failed: bool = False
    kind: str = "image"


async def media_states(events: EventLog) -> dict[str, MediaState]:
    """Every media not deleted, folded from the log itself: the command must not trust a projection
    that may lag, or not exist on a machine that never served."""
    states: dict[str, MediaState] = {}
    async for record in events.read(1, follow=False):
        match record.event:
            case MediaUploaded(media_id=media_id, blob=blob, kind=kind):
                states[media_id] = MediaState(blob, kind=kind)
            case MediaProcessed(media_id=media_id) | MediaReprocessRequested(media_id=media_id):
                if media_id in states:
                    states[media_id].failed = False
            case MediaFailed(media_id=media_id):
                if media_id in states:
                    states[media_id].failed = True
            case MediaDeleted(media_id=media_id):
                states.pop(media_id, None)
            case ActivityPosted(verb="delete", object_type="image", object_id=media_id):
                states.pop(media_id, None)
    return states


async def request_reprocess(events: EventLog, media_id: str, state: MediaState) -> MediaReprocessRequested:
    """Ask the processors of the media's kind to process it again, replacing its current outcome."""
    outcome = outcome_subject(media_id)
    while True:
        after = await events.last_on(outcome)
        event = MediaReprocessRequested(at=time.time(), media_id=media_id, blob=state.blob, after=after,
                                        kind=state.kind)
        try:
            # Expecting `after` on the outcome subject means an outcome landing meanwhile sends us
            # round again, so the request always names the outcome it replaces.
            await events.append(event, msg_id=f"{media_id}.reprocess.{after}", expected_last=after,
                                expected_on=outcome)
        except Conflict:
            continue
        return event
