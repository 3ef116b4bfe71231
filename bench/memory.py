"""6. Memory: the server's peak while processing a huge JPEG, and its growth over many uploads."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import aiohttp

from bench import corpus, procfs, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict
from core.probe import Limits

CONCURRENCY = 8
SEGMENTS = 10
PUT_CHUNK = 1 << 20


async def _upload_v1(session: aiohttp.ClientSession, endpoint: servers.Endpoint, data: bytes) -> None:
    status, body = await servers.post_media(session, endpoint, "v1", data)
    if status != 200 or not body.get("url"):
        raise CouldNotMeasure(f"POST /api/v1/media answered {status} {body}")


async def peak_run(settings: Settings, run: int, big: bytes, side: int) -> tuple[int, int, float, bool]:
    """(idle RSS, peak RSS, seconds, whether the kernel's peak was reset) of one server child, in kB."""
    async with (
        servers.ChildServer(settings.work / f"server-{run}", max_pixels=side * side) as child,
        aiohttp.ClientSession() as session,
    ):
        idle = procfs.rss_kb(child.pid)
        reset = procfs.reset_peak(child.pid)
        async with procfs.PeakSampler(child.pid) as sampler:
            started = time.perf_counter()
            await _upload_v1(session, child.endpoint, big)
            elapsed = time.perf_counter() - started
        peak = procfs.peak_kb(child.pid) if reset else sampler.highest
    return idle, peak, elapsed, reset


async def peak_rows(settings: Settings) -> tuple[Row, list[str]]:
    side = settings.scaled(10_000, 5_000)
    # Without noise, so that it stays under the 16 MiB upload cap like a real camera file would.
    src = corpus.jpeg(settings.work / "huge.jpg", corpus.graphic(side, side, 41))
    big = src.read_bytes()
    idles, peaks, times, bare_befores, bare_peaks, bare_times = [], [], [], [], [], []
    all_reset = True
    for run in range(settings.runs):
        idle, peak, elapsed, reset = await peak_run(settings, run, big, side)
        all_reset &= reset
        idles.append(idle)
        peaks.append(peak)
        times.append(elapsed)
        reference = await servers.run_child("render", str(src), str(settings.work / f"bare-{run}"), "image/jpeg")
        bare_befores.append(reference["rss_before_kb"])
        bare_peaks.append(reference["peak_kb"])
        bare_times.append(reference["seconds"])
    grown = [p - i for p, i in zip(peaks, idles, strict=True)]
    bare_grown = [p - b for p, b in zip(bare_peaks, bare_befores, strict=True)]
    default_limit = Limits().max_pixels
    row = Row(
        key="6a",
        what=f"Memory: server peak RSS while processing a {side:,} x {side:,} JPEG "
             f"({len(big) / 1e6:.1f} MB) via POST /api/v1/media, server in a child process "
             f"(pixel limit raised for this; the default {default_limit:,} px refuses it)",
        result=f"peak {stats.mib(stats.median(peaks))} (idle {stats.mib(stats.median(idles))}, "
               f"+{stats.mib(stats.median(grown))}), {stats.seconds(stats.median(times))} to ready",
        reference=f"bare pyvips renditions in a child: peak {stats.mib(stats.median(bare_peaks))} "
                  f"(+{stats.mib(stats.median(bare_grown))}), {stats.seconds(stats.median(bare_times))}",
        ratio=stats.ratio(stats.median([g / b for g, b in zip(grown, bare_grown, strict=True)])),
    )
    notes = []
    if not all_reset:
        notes.append("Memory: the kernel's peak RSS could not be reset, so 6a's peak is sampled every 20 ms "
                     "and may miss a short spike.")
    return row, notes


async def growth_row(settings: Settings) -> tuple[Row, list[str]]:
    total = settings.scaled(10_000, 300)
    warmup = max(total // 20, 50)
    original = corpus.jpeg(settings.work / "small.jpg", corpus.photo(160, 120, 43)).read_bytes()
    serial = itertools.count()
    samples: list[tuple[int, int]] = []
    async with (
        servers.ChildServer(settings.work / "growth") as child,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        async def segment(count: int) -> None:
            remaining = iter(range(count))

            async def worker() -> None:
                for _ in remaining:
                    await _upload_v1(session, child.endpoint, corpus.variant(original, next(serial)))

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

        await segment(warmup)
        done = 0
        samples.append((done, procfs.rss_kb(child.pid)))
        started = time.perf_counter()
        step = (total - warmup) // SEGMENTS
        for i in range(SEGMENTS):
            count = step if i < SEGMENTS - 1 else total - warmup - step * (SEGMENTS - 1)
            await segment(count)
            done += count
            samples.append((done, procfs.rss_kb(child.pid)))
        elapsed = time.perf_counter() - started
    before, after = samples[0][1], samples[-1][1]
    trend = stats.slope([d for d, _ in samples], [kb for _, kb in samples]) * 1000
    trace = ", ".join(stats.mib(kb).removesuffix(" MiB") for _, kb in samples)
    row = Row(
        key="6b",
        what=f"Memory: server RSS growth over {total - warmup:,} uploads (160x120 JPEGs, POST /api/v1/media, "
             f"concurrency {CONCURRENCY}, after {warmup} warm-up uploads; one run)",
        result=f"{stats.mib(before)} → {stats.mib(after)}, trend {trend / 1024:+.2f} MiB per 1,000 uploads",
        reference=f"RSS after warm-up: {stats.mib(before)}",
        ratio=stats.ratio(after / before),
    )
    notes = [f"Memory growth (6b): RSS in MiB at each tenth of the uploads: {trace} "
             f"({(total - warmup) / elapsed:.0f} uploads/s end to end)."]
    return row, notes


async def _padded_jpeg(jpeg: bytes, total: int) -> AsyncIterator[bytes]:
    """``total`` bytes made on the fly: a JPEG, zeros, and an end-of-image marker last.

    Decoders stop at the picture's own end marker and the gateway's completeness check finds the
    last one, so the upload is accepted while the bulk is never looked at. (Comment segments would
    make a stricter JPEG, but libvips keeps every comment in memory while reading the header.)
    """
    yield jpeg
    left = total - len(jpeg) - 2
    block = bytes(PUT_CHUNK)
    while left > 0:
        yield block[:left]
        left -= PUT_CHUNK
    yield b"\xff\xd9"


async def presigned_run(settings: Settings, run: int, head: bytes, total: int) -> tuple[int, int, float]:
    """(idle RSS, peak RSS in kB, seconds) of one server child taking a ``total``-byte presigned PUT."""
    async with (
        servers.ChildServer(settings.work / f"put-{run}", presigned_size_limit=total) as child,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(f"{child.endpoint.url}/media", headers=child.endpoint.headers,
                                json={"filename": "huge.jpg", "contentType": "image/jpeg"}) as response:
            grant = await response.json()
            if response.status not in (200, 201):
                raise CouldNotMeasure(f"POST /media answered {response.status} {grant}")
        idle = procfs.rss_kb(child.pid)
        reset = procfs.reset_peak(child.pid)
        headers = {"Content-Type": "image/jpeg", "Content-Disposition": grant["contentDispositionHeader"],
                   "Content-Length": str(total)}
        async with procfs.PeakSampler(child.pid) as sampler:
            started = time.perf_counter()
            async with session.put(grant["uploadUrl"], data=_padded_jpeg(head, total), headers=headers) as response:
                body = await response.read()
                if response.status not in (200, 201):
                    raise CouldNotMeasure(f"PUT answered {response.status} {body[:300]!r}")
            elapsed = time.perf_counter() - started
        peak = procfs.peak_kb(child.pid) if reset else sampler.highest
    return idle, peak, elapsed


async def presigned_row(settings: Settings) -> Row:
    total = settings.scaled(1 << 30, 128 << 20)
    head = corpus.jpeg(settings.work / "head.jpg", corpus.photo(640, 480, 44)).read_bytes()
    idles, peaks, times = [], [], []
    for run in range(settings.runs):
        idle, peak, elapsed = await presigned_run(settings, run, head, total)
        idles.append(idle)
        peaks.append(peak)
        times.append(elapsed)
    grown = stats.median([p - i for p, i in zip(peaks, idles, strict=True)])
    return Row(
        key="6c",
        what=f"Memory: server RSS growth while streaming a {total / (1 << 30):.3g} GiB presigned PUT "
             "(Content-Length set; a 640x480 JPEG, zeros and an end marker; cap raised to fit), "
             "server in a child process",
        result=f"+{stats.mib(grown)} (peak {stats.mib(stats.median(peaks))}), "
               f"{total / stats.median(times) / (1 << 20):,.0f} MiB/s",
        reference=f"idle RSS {stats.mib(stats.median(idles))}",
        goal="< 64 MB growth",
        verdict=verdict(grown * 1024 < 64_000_000),
    )


async def measure(settings: Settings) -> Outcome:
    peak, peak_notes = await peak_rows(settings)
    growth, growth_notes = await growth_row(settings)
    presigned = await presigned_row(settings)
    return Outcome(rows=[peak, growth, presigned], notes=peak_notes + growth_notes)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
