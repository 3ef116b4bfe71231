"""2. Upload to ready: a 12 MP JPEG through the Mastodon API, one upload at a time, against bare processing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bench import bare, corpus, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict
from processors.imaging import configure_vips

POLL_INTERVAL = 0.02
GOAL_FACTOR = 1.25
GOAL_SLACK = 0.020


async def upload_v1(session: aiohttp.ClientSession, endpoint: servers.Endpoint, data: bytes) -> float:
    started = time.perf_counter()
    status, body = await servers.post_media(session, endpoint, "v1", data)
    elapsed = time.perf_counter() - started
    if status != 200 or not body.get("url"):
        raise CouldNotMeasure(f"POST /api/v1/media answered {status} {body}")
    return elapsed


async def upload_v2_and_poll(session: aiohttp.ClientSession, endpoint: servers.Endpoint, data: bytes) -> float:
    started = time.perf_counter()
    status, body = await servers.post_media(session, endpoint, "v2", data)
    if status not in (200, 202):
        raise CouldNotMeasure(f"POST /api/v2/media answered {status} {body}")
    while status != 200:
        await asyncio.sleep(POLL_INTERVAL)
        status, body = await servers.get_media(session, endpoint, body["id"])
        if status not in (200, 206):
            raise CouldNotMeasure(f"GET /api/v1/media/:id answered {status} {body}")
    return time.perf_counter() - started


def bare_once(src: Path, out: Path) -> float:
    started = time.perf_counter()
    bare.render(src, out, "image/jpeg")
    return time.perf_counter() - started


def _row(key: str, what: str, p50s: list[float], p95s: list[float], bares: list[float], count: int) -> Row:
    p50, p95, reference = stats.median(p50s), stats.median(p95s), stats.median(bares)
    ratio = stats.median([p / b for p, b in zip(p50s, bares, strict=True)])
    limit = GOAL_FACTOR * reference + GOAL_SLACK
    return Row(
        key=key,
        what=f"{what}, 12 MP JPEG, {count} uploads one at a time per run",
        result=f"p50 {stats.seconds(p50)}, p95 {stats.seconds(p95)}",
        reference=f"bare processing of the same file: {stats.seconds(reference)}",
        ratio=stats.ratio(ratio),
        goal=f"p50 ≤ {GOAL_FACTOR}x bare + 20 ms ({stats.seconds(limit)})",
        verdict=verdict(p50 <= limit),
    )


async def measure(settings: Settings) -> Outcome:
    configure_vips()
    src = corpus.jpeg(settings.work / "12mp.jpg", corpus.photo(4000, 3000, 21))
    original = src.read_bytes()
    count = settings.scaled(10, 3)
    v1_p50, v1_p95, v2_p50, v2_p95, bare_medians = [], [], [], [], []
    serial = 0

    def next_bytes() -> bytes:
        nonlocal serial
        serial += 1
        return corpus.variant(original, serial)

    async with (
        # v2 answers 202 at once, so the time to ready is what polling sees.
        servers.in_process(settings.work / "data", v2_sync_wait=0.0) as (_server, endpoint),
        aiohttp.ClientSession() as session,
    ):
        # Not timed: the first upload pays for opening the projection's reader connections and
        # libvips' first use; neither is what a running server pays per upload.
        await upload_v1(session, endpoint, next_bytes())
        await asyncio.to_thread(bare_once, src, settings.work / "bare-warm")
        for run in range(settings.runs):
            v1: list[float] = []
            v2: list[float] = []
            bares: list[float] = []
            # Interleaved, so that a change in machine load touches all three alike.
            for i in range(count):
                v1.append(await upload_v1(session, endpoint, next_bytes()))
                v2.append(await upload_v2_and_poll(session, endpoint, next_bytes()))
                bares.append(await asyncio.to_thread(bare_once, src, settings.work / f"bare-{run}-{i}"))
            v1_p50.append(stats.percentile(v1, 50))
            v1_p95.append(stats.percentile(v1, 95))
            v2_p50.append(stats.percentile(v2, 50))
            v2_p95.append(stats.percentile(v2, 95))
            bare_medians.append(stats.median(bares))
    rows = [
        _row("2a", "Upload to ready: POST /api/v1/media (synchronous)", v1_p50, v1_p95, bare_medians, count),
        _row("2b", "Upload to ready: POST /api/v2/media (202) + GET /api/v1/media/:id every 20 ms",
             v2_p50, v2_p95, bare_medians, count),
    ]
    return Outcome(rows=rows)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
