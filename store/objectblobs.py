"""Blobs in a NATS JetStream object store bucket, replicated like the log: content addressed, or
(renditions, variants) under names of their own, each checked against its meta's digest.

Objects are laid out as the object store lays them out (chunks on `$O.<bucket>.C.<nuid>`, one meta
message on `$O.<bucket>.M.<name>`), so `nats object` and nats-py read them; they are written and read
here directly because the client's own put is not conditional and its get holds a consumer per call
with no timeout.

- A commit writes the chunks, then publishes the meta only if no live meta is there (the expected last
  subject sequence): of uploads of the same bytes committing at once, exactly one is told it created the
  blob, and the others' chunks are purged. The meta's ack, from the cluster's quorum, is the durability
  point before the caller appends the event naming the blob.
- Reads go chunk by chunk into a bounded local cache (store/blobcache.py), checked against the name.
- A removal is a tombstone conditional on the meta it saw, then a purge of the chunks.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import re
import time
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import BinaryIO

import msgspec
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors
from nats.nuid import NUID

from core.jetstream import LEADERLESS, WRONG_LAST_SEQUENCE, publish_through_elections, stream_subjects
from core.log import LogUnavailable
from core.ports import SHA256, Staged, checked_name
from store.blobcache import BlobCache
from store.staging import Staging

# The object store's own chunk size, so its other clients read these objects the way they read theirs.
CHUNK_BYTES = 128 * 1024
# Chunks in flight at once while writing: enough to fill the pipe, little enough to bound memory.
WINDOW = 32


class MetaOptions(msgspec.Struct, omit_defaults=True):
    max_chunk_size: int = CHUNK_BYTES


class Meta(msgspec.Struct, omit_defaults=True):
    """The object store's meta message, as its clients write and read it."""

    name: str
    bucket: str
    nuid: str
    size: int = 0
    mtime: str = ""
    chunks: int = 0
    digest: str = ""
    deleted: bool = False
    options: MetaOptions = msgspec.field(default_factory=MetaOptions)


class _Found(msgspec.Struct, frozen=True):
    meta: Meta
    seq: int


class BucketSettings(msgspec.Struct, frozen=True):
    bucket: str = "mediaplex-blobs"
    replicas: int = 1
    # Bytes of blobs kept on this host for libvips and FFmpeg to read.
    cache_bytes: int = 2 * 1024**3
    # Seconds a meta's publish waits out an election of the bucket's leader before it gives up, and a
    # window of chunks waits for its acks.
    patience: float = 10.0
    # A regular expression of the names kept, for files kept under names of their own; empty: content
    # addressed, every object named by the sha256 of its bytes.
    names: str = ""
    description: str = "Mediaplex blobs by sha256"
    # Whether bytes committed from memory are also written to this host's cache: files this host serves
    # next (renditions, variants), not uploads, which a processor on any host reads next.
    keep_held: bool = False


