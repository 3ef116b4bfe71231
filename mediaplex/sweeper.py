"""Deletes uploads nobody posted, by appending events, and collects blobs no media names any more,
and the temp files a crash left behind."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec

from core.events import MediaDeleted, aggregate_filter
from core.log import Conflict, EventLog
from core.ports import BlobStore, DerivedFiles, blob_of
from processors.imaging import rendition_leftovers
from store.reader import ProjectionReader

log = logging.getLogger(__name__)


class SweepSettings(msgspec.Struct, frozen=True):
    unposted_ttl: float = 24 * 3600.0
    interval: float = 600.0
    # A blob younger than this is never collected: its upload event may not be projected yet. One
    # older that no media names is garbage, also when its event never reached the log (a crash
    # between committing the bytes and appending).
    blob_grace: float = 600.0
    # A temp file untouched for this long is no longer being written: its writer died.
    temp_grace: float = 3600.0
    # Uploads through these gateways are meant to be posted; the server passes the gateways whose policy
    # says so (gateways.registry.swept_vias), Mastodon among them.
    via: tuple[str, ...] = ("pumpio", "presigned")
    # A presigned upload that started just before its URL expired may still be streaming.
    request_grace: float = 300.0


class SweepReport(msgspec.Struct, frozen=True):
    expired: int
    blobs_removed: int
    # Presigned uploads granted whose URL expired with no bytes sent.
    requests_expired: int = 0
    # Temp files of uploads, renditions and variants whose writer died, and their partial writes in the
    # blob store (an object store's chunks that no meta names).
    temporaries_removed: int = 0
    # Shared renditions and variants of blobs no media names.
    derived_removed: int = 0


class Sweeper:
    def __init__(
        self,
        events: EventLog,
        projection: ProjectionReader,
        blobs: BlobStore,
        renditions: Path,
        settings: SweepSettings,
        clock: Callable[[], float] = time.time,
        variants: Path | None = None,
        derived: tuple[DerivedFiles, ...] = (),
    ) -> None:
        """`derived`: the stores where renditions and variants are shared between hosts, if they are."""
        self._derived = derived
        self._events = events
        self._projection = projection
        self._blobs = blobs
        self._renditions = renditions
        self._settings = settings
        self._clock = clock
        self._variants = variants

    async def run(self) -> None:
        # The first round runs at start: what a crash left behind goes now, not an interval later.
        while True:
            try:
                report = await self.sweep_once()
            except Exception:
                log.exception("sweep failed; trying again next round")
            else:
                if any(msgspec.structs.astuple(report)):
                    log.info("swept %d unposted uploads, %d expired upload requests, %d blobs, %d of their shared"
                             " files and %d temp files", report.expired, report.requests_expired,
                             report.blobs_removed, report.derived_removed, report.temporaries_removed)
            await asyncio.sleep(self._settings.interval)

    async def sweep_once(self) -> SweepReport:
        now = self._clock()
        cutoff = now - self._settings.unposted_ttl
        via = self._settings.via
        marks = ", ".join("?" for _ in via)

        def expired(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                f"SELECT media_id FROM media WHERE published_at IS NULL AND attached_at IS NULL AND post_id IS NULL"
                f" AND created_at < ? AND via IN ({marks})",
                (cutoff, *via),
            )
            return [row[0] for row in rows]

        last = 0
        swept = await self._projection.read(expired)
        for media_id in swept:
            event = MediaDeleted(at=now, media_id=media_id, reason="unposted")
            # Same id as a user's delete: whichever comes first is the one in the log.
            last = await self._events.append(event, msg_id=f"{media_id}.deleted")
        if last:
            await self._projection.wait_for(last, timeout=30.0)
        requests_expired = await self._expire_requests(now)
        referenced = await self._referenced()
        unfinished = await self._blobs.unfinished(now - self._settings.temp_grace)
        for store in self._derived:
            unfinished += await store.unfinished(now - self._settings.temp_grace)
        return SweepReport(expired=len(swept), blobs_removed=await self._collect(now, referenced),
                           requests_expired=requests_expired,
                           temporaries_removed=await asyncio.to_thread(self._remove_temporaries, now) + unfinished,
                           derived_removed=await self._collect_derived(now, referenced))

    async def _expire_requests(self, now: float) -> int:
        cutoff = now - self._settings.request_grace
        stale = await self._projection.read(
            lambda conn: [row[0] for row in conn.execute("SELECT media_id FROM requests WHERE expires_at < ?",
                                                         (cutoff,))]
        )
        last = expired = 0
        for media_id in stale:
            requested = await self._events.last_on(f"mx.media.{media_id}.requested")
            event = MediaDeleted(at=now, media_id=media_id, reason="expired")
            try:
                # Only if nothing happened to the media since it was requested: an upload that
                # landed a moment ago is kept.
                last = await self._events.append(event, msg_id=f"{media_id}.deleted", expected_last=requested,
                                                 expected_on=aggregate_filter(event.subject()))
            except Conflict:
                continue
            expired += 1
        if last:
            await self._projection.wait_for(last, timeout=30.0)
        return expired

    async def _referenced(self) -> set[str]:
        return set(await self._projection.read(
            # A custom preview's bytes are as much the media's as the file's are.
            lambda conn: [row[0] for row in conn.execute(
                "SELECT blob FROM media UNION SELECT preview_blob FROM media WHERE preview_blob IS NOT NULL")]
        ))

    async def _collect(self, now: float, referenced: set[str]) -> int:
        old_enough = now - self._settings.blob_grace
        removed = 0
        for sha, modified in await self._blobs.stored():
            if sha in referenced or modified > old_enough:
                continue
            await self._blobs.remove(sha)
            await asyncio.to_thread(shutil.rmtree, self._renditions / sha[:2] / sha, True)
            if self._variants is not None:
                await asyncio.to_thread(shutil.rmtree, self._variants / sha[:2] / sha, True)
            removed += 1
        return removed

    async def _collect_derived(self, now: float, referenced: set[str]) -> int:
        """Shared files of blobs no media names: the same rule and grace as for the blobs, whose
        removal leaves them behind (and a processor may keep one after its media was deleted)."""
        old_enough = now - self._settings.blob_grace
        removed = 0
        for store in self._derived:
            for name, modified in await store.stored():
                if blob_of(name) in referenced or modified > old_enough:
                    continue
                await store.remove(name)
                removed += 1
        return removed

    def _remove_temporaries(self, now: float) -> int:
        return remove_stale(self._temporaries(), now - self._settings.temp_grace)

    def _temporaries(self) -> Iterator[Path]:
        yield from self._blobs.leftovers()
        for store in self._derived:
            yield from store.leftovers()
        yield from rendition_leftovers(self._renditions)
        if self._variants is not None:
            # The variant cache writes `.<digest>.<random>.tmp` beside the variant, then renames it.
            yield from self._variants.glob("??/*/.*.tmp")


def remove_stale(paths: Iterable[Path], cutoff: float) -> int:
    """Removes the files among `paths` last modified before `cutoff`; how many it removed."""
    removed = 0
    for path in paths:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            # Renamed into place or cleaned up by its writer meanwhile.
            continue
        removed += 1
    return removed
