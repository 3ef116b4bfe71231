"""3. Ingest: 100 KB JPEGs at concurrency 16 to POST /api/v2/media answering 202, against a bare endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bench import corpus, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict

CONCURRENCY = 16
# Ingest within reach of HTTP and multipart alone, every check and the fsync before the append kept.
RATE_GOAL = 0.35
P99_GOAL = 3.0
CHUNK = 256 * 1024


async def discard(request: web.Request) -> web.Response:
    """Reads the whole multipart body and keeps none of it: the cost of HTTP and multipart alone."""
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, aiohttp.BodyPartReader):
            while await part.read_chunk(CHUNK):
                pass
    return web.json_response({"id": "0"}, status=202)


@contextlib.asynccontextmanager
async def reference_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/v2/media", discard)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


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

    rates: list[float] = []
    refs: list[float] = []
    p99s: list[float] = []
    ref_p99s: list[float] = []
    async with (
        # No processor: it would compete for the same two cores, and processing is measured in 1.
        servers.in_process(settings.work / "data", processor=False, v2_sync_wait=0.0) as (_server, endpoint),
        reference_server() as reference_url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        reference = servers.Endpoint(reference_url, endpoint.token)
        await blast(session, endpoint, payloads(2 * CONCURRENCY))
        await blast(session, reference, payloads(2 * CONCURRENCY))
        for run in range(settings.runs):
            sides = [(endpoint, rates, p99s), (reference, refs, ref_p99s)]
            for target, rate_list, p99_list in sides if run % 2 == 0 else reversed(sides):
                seconds, latencies = await blast(session, target, payloads(total))
                rate_list.append(total / seconds)
                p99_list.append(stats.percentile(latencies, 99))
    size = len(original) / 1000
    rate_ratio = stats.median([r / b for r, b in zip(rates, refs, strict=True)])
    p99_ratio = stats.median([r / b for r, b in zip(p99s, ref_p99s, strict=True)])
    rows = [
        Row(
            key="3a",
            what=f"Ingest: POST /api/v2/media (202 after the append), {size:.0f} KB JPEGs, concurrency {CONCURRENCY}, "
                 f"{total} uploads per run",
            result=stats.rate(stats.median(rates), "uploads/s"),
            reference="bare aiohttp endpoint discarding the multipart body: "
                      f"{stats.rate(stats.median(refs), 'uploads/s')}",
            ratio=stats.ratio(rate_ratio),
            goal=f"≥ {RATE_GOAL}x bare",
            verdict=verdict(rate_ratio >= RATE_GOAL),
        ),
        Row(
            key="3b",
            what="Ingest: p99 latency of the same uploads",
            result=stats.seconds(stats.median(p99s)),
            reference=f"bare endpoint: {stats.seconds(stats.median(ref_p99s))}",
            ratio=stats.ratio(p99_ratio),
            goal=f"≤ {P99_GOAL}x bare",
            verdict=verdict(p99_ratio <= P99_GOAL),
        ),
    ]
    return Outcome(rows=rows)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
