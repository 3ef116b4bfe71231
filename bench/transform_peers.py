"""4e to 4h. Uncached transformations beside the floor and the Node.js peers, on the very same files.

Every side makes the same images: fit inside a square box (`side` x `side`), JPEG at quality `q`,
progressive off, Huffman tables optimised, at concurrency 8. Each request of a pass asks for a box and
quality no earlier request asked for (40 sides x 10 qualities), so nothing is served from a cache.

- 4e/4f: boxes near 800 px, from the `original` rendition of a 12 MP JPEG, the file Mediaplex itself
  reads for them (its `small` is too small), given to ipx, the bare pyvips loop and the sharp loop.
- 4g: boxes near 400 px, where Mediaplex picks its `small` rendition: the bare pyvips loop reads that
  same `small` file.
- 4h: the bare sharp loop beside the bare pyvips loop on 4e's file: the floor of each library.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pyvips

from bench import corpus, servers, stats
from bench.common import NOT_BUILT, CouldNotMeasure, Outcome, Row, Settings, verdict
from bench.peers import PeerMissing, installed, ipx, sharp_seconds, versions
from bench.transform import CONCURRENCY, _free_port, throughput

SIDES = 40
QUALITIES = range(71, 81)
Box = tuple[int, int]


def boxes(near: int) -> Iterator[Box]:
    """(side, quality) pairs around `near`, each once, in an order that mixes both."""
    pairs = list(itertools.product(range(near - SIDES // 2, near + SIDES // 2), QUALITIES))
    # Neighbouring requests should differ in size, as a page of different screens would ask.
    return iter(sorted(pairs, key=lambda pair: (pair[1], pair[0])))


def take(source: Iterator[Box], count: int) -> list[Box]:
    taken = list(itertools.islice(source, count))
    if len(taken) < count:
        raise CouldNotMeasure("ran out of distinct boxes: fewer requests per pass, or more sides")
    return taken


def _pyvips_one(path: str, box: Box) -> int:
    side, quality = box
    image = pyvips.Image.thumbnail(path, side, height=side, size="down")
    return len(image.jpegsave_buffer(Q=quality, optimize_coding=True, interlace=False, keep="icc"))


def pyvips_rate(path: Path, batch: list[Box]) -> float:
    """Images per second of the bare pyvips loop: thumbnail from the file and JPEG, CONCURRENCY threads."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        sizes = list(pool.map(lambda box: _pyvips_one(str(path), box), batch))
        seconds = time.perf_counter() - started
    if not all(sizes):
        raise CouldNotMeasure("pyvips wrote an empty image")
    return len(batch) / seconds


async def sources(settings: Settings, endpoint: servers.Endpoint, session: aiohttp.ClientSession,
                  root: Path) -> tuple[str, str]:
    """The 12 MP JPEG uploaded; its `original` and `small` rendition URLs, their files saved under `root`."""
    sample = corpus.processing_corpus(settings.work / "corpus", 1)[0]
    status, body = await servers.post_media(session, endpoint, "v1", sample.path.read_bytes(), sample.path.name,
                                            sample.content_type)
    if status != 200 or not body.get("url") or not body.get("preview_url"):
        raise CouldNotMeasure(f"POST /api/v1/media answered {status} {body}")
    for key, name in (("url", "original.jpg"), ("preview_url", "small.jpg")):
        async with session.get(body[key]) as response:
            if response.status != 200:
                raise CouldNotMeasure(f"GET {body[key]} answered {response.status}")
            (root / name).write_bytes(await response.read())
    return str(body["url"]), str(body["preview_url"])


def _ratio(ours: list[float], theirs: list[float]) -> float:
    return stats.median([o / t for o, t in zip(ours, theirs, strict=True)])


