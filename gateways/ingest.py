"""Protocol-neutral upload: stream to a staged blob, check it, then commit it and append the event.

Staging and recording are separate so a gateway can read the rest of a request (text fields after
the file) and refuse it before anything becomes visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable

import msgspec

from core.events import Focus, MediaUploaded
from core.ids import new_media_id
from core.log import EventLog
from core.ports import BlobStore, Staged
from core.probe import Header, Limits, check_limits, read_header
from store.projection import Projection


class Checked(msgspec.Struct, frozen=True):
    staged: Staged
    header: Header


async def stage(blobs: BlobStore, chunks: AsyncIterable[bytes], *, max_bytes: int, limits: Limits) -> Checked:
    """Raises TooLarge or MediaRejected with nothing left behind."""
    staged = await blobs.receive(chunks, max_bytes)
    try:
        header = await asyncio.to_thread(read_header, staged.path)
        check_limits(header, limits)
    except BaseException:
        blobs.discard(staged)
        raise
    return Checked(staged, header)


async def record(
    checked: Checked,
    *,
    events: EventLog,
    blobs: BlobStore,
    projection: Projection,
    owner_id: str,
    via: str,
    filename: str = "",
    description: str = "",
    focus: Focus | None = None,
) -> str:
    """Commit the staged bytes and append the upload; returns the media id once projected."""
    staged, header = checked.staged, checked.header
    created = await blobs.commit(staged)
    media_id = new_media_id()
    event = MediaUploaded(
        at=time.time(),
        media_id=media_id,
        owner_id=owner_id,
        blob=staged.sha256,
        size=staged.size,
        content_type=header.content_type,
        width=header.width,
        height=header.height,
        frames=header.frames,
        filename=filename,
        description=description,
        focus=focus,
        via=via,
    )
    try:
        seq = await events.append(event, msg_id=f"{media_id}.uploaded")
    except BaseException:
        # No event will name these bytes; take them back unless they were there before.
        if created:
            blobs.remove(staged.sha256)
        raise
    await projection.wait_for(seq, timeout=10.0)
    return media_id
