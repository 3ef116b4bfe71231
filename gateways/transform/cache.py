"""Transformed images on disk, each rendered once.

A variant's file name is a digest of everything its bytes depend on: the renderer version, the
blob, the source rendition and the normalized parameters. Files are written to a temporary name
and renamed into place, so a crash never leaves half a file under a real name and two processes
rendering the same variant at once both leave the same whole file. Within a process, concurrent
requests for one missing variant share a single render.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from core.jetstream import LEADERLESS
from core.log import LogUnavailable
from core.metrics import Metrics
from core.ports import DerivedFiles
from gateways.kit.kept import Kept
from gateways.transform.params import MAX_SIDE, Variant
from gateways.transform.render import RENDER_VERSION, Sizes, render

log = logging.getLogger(__name__)


# Render threads per slot (per core by default); see VariantCache.
THREADS_PER_SLOT = 4
# Outputs above this many pixels (or of unknown size) are heavy: they hold more memory while rendered.
HEAVY_PIXELS = 2_000_000


def heavy(variant: Variant) -> bool:
    """Whether a render may take much memory or time: AVIF, large or unknown sizes, a smart crop."""
    if variant.format == "avif" or variant.crop in ("entropy", "edges"):
        return True
    if variant.width is None or variant.height is None:
        # The other side follows the source's aspect, so it can be as large as MAX_SIDE.
        side = variant.width or variant.height
        return side is None or side * MAX_SIDE > HEAVY_PIXELS
    return variant.width * variant.height > HEAVY_PIXELS


class Key(msgspec.Struct, frozen=True):
    """What a variant's bytes are a function of; `source` names the rendition, e.g. v2/original.jpg."""

    blob: str
    source: str
    variant: Variant

    @property
    def digest(self) -> str:
        # msgspec encodes Struct fields in their declared order, which makes this canonical.
        return hashlib.sha256(msgspec.json.encode((RENDER_VERSION, self))).hexdigest()


class Answer(msgspec.Struct, frozen=True, gc=False):
    """A public variant's answer as the request that made it was given: bytes and headers."""

    blob: str
    body: bytes
    # Those of a 304 (validators and caching), those of the 200 (Content-Type too), and the 200's as
    # an answer that takes ranges sends them.
    unchanged: dict[str, str]
    headers: dict[str, str]
    ranged: dict[str, str]


# What an answer is found by: the request's path and query as sent, and its Accept header.
AnswerKey = tuple[str, str]
# What an answer costs besides its body (its key, headers and entries), counted against the budget so
# that many small variants cannot hold much more memory than it says.
ANSWER_OVERHEAD = 1024


class Answers:
    """The latest answers to variant requests, by request, up to `budget` bytes of bodies.

    A hit is a dictionary lookup: the URL was checked (its signature too) and the projection asked
    when the answer was made, and the projection tells `forget` of every blob whose media rows change
    after that, so whatever would have made the answer different (a delete, a focus point, who may see
    it) takes it out first. Private answers (an unposted pump.io upload's) are never kept.
    """

    def __init__(self, budget: int, largest: int = 1 << 20) -> None:
        self._budget = budget
        self._largest = largest
        self._kept: OrderedDict[AnswerKey, Answer] = OrderedDict()
        self._by_blob: dict[str, set[AnswerKey]] = {}
        self._bytes = 0
        # Bumped by each `forget`: an answer made from what was read before one is not kept.
        self.forgotten = 0

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: AnswerKey) -> Answer | None:
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def keep(self, key: AnswerKey, answer: Answer, *, since: int) -> None:
        """Keep `answer` unless a blob was forgotten after `since` (`forgotten` when its reads began)."""
        size = len(answer.body) + ANSWER_OVERHEAD
        if since != self.forgotten or len(answer.body) > self._largest or size > self._budget:
            return
        self._drop(key)
        self._kept[key] = answer
        self._by_blob.setdefault(answer.blob, set()).add(key)
        self._bytes += size
        while self._bytes > self._budget:
            self._drop(next(iter(self._kept)))

    def forget(self, blobs: frozenset[str]) -> None:
        self.forgotten += 1
        for blob in blobs:
            for key in self._by_blob.get(blob, set()).copy():
                self._drop(key)

    def _drop(self, key: AnswerKey) -> None:
        answer = self._kept.pop(key, None)
        if answer is None:
            return
        self._bytes -= len(answer.body) + ANSWER_OVERHEAD
        keys = self._by_blob[answer.blob]
        keys.discard(key)
        if not keys:
            del self._by_blob[answer.blob]


