"""12. Blob stores: committing and reading blobs in the object store, beside the filesystem store and
beside bare nats-py object puts and gets of the same bytes on the same broker, in the same run; and
reading renditions of the same sizes from the renditions bucket, as a gateway without a copy does.

Committing goes through the port as an upload does (staged, held in memory up to 1 MiB and past that
in a temp file, then committed); reading
is `local()` on a host that has no copy yet, as a processor or gateway elsewhere reads a blob. The
bare side is nats-py's own `ObjectStore.put` of the same bytes and `get` into a file.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
from nats.js import JetStreamContext

from bench import stats
from bench.common import Outcome, Row, Settings, verdict
from core.broker import EmbeddedBroker
from core.jetstream import connect
from core.ports import RENDITION_NAMES, BlobStore, rendition_name
from store.blobs import FileBlobStore
from store.derivedfiles import ObjectDerivedFiles
from store.objectblobs import BucketSettings, ObjectBlobStore

GOAL = 0.8
CONCURRENCY = 8
SIZES = {"95 KB": 95_000, "8 MB": 8_000_000}


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _timed(count: int, work: Callable[[int], Awaitable[object]]) -> float:
    """Items a second of `work(i)` for i < count, CONCURRENCY at a time."""
    pending = iter(range(count))

    async def worker() -> None:
        for index in pending:
            await work(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def _commit_all(store: BlobStore, datas: list[bytes]) -> float:
    async def commit(index: int) -> None:
        data = datas[index]
        await store.commit(await store.receive(_one(data), limit=len(data)))

    return await _timed(len(datas), commit)


class Run(msgspec.Struct):
    """Blobs a second of one run: commits (ours, bare put, the filesystem store), then reads (ours, bare get)."""

    ours: float
    bare: float
    files: float
    reads: float
    bare_reads: float
    # Renditions fetched by name from a bucket of derived files, into a fresh renditions directory.
    fetches: float


async def one_run(js: JetStreamContext, work: Path, size: int, count: int, first_ours: bool) -> Run:
    datas = [os.urandom(size) for _ in range(count)]
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    store = ObjectBlobStore(js, work / f"cache-{bucket}", BucketSettings(bucket=bucket))
    await store.open()
    plain = await js.create_object_store(f"bare-{bucket}")
    names = [f"bare-{i}" for i in range(count)]

    async def bare_put(index: int) -> None:
        await plain.put(names[index], io.BytesIO(datas[index]))

    async def ours_commit() -> float:
        return await _commit_all(store, datas)

    async def bare_commit() -> float:
        return await _timed(count, bare_put)

    if first_ours:
        ours, bare = await ours_commit(), await bare_commit()
    else:
        bare, ours = await bare_commit(), await ours_commit()
    files = await _commit_all(FileBlobStore(work / f"files-{bucket}"), datas)

    shas = [name for name, _ in await store.stored()]
    reader = ObjectBlobStore(js, work / f"reader-{bucket}", BucketSettings(bucket=bucket))
    out = work / f"out-{bucket}"
    out.mkdir()

    async def read(index: int) -> None:
        await reader.local(shas[index])

    async def bare_get(index: int) -> None:
        with (out / names[index]).open("wb") as handle:
            await plain.get(names[index], writeinto=handle)

    if first_ours:
        reads, bare_reads = await _timed(count, read), await _timed(count, bare_get)
    else:
        bare_reads, reads = await _timed(count, bare_get), await _timed(count, read)

    derived = BucketSettings(bucket=f"{bucket}-renditions", names=RENDITION_NAMES, keep_held=True)
    keeping = ObjectDerivedFiles(ObjectBlobStore(js, work / f"keep-{bucket}", derived, cache=work / f"made-{bucket}"))
    await keeping.open()
    renditions = [rendition_name(sha, 1, "small.jpg") for sha in shas]
    for name, data in zip(renditions, datas, strict=True):
        await keeping.keep_bytes(name, data)
    gateway = ObjectDerivedFiles(ObjectBlobStore(js, work / f"gateway-{bucket}", derived,
                                                 cache=work / f"renditions-{bucket}"))

    async def fetch(index: int) -> None:
        await gateway.fetch(renditions[index])

    fetches = await _timed(count, fetch)
    for stream in (bucket, f"bare-{bucket}", derived.bucket):
        await js.delete_stream(f"OBJ_{stream}")
    return Run(ours, bare, files, reads, bare_reads, fetches)


async def measure(settings: Settings) -> Outcome:
    broker = EmbeddedBroker(settings.work / "nats", settings.work / "run")
    url = await broker.start()
    client = await connect([url], name="bench-blobs")
    rows: list[Row] = []
    fetched: list[Row] = []
    key = iter("abcdefgh")
    fetch_key = iter("ef")
    try:
        for label, size in SIZES.items():
            small = size < 1_000_000
            count = settings.scaled(400 if small else 24, 80 if small else 8)
            runs = [await one_run(client.jetstream(), settings.work, size, count, run % 2 == 0)
                    for run in range(settings.runs)]
            put_ratio = stats.median([r.ours / r.bare for r in runs])
            get_ratio = stats.median([r.reads / r.bare_reads for r in runs])

            def rate(values: list[float], unit: str = "blobs/s") -> str:
                return stats.rate(stats.median(values), unit)

            rows.append(Row(
                key=f"12{next(key)}",
                what=f"Blob commit into the object store, {label} blobs, {count} per run, concurrency {CONCURRENCY} "
                     f"(the filesystem store: {rate([r.files for r in runs])})",
                result=rate([r.ours for r in runs]),
                reference=f"bare nats-py ObjectStore.put of the same bytes: {rate([r.bare for r in runs])}",
                ratio=stats.ratio(put_ratio), goal=f"≥ {GOAL}x bare", verdict=verdict(put_ratio >= GOAL)))
            rows.append(Row(
                key=f"12{next(key)}",
                what=f"Blob read from the object store into a host without a copy, {label} blobs, digest checked",
                result=rate([r.reads for r in runs]),
                reference=f"bare nats-py ObjectStore.get into a file: {rate([r.bare_reads for r in runs])}",
                ratio=stats.ratio(get_ratio), goal=f"≥ {GOAL}x bare", verdict=verdict(get_ratio >= GOAL)))
            fetch_ratio = stats.median([r.fetches / r.bare_reads for r in runs])
            fetched.append(Row(
                key=f"12{next(fetch_key)}",
                what=f"Rendition read from the renditions bucket into a gateway without a copy, {label} files, "
                     "by name, digest checked",
                result=rate([r.fetches for r in runs], "files/s"),
                reference=f"bare nats-py ObjectStore.get into a file: {rate([r.bare_reads for r in runs])}",
                ratio=stats.ratio(fetch_ratio), goal=f"≥ {GOAL}x bare", verdict=verdict(fetch_ratio >= GOAL)))
        rows += fetched
    finally:
        await client.close()
        await broker.stop()
    return Outcome(rows=rows, notes=[
        "Blob stores (12a to 12d): one embedded nats-server (R1, file storage) on loopback; each run uses fresh "
        "buckets, and the sides take turns going first. The object store commits through the same port as "
        "an upload (staged: 95 KB held in memory and not written on the committing host, 8 MB spooled to a temp "
        "file; then a conditional meta after the chunks); the bare put is unconditional. "
        "Reads fetch into a fresh local cache and check the digest; nats-py's get checks it too. Rendition "
        "reads (12e, 12f) fetch files a processor kept by name (`<sha256>/v1/small.jpg`) into a fresh renditions "
        "directory, against the same run's bare gets."])


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