class ObjectBlobStore:
    def __init__(self, js: JetStreamContext, local: Path, settings: BucketSettings,
                 clock: Callable[[], float] = time.time, *, cache: Path | None = None) -> None:
        """`local`: where uploads are staged, and objects read are kept unless `cache` says elsewhere."""
        self.jetstream = js
        # When a commit happened, as the sweeper's grace period reads it.
        self.clock = clock
        self.settings = settings
        self._stream = f"OBJ_{settings.bucket}"
        self._staging = Staging(local / "tmp")
        self._cache = BlobCache(cache or local / "cache", settings.cache_bytes)
        self._names = re.compile(settings.names) if settings.names else None
        self._fetching: dict[str, asyncio.Task[Path]] = {}
        self._nuid = NUID()

    async def open(self) -> None:
        """Create the bucket unless it is there."""
        try:
            await self.jetstream.stream_info(self._stream)
        except js_errors.NotFoundError:
            await self.jetstream.create_object_store(self.settings.bucket, config=js_api.ObjectStoreConfig(
                description=self.settings.description, replicas=self.settings.replicas,
                storage=js_api.StorageType.FILE))

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        return await self._staging.receive(chunks, limit)

    def discard(self, staged: Staged) -> None:
        self._staging.discard(staged)

    def leftovers(self) -> list[Path]:
        return [*self._staging.leftovers(), *self._cache.leftovers()]

    async def commit(self, staged: Staged) -> bool:
        return await self.commit_as(staged.sha256, staged)

    async def commit_as(self, name: str, staged: Staged) -> bool:
        """Keep the staged bytes under `name`, as `commit` keeps them under their hash.

        Bytes staged in a file stay on this host in the cache, where the processor or gateway that
        reads them next may be. Bytes held in memory are written here only when the settings say so:
        writing a file costs more than the commit, and the host that reads them next fetches them once.
        """
        self._checked(name)
        try:
            created = await self._store(name, staged)
            if created:
                await self._adopt(name, staged)
            return created
        finally:
            self._staging.discard(staged)

    async def _adopt(self, name: str, staged: Staged) -> None:
        if staged.held is None:
            await asyncio.to_thread(self._cache.adopt, name, staged.path)
            return
        if not self.settings.keep_held:
            return
        download = self._cache.download(name)
        try:
            await asyncio.to_thread(download.finish, [staged.held])
        except BaseException:
            download.abort()
            raise

    async def _store(self, name: str, staged: Staged) -> bool:
        """Whether the bucket now keeps the bytes under `name` because of this commit."""
        # Most commits are of new bytes: put first, and only look at what is there if that is refused.
        if await self._put(staged, name, expected=0):
            return True
        found = await self._meta(name)
        if found is not None and not found.meta.deleted:
            return await self._refresh(name, found)
        # A tombstone of bytes removed earlier, or a removal racing this commit: put after it.
        return await self._put(staged, name, expected=found.seq if found is not None else 0)

    def _checked(self, name: str) -> str:
        if self._names is None:
            return checked_name(name)
        if not self._names.fullmatch(name):
            raise ValueError(f"not a name bucket {self.settings.bucket} keeps: {name!r}")
        return name

    async def has(self, sha256: str) -> bool:
        self._checked(sha256)
        found = await self._meta(sha256)
        return found is not None and not found.meta.deleted

    async def local(self, sha256: str) -> Path:
        self._checked(sha256)
        cached = self._cache.get(sha256)
        if cached is not None:
            return cached
        running = self._fetching.get(sha256)
        if running is None:
            running = asyncio.create_task(self._fetch(sha256))
            self._fetching[sha256] = running
            running.add_done_callback(lambda _done: self._fetching.pop(sha256, None))
        # Shielded: one reader giving up must not cancel the download others wait for.
        return await asyncio.shield(running)

    async def remove(self, sha256: str) -> None:
        self._checked(sha256)
        found = await self._meta(sha256)
        if found is None or found.meta.deleted:
            return
        tombstone = Meta(name=sha256, bucket=self.settings.bucket, nuid=found.meta.nuid, deleted=True)
        try:
            await self._publish_meta(tombstone, after=found.seq)
        except js_errors.BadRequestError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                # Committed again since it was looked at: whoever did that names it now.
                return
            raise
        await self.jetstream.purge_stream(self._stream, subject=self._chunk_subject(found.meta.nuid))
        await asyncio.to_thread(self._cache.drop, sha256)

    async def stored(self) -> list[tuple[str, float]]:
        kept = self._names or SHA256
        return [(info.name, _seconds(info.mtime or "")) for info in await self._live() if kept.fullmatch(info.name)]

    async def _live(self) -> list[js_api.ObjectInfo]:
        """The live metas of the bucket, as the object store's own client lists them."""
        store = await self.jetstream.object_store(self.settings.bucket)
        try:
            return await store.list(ignore_deletes=True)
        except js_errors.NotFoundError:
            return []

    async def unfinished(self, older_than: float) -> int:
        """Chunks no live meta names: of a commit whose writer died before its meta, or whose meta's
        answer never came; of a removal whose purge failed."""
        chunked = await stream_subjects(self.jetstream, self._stream, self._chunk_subject(">"))
        if not chunked:
            return 0
        named = {self._chunk_subject(live.nuid) for live in await self._live() if live.nuid}
        removed = 0
        for subject in chunked.keys() - named:
            first = await self.jetstream.get_msg(self._stream, seq=1, subject=subject, next=True)
            # A commit under way writes its chunks before its meta: only old ones are a dead writer's.
            if first.time is None or first.time.timestamp() >= older_than:
                continue
            await self.jetstream.purge_stream(self._stream, subject=subject)
            removed += 1
        return removed

    async def _meta(self, sha256: str) -> _Found | None:
        try:
            # From the stream's leader, never a replica that may lag.
            message = await self.jetstream.get_last_msg(self._stream, self._meta_subject(sha256))
        except js_errors.NotFoundError:
            return None
        assert message.data is not None and message.seq is not None
        return _Found(msgspec.json.decode(message.data, type=Meta), message.seq)

    async def _refresh(self, sha256: str, found: _Found) -> bool:
        """Mark bytes uploaded again as fresh, so the sweeper's grace period starts over for them."""
        try:
            await self._publish_meta(msgspec.structs.replace(found.meta, mtime=self._now()), after=found.seq)
        except js_errors.BadRequestError as exc:
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
            # Someone else committed or refreshed it meanwhile, which is as fresh; or removed it: store again.
            again = await self._meta(sha256)
            if again is None or again.meta.deleted:
                raise
        return False

    async def _put(self, staged: Staged, name: str, *, expected: int) -> bool:
        nuid = self._nuid.next().decode()
        subject = self._chunk_subject(nuid)
        try:
            chunks = await self._write_chunks(staged, subject)
        except BaseException:
            await asyncio.shield(self.jetstream.purge_stream(self._stream, subject=subject))
            raise
        meta = Meta(name=name, bucket=self.settings.bucket, nuid=nuid, size=staged.size, mtime=self._now(),
                    chunks=chunks, digest=_digest(staged.sha256))
        try:
            await self._publish_meta(meta, after=expected)
        except js_errors.BadRequestError as exc:
            await self.jetstream.purge_stream(self._stream, subject=subject)
            if exc.err_code == WRONG_LAST_SEQUENCE:
                # Another commit of the same bytes landed first.
                return False
            raise
        except LogUnavailable as exc:
            # Never answered: the meta may have landed all the same, and its chunks must then stay.
            landed = await self._names_chunks(name, nuid)
            if landed:
                return True
            if landed is None:
                # Nobody answers even that: the chunks stay for the sweep of chunks no meta names.
                raise LogUnavailable(f"no answer on whether {name} was stored") from exc
            await self.jetstream.purge_stream(self._stream, subject=subject)
            raise
        return True

    async def _names_chunks(self, sha256: str, nuid: str) -> bool | None:
        """Whether the live meta of `sha256` names the chunks `nuid`; None when the bucket does not say."""
        try:
            found = await self._meta(sha256)
        except (LogUnavailable, *LEADERLESS):
            return None
        return found is not None and not found.meta.deleted and found.meta.nuid == nuid

    async def _publish_meta(self, meta: Meta, *, after: int) -> None:
        """Replace the meta of `meta.name`, only if its last one is at `after` (0: none yet); else
        BadRequestError with WRONG_LAST_SEQUENCE. Waits out an election; LogUnavailable if none ends in time.
        Its own id makes a retry of a try that landed unanswered a success, not a refusal."""
        headers = {"Nats-Rollup": "sub", "Nats-Expected-Last-Subject-Sequence": str(after),
                   "Nats-Msg-Id": self._nuid.next().decode()}
        await publish_through_elections(self.jetstream, self._meta_subject(meta.name), msgspec.json.encode(meta),
                                        stream=self._stream, headers=headers, within=self.settings.patience)

    async def _write_chunks(self, staged: Staged, subject: str) -> int:
        count = 0
        if staged.held is not None:
            # Held in memory as it arrived: there is no file to read.
            held = _split(staged.held)
            for at in range(0, len(held), WINDOW):
                count += await self._send_window(subject, held[at:at + WINDOW])
            return count
        handle: BinaryIO = await asyncio.to_thread(staged.path.open, "rb")
        try:
            # A window's chunks a thread hop.
            while chunks := await asyncio.to_thread(_read_chunks, handle, WINDOW):
                count += await self._send_window(subject, chunks)
        finally:
            handle.close()
        return count

    async def _send_window(self, subject: str, chunks: list[bytes]) -> int:
        acks = [await self.jetstream.publish_async(subject, chunk, stream=self._stream) for chunk in chunks]
        try:
            # nats-py's ack futures have no timeout: one whose answer died with a node never comes.
            await asyncio.wait_for(asyncio.gather(*acks), self.settings.patience)
        except TimeoutError:
            raise LogUnavailable(f"chunks not acknowledged within {self.settings.patience:g} s") from None
        return len(chunks)

    async def _fetch(self, sha256: str) -> Path:
        found = await self._meta(sha256)
        if found is None or found.meta.deleted:
            raise FileNotFoundError(f"no blob {sha256}")
        subject = self._chunk_subject(found.meta.nuid)
        digest = hashlib.sha256()
        held: list[bytes] = []
        download = self._cache.download(sha256)
        try:
            seq = 0
            for _ in range(found.meta.chunks):
                seq, data = await self._chunk_after(subject, seq)
                digest.update(data)
                held.append(data)
                # Up to a window in memory, then written out in one thread hop: a small blob is written once.
                if len(held) >= WINDOW:
                    await asyncio.to_thread(download.write, held)
                    held = []
            # What the meta says the bytes hash to, and for content-addressed bytes their name too.
            read = digest.hexdigest()
            if _digest(read) != found.meta.digest or (self._names is None and read != sha256):
                raise OSError(f"{sha256} read back as other bytes")
            return await asyncio.to_thread(download.finish, held)
        except BaseException:
            download.abort()
            raise

    async def _chunk_after(self, subject: str, seq: int) -> tuple[int, bytes]:
        """The sequence and bytes of the first chunk on `subject` after `seq`."""
        try:
            # Any replica may answer a direct get, and sends the bytes as they are.
            message = await self.jetstream.get_msg(self._stream, seq=seq + 1, subject=subject, next=True, direct=True)
        except js_errors.NotFoundError:
            # A replica behind the leader: ask the leader.
            message = await self.jetstream.get_msg(self._stream, seq=seq + 1, subject=subject, next=True)
        assert message.seq is not None
        return message.seq, message.data or b""

    def _now(self) -> str:
        return datetime.datetime.fromtimestamp(self.clock(), datetime.UTC).isoformat()

    def _meta_subject(self, sha256: str) -> str:
        return f"$O.{self.settings.bucket}.M.{base64.urlsafe_b64encode(sha256.encode()).decode()}"

    def _chunk_subject(self, nuid: str) -> str:
        return f"$O.{self.settings.bucket}.C.{nuid}"


def _digest(sha256: str) -> str:
    return "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode()


def _seconds(mtime: str) -> float:
    try:
        return datetime.datetime.fromisoformat(mtime).timestamp()
    except ValueError:
        return 0.0


def _split(data: bytes) -> list[bytes]:
    """Bytes held in memory as the object store's chunks: none for no bytes, as its clients write them."""
    if len(data) <= CHUNK_BYTES:
        return [data] if data else []
    view = memoryview(data)
    return [bytes(view[at:at + CHUNK_BYTES]) for at in range(0, len(data), CHUNK_BYTES)]


def _read_chunks(handle: BinaryIO, most: int) -> list[bytes]:
    chunks: list[bytes] = []
    while len(chunks) < most and (chunk := handle.read(CHUNK_BYTES)):
        chunks.append(chunk)
    return chunks