async def measure(settings: Settings) -> Outcome:
    count = settings.scaled(96, 24)
    runs = settings.runs
    root = settings.work / "peer-root"
    root.mkdir()
    notes: list[str] = []
    try:
        prefix: Path | None = await asyncio.to_thread(installed)
    except PeerMissing as exc:
        prefix = None
        notes.append(f"ipx and sharp were not measured: {exc}")
    large, small = boxes(800), boxes(400)
    figures: dict[str, list[float]] = {name: [] for name in ("ours", "ipx", "pyvips", "sharp", "ours_small",
                                                             "pyvips_small")}
    loop = asyncio.get_running_loop()
    async with (
        servers.ChildServer(settings.work / "server") as child,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        original_url, _ = await sources(settings, child.endpoint, session, root)
        original, small_file = root / "original.jpg", root / "small.jpg"

        def ours(batch: list[Box]) -> list[str]:
            return [f"{original_url}?w={side}&h={side}&fit=clip&q={q}&fm=jpg" for side, q in batch]

        async with _maybe_ipx(prefix, root, _free_port(), settings.work) as ipx_url:
            for run in range(-1, runs):
                # The first round warms every side up and is not kept.
                def kept(name: str, value: float, keep: bool = run >= 0) -> None:
                    if keep:
                        figures[name].append(value)

                batch = take(large, count)
                kept("ours", await throughput(session, ours(batch), {}))
                kept("pyvips", await loop.run_in_executor(None, pyvips_rate, original, batch))
                if prefix is not None:
                    kept("ipx", await throughput(session, [
                        f"{ipx_url}/s_{side}x{side},fit_inside,q_{q},f_jpeg/original.jpg" for side, q in batch
                    ], {}))
                    seconds = await sharp_seconds(prefix, original, batch, CONCURRENCY, settings.work)
                    kept("sharp", len(batch) / seconds)
                batch = take(small, count)
                kept("ours_small", await throughput(session, ours(batch), {}))
                kept("pyvips_small", await loop.run_in_executor(None, pyvips_rate, small_file, batch))
    notes.append("Transformations against the floor (4e to 4h): every side fits each image inside the box and writes a "
                 "baseline JPEG with optimised Huffman tables at the request's quality; ipx runs as `ipx serve --dir` "
                 "(one Node.js process, NODE_ENV=production, sharp's default thread pool, no result cache); the "
                 "sharp loop calls sharp directly with its cache off; the bare pyvips loop calls "
                 "`Image.thumbnail` and `jpegsave_buffer` in 8 threads.")
    return Outcome(rows=_rows(figures, count, prefix), notes=notes)


def _maybe_ipx(prefix: Path | None, root: Path, port: int, work: Path) -> contextlib.AbstractAsyncContextManager[str]:
    if prefix is None:
        return contextlib.nullcontext("")
    return ipx(prefix, root, port, work)


def _rows(figures: dict[str, list[float]], count: int, prefix: Path | None) -> list[Row]:
    ours, floor = stats.median(figures["ours"]), stats.median(figures["pyvips"])
    shape = f"{count} requests a pass, JPEG q 71..80, concurrency {CONCURRENCY}"
    against_floor = _ratio(figures["ours"], figures["pyvips"])
    rows = [
        Row(key="4e", what=f"Transformations, uncached, fit inside ~800 px from the 12 MP JPEG's original rendition: "
                           f"{shape}",
            result=f"{ours:,.1f} images/s", reference=f"bare pyvips on the same file: {floor:,.1f} images/s",
            ratio=stats.ratio(against_floor), goal="≥ 0.95x bare pyvips", verdict=verdict(against_floor >= 0.95)),
    ]
    peer = f"ipx {versions(prefix)['ipx']} (sharp {versions(prefix)['sharp']})" if prefix is not None else "ipx"
    if prefix is None:
        rows.append(Row(key="4f", what="Transformations, uncached, the same requests as 4e", result="skipped",
                        reference=f"{peer}: not installed", goal="≥ 1.3x ipx", verdict=NOT_BUILT))
    else:
        against_ipx = _ratio(figures["ours"], figures["ipx"])
        rows.append(Row(key="4f", what="Transformations, uncached, the same requests and file as 4e",
                        result=f"{ours:,.1f} images/s",
                        reference=f"{peer}, one process, no result cache: "
                                  f"{stats.median(figures['ipx']):,.1f} images/s",
                        ratio=stats.ratio(against_ipx), goal="≥ 1.3x ipx", verdict=verdict(against_ipx >= 1.3)))
    small_ratio = _ratio(figures["ours_small"], figures["pyvips_small"])
    rows.append(Row(key="4g", what=f"Transformations, uncached, fit inside ~400 px, read from the `small` rendition "
                                   f"Mediaplex picks: {shape}",
                    result=f"{stats.median(figures['ours_small']):,.1f} images/s",
                    reference="bare pyvips on that `small` file: "
                              f"{stats.median(figures['pyvips_small']):,.1f} images/s",
                    ratio=stats.ratio(small_ratio), goal="≥ 0.9x bare pyvips", verdict=verdict(small_ratio >= 0.9)))
    if prefix is not None:
        rows.append(Row(key="4h", what="Bare sharp loop beside the bare pyvips loop, 4e's requests and file",
                        result=f"{stats.median(figures['sharp']):,.1f} images/s",
                        reference=f"bare pyvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}: "
                                  f"{floor:,.1f} images/s",
                        ratio=stats.ratio(_ratio(figures["sharp"], figures["pyvips"]))))
    return rows


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))
