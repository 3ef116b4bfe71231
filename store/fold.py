"""Folding a whole log into a projection nothing else uses yet.

A live feed applies on the projection's writer thread so that the event loop keeps serving. A rebuild
serves nothing, and there two threads of one process only take turns on the interpreter lock: each
socket read of the reader and each SQLite step of the writer lets go of it and then waits up to a
switch interval to win it back from the other. So a short log is read, planned and applied on the
event loop's thread, one list after the other.

A long one is applied apart: this process reads, decodes and plans each list, and a second process
(`python -m store.fold`, which imports nothing of the project) runs the statements of the list
before. The two share no lock, so on two cores SQLite's time hides behind the reading and planning.
The statements cross a pipe as MessagePack, which writes in half the time pickle takes and reads in
the same; every parameter is a str, int, float or None, which it carries unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import os
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from core.log import EventLog, Record
    from store.projection import Projection

# Records per list and transaction: a live feed's biggest.
BATCH = 5_000
# Records from which a fold is applied apart: below it, starting the second process costs more than
# the overlap saves.
APART = 20_000
# Lists handed to the second process and not yet taken off the pipe by it, at most.
AHEAD = 2
# A frame's length, and an acknowledged checkpoint.
WORD = struct.Struct("<Q")


class ApplyFailed(Exception):
    """The second process stopped before it had applied every list."""


async def fold(events: EventLog, projection: Projection, *, on_batch: Callable[[int], None] | None = None,
               batch: int = BATCH, apart: int = APART) -> int:
    """Apply the log from the projection's checkpoint to the head as of the call; returns the checkpoint.

    Each list is one transaction with its checkpoint, as `Projection.apply` makes it, so a fold that
    stops part way resumes from where it stopped. The event loop is blocked while a list is planned
    (a tenth of a second or so): call it only where nothing else needs the loop meanwhile.
    `apart`: the records to fold from which the statements run in a second process.
    """
    lists = events.read_batches(projection.applied + 1, follow=False, size=batch)
    try:
        with _no_collections():
            behind = await events.last_seq() - projection.applied
            if projection.apart and behind > 0 and behind >= apart:
                await _fold_apart(lists, projection, on_batch)
            else:
                async for records in lists:
                    applied = projection.apply_here(records)
                    if on_batch is not None:
                        on_batch(applied)
    finally:
        await lists.aclose()
    return projection.applied


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """The cyclic collector paused, and put back as it was after: a fold makes a few dicts and lists
    per change and no cycles, and the collections their numbers set off cost a fifth of its time
    while finding nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _fold_apart(lists: AsyncGenerator[list[Record], None], projection: Projection,
                      on_batch: Callable[[int], None] | None) -> None:
    child = _Applier(projection.path, projection.applied)
    try:
        after = projection.applied
        async for records in lists:
            last, statements = projection.plan(records, after)
            if last > after:
                await child.send(after, last, statements)
                after = last
            for applied in child.acknowledged():
                projection.applied = applied
                if on_batch is not None:
                    on_batch(applied)
        for applied in await child.finish(after):
            projection.applied = applied
            if on_batch is not None:
                on_batch(applied)
    finally:
        child.stop()
        # Whatever the second process committed, acknowledged or not, is where a resumed fold begins.
        projection.reload()


class _Applier:
    """The second process, the thread that writes lists to it and the one that reads its answers."""

    def __init__(self, path: Path, applied: int) -> None:
        from store.projection import BUILD_CACHE_KIB, CHECKPOINT

        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        # The table and the page cache as arguments: the process imports nothing of the project.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "store.fold", str(path), CHECKPOINT, str(BUILD_CACHE_KIB)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        # The checkpoint acknowledged last.
        self.last = applied
        self._encode = msgspec.msgpack.Encoder().encode
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold-apart")
        self._sending: collections.deque[asyncio.Future[None]] = collections.deque()
        self._acks: collections.deque[int] = collections.deque()
        self._reader = threading.Thread(target=self._read_acks, name="fold-apart-acks", daemon=True)
        self._reader.start()

    def _read_acks(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        while len(word := stdout.read(WORD.size)) == WORD.size:
            # deque.append is atomic: the event loop's thread takes them off without a lock.
            self._acks.append(WORD.unpack(word)[0])

    async def send(self, after: int, last: int, statements: list[Any]) -> None:
        frame = self._encode((after, last, statements))
        while len(self._sending) >= AHEAD:
            await self._sending.popleft()
        stdin = self._process.stdin
        assert stdin is not None
        self._sending.append(asyncio.get_running_loop().run_in_executor(
            self._writer, _write, stdin, WORD.pack(len(frame)) + frame))

    def acknowledged(self) -> Iterator[int]:
        while self._acks:
            self.last = self._acks.popleft()
            yield self.last

    async def finish(self, last: int) -> list[int]:
        """Every checkpoint acknowledged from here on, once the process has applied up to `last` and exited."""
        while self._sending:
            await self._sending.popleft()
        stdin = self._process.stdin
        assert stdin is not None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, stdin.close)
        code = await loop.run_in_executor(self._writer, self._process.wait)
        await loop.run_in_executor(self._writer, self._reader.join)
        acks = list(self.acknowledged())
        if code != 0 or self.last != last:
            stderr = self._process.stderr
            why = stderr.read().decode(errors="replace").strip() if stderr is not None else ""
            raise ApplyFailed(f"the applying process exited with {code} before sequence {last}: {why}")
        return acks

    def stop(self) -> None:
        """Ends the process if it still runs: a list it was applying is rolled back with its transaction."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._writer.shutdown(wait=True)
        for sending in self._sending:
            # Failed once the process was gone, which the caller already hears of otherwise.
            if sending.done() and not sending.cancelled():
                sending.exception()
            else:
                sending.cancel()
        self._reader.join()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _write(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except BrokenPipeError as exc:
        # The process is gone; `finish` or `stop` says why.
        raise ApplyFailed("the applying process stopped reading") from exc


def apply_apart(path: str, checkpoint: str, cache_kib: int) -> None:
    """The second process: each frame (after, last, statements) from stdin in one transaction with the
    `checkpoint` table's sequence, which it writes to stdout once committed."""
    gc.disable()
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=512)
    conn.execute("PRAGMA busy_timeout=5000")
    # As the projection builds: nothing reads the file yet, and its close makes it durable.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(f"PRAGMA cache_size=-{cache_kib}")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    decode = msgspec.msgpack.Decoder().decode
    try:
        while len(word := stdin.read(WORD.size)) == WORD.size:
            after, last, statements = decode(stdin.read(WORD.unpack(word)[0]))
            conn.execute("BEGIN IMMEDIATE")
            try:
                (current,) = conn.execute(f"SELECT seq FROM {checkpoint} WHERE id = 1").fetchone()
                if current != after:
                    raise ApplyFailed(f"planned from sequence {after}, but the file is at {current}")
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute(f"UPDATE {checkpoint} SET seq = ? WHERE id = 1", (last,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            stdout.write(WORD.pack(last))
            stdout.flush()
    finally:
        conn.close()


if __name__ == "__main__":
    apply_apart(sys.argv[1], sys.argv[2], int(sys.argv[3]))
