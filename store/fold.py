"""Folding a whole log into a fresh projection file, with the SQLite side in a process of its own.

In one process the reader (socket, frames, decoding, planning) and the writer thread (SQLite) take
turns on one interpreter lock: each socket read or SQLite step that lets go of it waits up to a switch
interval to win it back from the other thread, which doubled the writer's time. Here the parent reads
the log, decodes it and plans the statements of each list exactly as `Projection.apply` does; the
child runs them with the checkpoint, one transaction per list, takes the digest and makes the file
durable. Each process has a core and an interpreter of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from core.events import Codec
from store import generations
from store.projection import Projection, Statements, digest
from store.readmodel import changes
from store.rebuilds import checkpoint

if TYPE_CHECKING:
    # Only the parent reads the log: the child starts faster without the NATS client.
    from core.jetstream import JetStreamLog

# Records per list and transaction, as a live feed's biggest: small enough that the child starts early
# and the last list follows the head closely.
BATCH = 5_000
# Seconds the child may take to start and open its file, or to finish after the last list.
SETTLE = 120.0


class Planned(msgspec.Struct, tag=True, gc=False):
    """The statements that fold the records `first` to `last`, consecutive, in order."""

    first: int
    last: int
    statements: list[tuple[str, list[Any]]]


class End(msgspec.Struct, tag=True):
    """No more records: put the indexes back, then wait for `Digested`."""


class Digested(msgspec.Struct, tag=True):
    """The parent has read every row: make the file durable and close it."""


class Opened(msgspec.Struct, tag=True):
    applied: int


class Applied(msgspec.Struct, tag=True):
    applied: int


class Written(msgspec.Struct, tag=True):
    """Every list is committed; the indexes are being created again."""

    applied: int


class Done(msgspec.Struct, tag=True):
    """Closed and durable."""


class Failed(msgspec.Struct, tag=True):
    error: str


ToChild = Planned | End | Digested
FromChild = Opened | Applied | Written | Done | Failed


class FoldFailed(Exception):
    """The folding process failed or ended before the file was complete."""


async def fold(events: JetStreamLog, path: Path, *, on_batch: Callable[[int], None] | None = None,
               batch: int = BATCH) -> tuple[int, str]:
    """Fold the log up to its head as of now into the projection file at `path` (a building one).

    Resumes from the file's checkpoint like any projection. Returns (checkpoint, digest) once the file
    is closed and durable.
    """
    # Read here, not from the child, so the log is read and planned while the child starts.
    start = checkpoint(path) + 1
    child, parent_reads, parent_writes = _start(path)
    loop = asyncio.get_running_loop()
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(FromChild)
    # One thread blocks on sends, the other on answers: the event loop stays free for the socket.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fold-pipe")

    async def answer(timeout: float | None) -> FromChild:
        try:
            async with asyncio.timeout(timeout):
                data = await loop.run_in_executor(pool, parent_reads.recv_bytes)
        except EOFError as exc:
            raise FoldFailed(f"the folding process ended (exit code {child.poll()})") from exc
        except TimeoutError as exc:
            raise FoldFailed("the folding process did not answer") from exc
        got = decoder.decode(data)
        if isinstance(got, Failed):
            raise FoldFailed(got.error)
        return got

    async def send(message: ToChild) -> None:
        await loop.run_in_executor(pool, parent_writes.send_bytes, encoder.encode(message))

    async def send_all() -> None:
        lists = events.read_payloads(start, follow=False, size=batch)
        codec = Codec()
        planner = Statements(max_params())
        sending: asyncio.Future[None] | None = None
        try:
            async for seqs, payloads in lists:
                planned = planner.plan(list(map(changes, codec.decode_many(payloads), seqs)))
                data = encoder.encode(Planned(seqs[0], seqs[-1], planned))
                # One list in the pipe while the next is read from the socket and planned.
                if sending is not None:
                    await sending
                sending = loop.run_in_executor(pool, parent_writes.send_bytes, data)
            if sending is not None:
                await sending
            await send(End())
        finally:
            await lists.aclose()

    sender = asyncio.create_task(send_all())
    try:
        opened = await answer(SETTLE)
        if not isinstance(opened, Opened) or opened.applied != start - 1:
            raise FoldFailed(f"{path} changed while the fold started: {opened}")
        while True:
            got = await answer(None)
            if isinstance(got, Applied) and on_batch is not None:
                on_batch(got.applied)
            if isinstance(got, Written):
                break
        await sender
        # The rows are read while the child creates the indexes again; it makes the file durable after.
        applied, digest = await loop.run_in_executor(None, _digest_of, path)
        if applied != got.applied:
            raise FoldFailed(f"digest at {applied}, folded to {got.applied}")
        await send(Digested())
        done = await answer(SETTLE)
        assert isinstance(done, Done)
        return applied, digest
    finally:
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await sender
        if child.poll() is None:
            child.kill()
        # Both ends closed first, so a thread still blocked on the pipe returns at once.
        parent_writes.close()
        parent_reads.close()
        await loop.run_in_executor(None, child.wait)
        pool.shutdown(wait=True)


def max_params() -> int:
    """Parameters a statement may take: the child's SQLite is this interpreter's."""
    conn = sqlite3.connect(":memory:")
    try:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        conn.close()


def _digest_of(path: Path) -> tuple[int, str]:
    conn = sqlite3.connect(path)
    try:
        return digest(conn)
    finally:
        conn.close()


def _start(path: Path) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """The child, on this interpreter, and the parent's ends of its two pipes.

    A plain subprocess rather than multiprocessing's spawn, which would run the parent's main
    script again in the child: that of `python -m bench` or of a test runner, say.
    """
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    # The child finds this code where the parent found it, installed or not.
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys, store.fold; store.fold.main(sys.argv[1:])",
             str(path), str(child_reads), str(child_writes)],
            pass_fds=(child_reads, child_writes), env=env, stdin=subprocess.DEVNULL,
        )
    except BaseException:
        for fd in (parent_writes, parent_reads):
            os.close(fd)
        raise
    finally:
        os.close(child_reads)
        os.close(child_writes)
    return child, Connection(parent_reads, writable=False), Connection(parent_writes, readable=False)


def main(argv: list[str]) -> None:
    """The child: `<path> <fd to read lists from> <fd to answer on>`."""
    path, reads, writes = argv
    _child(path, Connection(int(reads), writable=False), Connection(int(writes), readable=False))


def _child(path: str, inbox: Connection, outbox: Connection) -> None:
    encoder = msgspec.msgpack.Encoder()
    try:
        _fold_here(Path(path), inbox, outbox, encoder)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            outbox.send_bytes(encoder.encode(Failed(f"{type(exc).__name__}: {exc}")))
        except OSError:
            pass  # the parent is gone: nobody is left to tell


def _fold_here(path: Path, inbox: Connection, outbox: Connection, encoder: msgspec.msgpack.Encoder) -> None:
    decoder = msgspec.msgpack.Decoder(ToChild)
    projection = Projection(path, building=generations.building(path))
    applied = projection.open_here()
    outbox.send_bytes(encoder.encode(Opened(applied)))

    def digested() -> None:
        outbox.send_bytes(encoder.encode(Written(projection.applied)))
        if not isinstance(decoder.decode(inbox.recv_bytes()), Digested):
            raise RuntimeError("expected the parent's digest")

    try:
        while True:
            got = decoder.decode(inbox.recv_bytes())
            if isinstance(got, End):
                break
            if isinstance(got, Planned):
                applied = projection.apply_here(got.first, got.last, got.statements)
                outbox.send_bytes(encoder.encode(Applied(applied)))
    except BaseException:
        projection.close_here()
        raise
    projection.close_here(digested)
    outbox.send_bytes(encoder.encode(Done()))
