"""3. Ingest: 100 KB JPEGs at concurrency 16 to POST /api/v2/media answering 202, against a bare endpoint."""

from __future__ import annotations

import asyncio
import itertools
import time

import aiohttp

from bench import corpus, procfs, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict

CONCURRENCY = 16
# Ingest within reach of HTTP and multipart alone, every check and the fsync before the append kept.
RATE_GOAL = 0.35
P99_GOAL = 3.0
# Server CPU seconds per upload, every check and sync included.
CPU_GOAL = 0.0015


async def blast(
    session: aiohttp.ClientSession, endpoint: servers.Endpoint, payloads: list[bytes]
) -> tuple[float, list[float]]:
    """Wall time and per-request latencies of sending every payload, CONCURRENCY at a time."""
    pending = iter(payloads)
    latencies: list[float] = []

    async def worker() -> None:
        for data in pending:
            started = time.perf_counter()
            status, body = await servers.post_media(session, endpoint, "v2", data)
            latencies.append(time.perf_counter() - started)
            if status != 202:
                raise CouldNotMeasure(f"POST /api/v2/media answered {status} {body}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started, latencies


async def measure(settings: Settings) -> Outcome:
    original = corpus.jpeg(settings.work / "100kb.jpg", corpus.photo(640, 480, 31)).read_bytes()
    total = settings.scaled(800, 160)
    serial = itertools.count()

    def payloads(n: int) -> list[bytes]:
        return [corpus.variant(original, next(serial)) for _ in range(n)]

    # (uploads per second, p99 seconds, the server's CPU seconds per upload) of each run.
    ours: list[tuple[float, float, float]] = []
    bare: list[tuple[float, float, float]] = []
    async with (
        # Each server in a child process, so the client here shares neither's interpreter and the CPU
        # counted is the server's own. No processor: it would compete for the same two cores, and
        # processing is measured in 1.
        servers.ChildServer(settings.work / "data", v2_sync_wait=0.0, processor=False) as child,
        servers.ChildServer(settings.work, task=["multipart"]) as reference_child,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        endpoint = child.endpoint
        reference = servers.Endpoint(reference_child.endpoint.url, endpoint.token)
        await blast(session, endpoint, payloads(2 * CONCURRENCY))
        await blast(session, reference, payloads(2 * CONCURRENCY))
        for run in range(settings.runs):
            sides = [(endpoint, child.pid, ours), (reference, reference_child.pid, bare)]
            for target, pid, results in sides if run % 2 == 0 else reversed(sides):
                began = procfs.cpu_seconds(pid)
                seconds, latencies = await blast(session, target, payloads(total))
                results.append((total / seconds, stats.percentile(latencies, 99),
                                (procfs.cpu_seconds(pid) - began) / total))
    size = len(original) / 1000
    rate_ratio = stats.median([r / b for (r, _, _), (b, _, _) in zip(ours, bare, strict=True)])
    p99_ratio = stats.median([r / b for (_, r, _), (_, b, _) in zip(ours, bare, strict=True)])
    cpu = stats.median([c for _, _, c in ours])
    bare_cpu = stats.median([c for _, _, c in bare])

    def served(side: list[tuple[float, float, float]]) -> str:
        rate, each = stats.median([r for r, _, _ in side]), stats.median([c for _, _, c in side])
        return f"{stats.rate(rate, 'uploads/s')} ({each * 1e3:.2f} ms CPU each)"

    rows = [
        Row(
            key="3a",
            what=f"Ingest: POST /api/v2/media (202 after the append), {size:.0f} KB JPEGs, concurrency {CONCURRENCY}, "
                 f"{total} uploads per run, server in a child process",
            result=served(ours),
            reference=f"bare aiohttp endpoint discarding the multipart body: {served(bare)}",
            ratio=stats.ratio(rate_ratio),
            goal=f"≥ {RATE_GOAL}x bare",
            verdict=verdict(rate_ratio >= RATE_GOAL),
        ),
        Row(
            key="3b",
            what="Ingest: p99 latency of the same uploads",
            result=stats.seconds(stats.median([p for _, p, _ in ours])),
            reference=f"bare endpoint: {stats.seconds(stats.median([p for _, p, _ in bare]))}",
            ratio=stats.ratio(p99_ratio),
            goal=f"≤ {P99_GOAL}x bare",
            verdict=verdict(p99_ratio <= P99_GOAL),
        ),
        Row(
            key="3c",
            what="Ingest: the server process's CPU time (user and system) per upload, the same uploads",
            result=f"{cpu * 1e3:.2f} ms",
            reference=f"bare endpoint: {bare_cpu * 1e3:.2f} ms",
            ratio=stats.ratio(cpu / bare_cpu if bare_cpu else 0.0),
            goal=f"≤ {CPU_GOAL * 1e3:.1f} ms",
            verdict=verdict(cpu <= CPU_GOAL),
        ),
    ]
    return Outcome(rows=rows)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
