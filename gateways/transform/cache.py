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
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import msgspec

from core.metrics import Metrics
from gateways.transform.params import Variant
from gateways.transform.render import RENDER_VERSION, render


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
        answers: int = 64 << 20, metrics: Metrics | None = None,
    ) -> None:
        self._root = root
        self._metrics = metrics
        self._hits = metrics.variants.labels("hit") if metrics is not None else None
        # Answers by request, in front of the variants by digest below; both mostly hold the same
        # bytes objects, so together they take little more than the larger budget.
        self.answers = Answers(answers, largest)
        # The most recently served variants also stay in memory, up to `memory` bytes: a hit then
        # costs no trip to a thread for the file, which is most of the cost of a cached answer.
        # Variants over `largest` bytes are not kept, so that a few big ones cannot push out many.
        self._memory = memory
        self._largest = largest
        self._hot: OrderedDict[str, bytes] = OrderedDict()
        self._hot_bytes = 0
        # Renders queue here rather than in the shared thread pool, where they could starve
        # every other off-loop job of the process. One per core: a render is mostly one
        # single-threaded decode, so fewer slots leave cores idle under load.
        self._slots = asyncio.Semaphore(concurrency or (os.cpu_count() or 1))
        self._running: dict[str, asyncio.Task[bytes]] = {}
        # How many variants this process has rendered: a cache hit leaves it unchanged.
        self.renders = 0

    def forget(self, blobs: frozenset[str]) -> None:
        """Drops the answers made for these blobs: their media rows changed."""
        self.answers.forget(blobs)

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
        return self._root / key.blob[:2] / key.blob / f"{digest}.{key.variant.format}"

    async def get(self, key: Key, source: Path, *, smaller: tuple[Path, ...] = (), digest: str = "") -> bytes:
        """The variant's bytes, rendered from `source` (or one of `smaller`) if no file holds them yet.

        `digest`: the key's, when the caller has it already."""
        digest = digest or key.digest
        hot = self._hot.get(digest)
        if hot is not None:
            self._hot.move_to_end(digest)
            self.hit()
            return hot
        path = self._path(key, digest)
        cached = await asyncio.to_thread(_read, path)
        if cached is not None:
            self._remember(digest, cached)
            self.hit()
            return cached
        self.count("miss")
        rendering = self._running.get(digest)
        if rendering is None:
            rendering = asyncio.create_task(self._render(key, source, smaller, path))
            self._running[digest] = rendering
            rendering.add_done_callback(lambda done: self._finished(digest, done))
        # Shielded: a client that hangs up must not cancel the render others are waiting for.
        return await asyncio.shield(rendering)

    def _finished(self, digest: str, rendered: asyncio.Future[bytes]) -> None:
        self._running.pop(digest, None)
        if rendered.cancelled():
            return
        # Marks a failure as seen even when every waiter has gone; waiters still get it raised.
        if rendered.exception() is None:
            self._remember(digest, rendered.result())

    def _remember(self, digest: str, data: bytes) -> None:
        if len(data) > self._largest or digest in self._hot:
            return
        self._hot[digest] = data
        self._hot_bytes += len(data)
        while self._hot_bytes > self._memory:
            _, dropped = self._hot.popitem(last=False)
            self._hot_bytes -= len(dropped)

    async def _render(self, key: Key, source: Path, smaller: tuple[Path, ...], path: Path) -> bytes:
        async with self._slots:
            data = await asyncio.to_thread(render, source, key.variant, smaller=smaller)
        # Written once the slot is free: waiting on the disk is no reason to keep the next render from a core.
        await asyncio.to_thread(_write, path, data)
        self.renders += 1
        return data

    async def close(self) -> None:
        """Waits for renders under way: their threads cannot be stopped, only waited for."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
