"""7. Hostile inputs: a decompression bomb refused from its header, and a progressive 24 MP JPEG."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import aiohttp

from bench import corpus, procfs, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict

BOMB_SIDE = 50_000
REJECT_GOAL = 0.050
# Decoding a 50,000 x 50,000 RGB image would need 7.5 GB; a header read needs next to nothing.
NO_DECODE_KB = 64 * 1024


async def header_rows(settings: Settings, bomb: Path, tiny: Path) -> Row:
    repeat = settings.scaled(50, 10)
    times, grown, ref_times = [], [], []
    for _run in range(settings.runs):
        result = await servers.run_child("header", str(bomb), "--repeat", str(repeat))
        if result["outcome"] != "too_many_pixels":
            raise CouldNotMeasure(f"read_header + check_limits on the bomb gave {result['outcome']}")
        times.append(stats.median(result["times"]))
        grown.append(result["peak_kb"] - result["rss_before_kb"])
        reference = await servers.run_child("header", str(tiny), "--repeat", str(repeat))
        ref_times.append(stats.median(reference["times"]))
    seconds, extra = stats.median(times), stats.median(grown)
    return Row(
        key="7a",
        what=f"Hostile: refuse a {bomb.stat().st_size}-byte PNG declaring {BOMB_SIDE:,} x {BOMB_SIDE:,} px "
             "with read_header + check_limits (child process)",
        result=f"{stats.seconds(seconds)}, peak RSS +{extra / 1024:.1f} MiB",
        reference=f"read_header of a valid 64x64 PNG: {stats.seconds(stats.median(ref_times))}",
        ratio=stats.ratio(stats.median([t / r for t, r in zip(times, ref_times, strict=True)])),
        goal=f"< {stats.seconds(REJECT_GOAL)}, nothing decoded",
        verdict=verdict(seconds < REJECT_GOAL and extra < NO_DECODE_KB),
    )


async def http_row(settings: Settings, bomb: Path, tiny_jpeg: bytes) -> Row:
    count = settings.scaled(20, 5)
    bomb_bytes = bomb.read_bytes()
    serial = itertools.count()
    p50s, grown, ref_p50s = [], [], []
    for run in range(settings.runs):
        async with (
            servers.ChildServer(settings.work / f"server-{run}", v2_sync_wait=0.0) as child,
            aiohttp.ClientSession() as session,
        ):
            # One accepted upload first, so that neither side pays for the first request.
            await servers.post_media(session, child.endpoint, "v2", corpus.variant(tiny_jpeg, next(serial)))
            idle = procfs.rss_kb(child.pid)
            reset = procfs.reset_peak(child.pid)
            refused: list[float] = []
            async with procfs.PeakSampler(child.pid) as sampler:
                for _ in range(count):
                    started = time.perf_counter()
                    status, body = await servers.post_media(session, child.endpoint, "v2", bomb_bytes,
                                                            "bomb.png", "image/png")
                    refused.append(time.perf_counter() - started)
                    if status != 422:
                        raise CouldNotMeasure(f"the bomb got {status} {body}, not 422")
            grown.append((procfs.peak_kb(child.pid) if reset else sampler.highest) - idle)
            accepted: list[float] = []
            for _ in range(count):
                started = time.perf_counter()
                status, body = await servers.post_media(session, child.endpoint, "v2",
                                                        corpus.variant(tiny_jpeg, next(serial)))
                accepted.append(time.perf_counter() - started)
                if status != 202:
                    raise CouldNotMeasure(f"a 64x64 JPEG got {status} {body}, not 202")
        p50s.append(stats.percentile(refused, 50))
        ref_p50s.append(stats.percentile(accepted, 50))
    p50, extra = stats.median(p50s), stats.median(grown)
    return Row(
        key="7b",
        what=f"Hostile: the same bomb via POST /api/v2/media → 422, {count} requests per run, server in a child",
        result=f"p50 {stats.seconds(p50)}, server peak RSS +{extra / 1024:.1f} MiB",
        reference=f"a 64x64 JPEG accepted (202): p50 {stats.seconds(stats.median(ref_p50s))}",
        ratio=stats.ratio(stats.median([p / r for p, r in zip(p50s, ref_p50s, strict=True)])),
        goal=f"< {stats.seconds(REJECT_GOAL)}, nothing decoded",
        verdict=verdict(p50 < REJECT_GOAL and extra < NO_DECODE_KB),
    )


async def progressive_rows(settings: Settings) -> list[Row]:
    width, height = settings.scaled(6000, 3000), settings.scaled(4000, 2000)
    image = corpus.photo(width, height, 51)
    progressive = corpus.jpeg(settings.work / "progressive.jpg", image, progressive=True)
    baseline = corpus.jpeg(settings.work / "baseline.jpg", image)
    figures: dict[str, list[float]] = {"p_time": [], "b_time": [], "p_mem": [], "b_mem": []}

    async def one(src: Path, run: int, prefix: str) -> None:
        result = await servers.run_child("process", str(src), str(settings.work / f"{prefix}-{run}"))
        figures[f"{prefix}_time"].append(result["seconds"])
        figures[f"{prefix}_mem"].append(result["peak_kb"] - result["rss_before_kb"])

    for run in range(settings.runs):
        order = [(progressive, "p"), (baseline, "b")]
        for src, prefix in order if run % 2 == 0 else reversed(order):
            await one(src, run, prefix)

    def med(name: str) -> float:
        return stats.median(figures[name])

    def paired(mine: str, theirs: str) -> str:
        return stats.ratio(stats.median([a / b for a, b in zip(figures[mine], figures[theirs], strict=True)]))

    megapixels = width * height / 1e6
    return [
        Row(key="7c", what=f"Hostile: processors.imaging.process of a progressive {megapixels:.0f} MP JPEG "
                           f"({progressive.stat().st_size / 1e6:.1f} MB), time (child process)",
            result=stats.seconds(med("p_time")),
            reference=f"baseline JPEG of the same pixels: {stats.seconds(med('b_time'))}",
            ratio=paired("p_time", "b_time")),
        Row(key="7d", what="Hostile: the same, peak RSS above the child's RSS before the call",
            result=f"+{stats.mib(med('p_mem'))}",
            reference=f"baseline: +{stats.mib(med('b_mem'))}",
            ratio=paired("p_mem", "b_mem")),
    ]


async def measure(settings: Settings) -> Outcome:
    bomb = corpus.bomb(settings.work / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    tiny = settings.work / "tiny.png"
    corpus.graphic(64, 64, 1).pngsave(str(tiny))
    tiny_jpeg = corpus.jpeg(settings.work / "tiny.jpg", corpus.photo(64, 64, 2)).read_bytes()
    rows = [await header_rows(settings, bomb, tiny), await http_row(settings, bomb, tiny_jpeg)]
    rows += await progressive_rows(settings)
    return Outcome(rows=rows)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