class VariantCache:
    def __init__(
        self, root: Path, *, concurrency: int | None = None, memory: int = 64 << 20, largest: int = 1 << 20,
        answers: int = 64 << 20, metrics: Metrics | None = None, shared: DerivedFiles | None = None,
    ) -> None:
        """`shared`: where variants are kept for every host to read, laid out as `root` is; None: on this
        host alone, under `root`."""
        self._root = root
        self._shared = shared
        self._metrics = metrics
        self._hits = metrics.variants.labels("hit") if metrics is not None else None
        # Answers by request, in front of the variants by digest below; both mostly hold the same
        # bytes objects, so together they take little more than the larger budget.
        self.answers = Answers(answers, largest)
        # What the projection says of each blob served lately (gateways.transform.source.Shown): a
        # request for a variant of it needs no trip to a reader thread and SQLite.
        self.shown: Kept[Any] = Kept()
        # The most recently served variants also stay in memory, up to `memory` bytes: a hit then
        # costs no trip to a thread for the file, which is most of the cost of a cached answer.
        # Variants over `largest` bytes are not kept, so that a few big ones cannot push out many.
        self._memory = memory
        self._largest = largest
        self._hot: OrderedDict[str, bytes] = OrderedDict()
        self._hot_bytes = 0
        # Renders queue in a pool of their own rather than in the shared one, where they could starve
        # every other off-loop job of the process. A thread that finishes a render takes the next one
        # queued at once, with no trip through the event loop, so no core waits while the loop is busy
        # (or waiting for the GIL) between two renders. Several threads per core: a small variant's
        # render is short, partly Python and partly a single-threaded decode, and with one thread per
        # core the cores idle in between, and lose their share to any other process on the machine.
        # Heavy renders (large outputs, AVIF) take one of `concurrency` slots as well, one per core by
        # default, so that several of them at once cannot take the memory of many.
        cores = concurrency or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(cores * THREADS_PER_SLOT, thread_name_prefix="variant")
        self._heavy = threading.BoundedSemaphore(cores)
        # A render's future, from its start until its file is written: later requests join it.
        self._running: dict[str, asyncio.Future[bytes]] = {}
        self._sizes = Sizes()
        self._writes: set[asyncio.Future[object]] = set()
        # How many variants this process has rendered: a cache hit leaves it unchanged.
        self.renders = 0

    def forget(self, blobs: frozenset[str]) -> None:
        """Drops the answers made for these blobs and what was read of them: their media rows changed."""
        self.answers.forget(blobs)
        self.shown.forget(blobs)

    def count(self, result: str) -> None:
        """Counts a lookup: "hit" or "miss"."""
        if self._metrics is not None:
            self._metrics.variants.labels(result).inc()

    def hit(self) -> None:
        """Counts a hit; the counter is looked up once, as a hit is worth a few microseconds."""
        if self._hits is not None:
            self._hits.inc()

    def path(self, key: Key) -> Path:
        return self._path(key, key.digest)

    def _path(self, key: Key, digest: str) -> Path:
        return self._root / key.blob[:2] / _name(key, digest)

    async def get(self, key: Key, source: Path, *, smaller: tuple[Path, ...] = (), digest: str = "") -> bytes:
        """The variant's bytes, rendered from `source` (or one of `smaller`) if no file holds them yet.

        `digest`: the key's, when the caller has it already."""
        digest = digest or key.digest
        hot = self._hot.get(digest)
        if hot is not None:
            self._hot.move_to_end(digest)
            self.hit()
            return hot
        rendering = self._running.get(digest)
        if rendering is None:
            path = self._path(key, digest)
            # A stat costs microseconds on the loop, where a read that finds nothing costs a trip to a
            # thread and back: an uncached request goes straight to its render.
            found = path if self._shared is None else await self._fetch(_name(key, digest))
            if found is not None and found.exists():
                cached = await asyncio.to_thread(_read, found)
                if cached is not None:
                    self._remember(digest, cached)
                    self.hit()
                    return cached
            rendering = self._running.get(digest) or self._start(key, source, smaller, path, digest)
        self.count("miss")
        # Shielded: a client that hangs up must not cancel the render others are waiting for.
        return await asyncio.shield(rendering)

    async def _fetch(self, name: str) -> Path | None:
        assert self._shared is not None
        try:
            return await self._shared.fetch(name)
        except (LogUnavailable, *LEADERLESS):
            # The source is on this host: rendering it here answers while the broker is away.
            return None

    def _start(self, key: Key, source: Path, smaller: tuple[Path, ...], path: Path,
               digest: str) -> asyncio.Future[bytes]:
        rendering = asyncio.get_running_loop().run_in_executor(
            self._pool, partial(self._render, source, key.variant, smaller))
        self._running[digest] = rendering
        rendering.add_done_callback(lambda done: self._rendered(digest, path, done, name=_name(key, digest)))
        return rendering

    def _render(self, source: Path, variant: Variant, smaller: tuple[Path, ...]) -> bytes:
        if not heavy(variant):
            return render(source, variant, smaller=smaller, sizes=self._sizes)
        with self._heavy:
            return render(source, variant, smaller=smaller, sizes=self._sizes)

    def _rendered(self, digest: str, path: Path, rendered: asyncio.Future[bytes], *, name: str) -> None:
        # Marks a failure as seen even when every waiter has gone; waiters still get it raised.
        if rendered.cancelled() or rendered.exception() is not None:
            self._running.pop(digest, None)
            return
        data = rendered.result()
        self.renders += 1
        self._remember(digest, data)
        # The requests waiting have their bytes now; the file is written after, on the shared pool, so
        # that neither they nor the next render wait on the disk. Until the file is in place, requests
        # for the same variant join this render rather than render it again.
        writing: asyncio.Future[object]
        if self._shared is None:
            writing = asyncio.get_running_loop().run_in_executor(None, _write, path, data)
        else:
            # Kept for every host, and in this host's copies, at `path`.
            writing = asyncio.ensure_future(self._shared.keep_bytes(name, data))
        self._writes.add(writing)
        writing.add_done_callback(lambda done: self._written(digest, path, rendered, done))

    def _written(self, digest: str, path: Path, rendered: asyncio.Future[bytes],
                 writing: asyncio.Future[object]) -> None:
        self._writes.discard(writing)
        if self._running.get(digest) is rendered:
            del self._running[digest]
        if not writing.cancelled() and (error := writing.exception()) is not None:
            # Only the copy on disk is lost: the bytes were answered, and a later miss renders them again.
            log.warning("variant %s could not be written: %s", path, error)

    def _remember(self, digest: str, data: bytes) -> None:
        if len(data) > self._largest or digest in self._hot:
            return
        self._hot[digest] = data
        self._hot_bytes += len(data)
        while self._hot_bytes > self._memory:
            _, dropped = self._hot.popitem(last=False)
            self._hot_bytes -= len(dropped)

    async def written(self) -> None:
        """Waits until the file of every variant rendered so far is in place, synced to the disk."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def close(self) -> None:
        """Waits for renders under way and their files: their threads cannot be stopped, only waited for."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        await self.written()
        self._pool.shutdown(wait=False)


def _name(key: Key, digest: str) -> str:
    """The variant's name among derived files, and its path under the variants directory after NN/."""
    return f"{key.blob}/{digest}.{key.variant.format}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


# As tempfile.mkstemp opens its files: a name nobody else has, readable by this user alone until renamed.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _write(path: Path, data: bytes) -> None:
    """Writes `data` to a temporary name beside `path`, syncs it, and renames it into place.

    Plain system calls rather than tempfile and a file object: this runs once per variant rendered,
    and the Python around the calls cost about as much CPU as the calls themselves."""
    name = f"{path.parent}/.{path.stem[:16]}.{os.urandom(6).hex()}.tmp"
    try:
        descriptor = os.open(name, _CREATE, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(name, _CREATE, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
