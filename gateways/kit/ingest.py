"""Protocol-neutral upload: stream to a staged blob, check it, then commit it and append the event.

Staging and recording are separate so a gateway can read the rest of a request (text fields after
the file) and refuse it before anything becomes visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import msgspec

from core.completeness import check_complete
from core.events import Focus, MediaUploaded, aggregate_filter
from core.ids import new_media_id
from core.kinds import is_played, kind_of_type
from core.log import EventLog
from core.ports import BlobStore, Staged, TooLarge
from core.probe import Header, Limits, MediaRejected, check_limits
from core.sniff import SNIFF_BYTES, sniff
from processors.header import read_header
from store.reader import ProjectionReader

# Still images whose header libvips reads from memory in about a tenth of a millisecond, whatever their
# size: the loader reads up to the dimensions and stops. (GIF counts its frames through the whole file,
# and HEIF and video containers are parsed by libraries of their own.)
QUICK_HEADERS = frozenset({"image/jpeg", "image/png", "image/webp"})


class Checked(msgspec.Struct, frozen=True):
    staged: Staged
    header: Header


async def stage(
    blobs: BlobStore,
    chunks: AsyncIterable[bytes],
    *,
    max_bytes: int,
    limits: Limits,
    expect: str | None = None,
    whole: bool = False,
    max_av_bytes: int | None = None,
) -> Checked:
    """Raises TooLarge or MediaRejected with nothing left behind.

    `expect`: the only content type accepted (sniffed, never taken from the client's word).
    `whole`: also refuse bytes that end before their container does, instead of leaving that to processing.
    `max_av_bytes`: the limit of video and audio (else `max_bytes`), where a gateway takes them at all;
    which limit applies is read from the first bytes.
    """
    larger = max(max_bytes, max_av_bytes or 0)
    staged = await blobs.receive(_capped(chunks, max_bytes, max_av_bytes), larger)
    try:
        header = await _header(staged.source)
        if expect is not None and header.content_type != expect:
            raise MediaRejected("unsupported", f"the bytes are {header.content_type}, not {expect}")
        if is_played(header.kind) and max_av_bytes is None:
            raise MediaRejected("unsupported", f"{header.content_type} is not taken here", media=header.kind)
        check_limits(header, limits)
        if whole:
            await asyncio.to_thread(check_complete, staged.source, header.content_type)
    except BaseException:
        blobs.discard(staged)
        raise
    return Checked(staged, header)


async def _header(source: Path | bytes) -> Header:
    """`read_header`, on the loop for a quick header held in memory: there it costs less than the trip to
    a thread and back, which on a busy loop also waits its turn for the interpreter lock each way."""
    if isinstance(source, bytes) and sniff(source[:SNIFF_BYTES]) in QUICK_HEADERS:
        return read_header(source)
    return await asyncio.to_thread(read_header, source)


async def _capped(chunks: AsyncIterable[bytes], max_bytes: int, max_av_bytes: int | None) -> AsyncIterator[bytes]:
    """`chunks`, cut off with TooLarge past the cap their first bytes call for: those say whether the
    file is a video or audio container, so nothing past the right cap is ever read."""
    cap = max_bytes
    head = b""
    seen = 0
    async for chunk in chunks:
        if len(head) < SNIFF_BYTES:
            head += chunk[:SNIFF_BYTES - len(head)]
            played = kind_of_type(sniff(head) or "") != "image"
            cap = max_av_bytes if played and max_av_bytes is not None else max_bytes
        seen += len(chunk)
        if seen > cap:
            raise TooLarge(cap)
        yield chunk


async def record(
    checked: Checked,
    *,
    events: EventLog,
    blobs: BlobStore,
    projection: ProjectionReader,
    owner_id: str,
    via: str,
    filename: str = "",
    description: str = "",
    focus: Focus | None = None,
    media_id: str | None = None,
    expected_last: int | None = None,
) -> str:
    """Commit the staged bytes and append the upload; returns the media id once projected.

    `media_id`: an id granted before the bytes came (a presigned upload); a new one otherwise.
    `expected_last`: the append lands only if the last event about this media (any subject under
    `mx.media.<id>.`) is at this sequence, else Conflict; 0 means nothing about it yet.
    """
    staged, header = checked.staged, checked.header
    created = await blobs.commit(staged)
    media_id = media_id or new_media_id()
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
        kind=header.kind,
        filename=filename,
        description=description,
        focus=focus,
        via=via,
    )
    try:
        seq = await events.append(
            event,
            msg_id=f"{media_id}.uploaded",
            expected_last=expected_last,
            expected_on=aggregate_filter(event.subject()) if expected_last is not None else None,
        )
    except BaseException:
        # No event will name these bytes; take them back unless they were there before.
        if created:
            await blobs.remove(staged.sha256)
        raise
    await projection.wait_for(seq, timeout=10.0)
    return media_id
