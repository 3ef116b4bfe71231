"""One post per media, across every protocol and replica: a claim per media in a shared bucket.

The read model says which post attaches a media only once that post's event is folded, so two
requests racing past the check would both attach it. Before appending, a post claims each of its media
with a compare-and-set `create`; the loser is refused. A claim is given up when the post lets go of the
media (an edit or a delete), and one whose post never landed (a crash between claim and append) goes
stale after GRACE, when the read model shows the media attached to nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence

import msgspec

from gateways.kit.keyvalue import Bucket, Buckets, KeyExists, WrongRevision
from store.queries.media import media_by_ids
from store.reader import ProjectionReader

BUCKET = "media-attachments"
# Longer than any append and its wait for the projection take.
GRACE = 60.0


class Claim(msgspec.Struct, frozen=True):
    post_id: str
    at: float


def _key(media_id: str) -> str:
    return "m." + hashlib.sha256(media_id.encode()).hexdigest()[:40]


async def _bucket(buckets: Buckets) -> Bucket:
    return await buckets.open(BUCKET, ttl=None)


async def claim(buckets: Buckets, projection: ProjectionReader, media_ids: Sequence[str], post_id: str) -> list[str]:
    """Claims every media for `post_id`; the ids some other post holds (and then claims none of them)."""
    bucket = await _bucket(buckets)
    mine: list[tuple[str, int]] = []
    taken: list[str] = []
    now = time.time()
    value = msgspec.json.encode(Claim(post_id=post_id, at=now))
    attached = await projection.read(lambda conn: _post_ids(conn, media_ids))
    for media_id in media_ids:
        key = _key(media_id)
        try:
            mine.append((key, await bucket.create(key, value)))
            continue
        except KeyExists:
            entry = await bucket.get(key)
        if entry is None:
            taken.append(media_id)
            continue
        held = msgspec.json.decode(entry.value, type=Claim)
        if held.post_id == post_id:
            continue
        stale = attached.get(media_id) is None and now - held.at > GRACE
        if not stale:
            taken.append(media_id)
            continue
        try:
            mine.append((key, await bucket.update(key, value, last=entry.revision)))
        except WrongRevision:
            taken.append(media_id)
    if taken:
        for key, revision in mine:
            try:
                await bucket.delete(key, last=revision)
            except WrongRevision:
                pass
    return taken


async def release(buckets: Buckets, media_ids: Sequence[str], post_id: str) -> None:
    """Gives up the claims `post_id` holds on these media, once the post no longer attaches them."""
    bucket = await _bucket(buckets)
    for media_id in media_ids:
        key = _key(media_id)
        entry = await bucket.get(key)
        if entry is None or msgspec.json.decode(entry.value, type=Claim).post_id != post_id:
            continue
        try:
            await bucket.delete(key, last=entry.revision)
        except WrongRevision:
            pass


def _post_ids(conn: sqlite3.Connection, media_ids: Sequence[str]) -> dict[str, str | None]:
    return {media_id: row["post_id"] for media_id, row in media_by_ids(conn, media_ids).items()}
