"""4. Transformations: uncached throughput against thumbor on the same images, sizes and concurrency;
cached against uncached; a cached variant against a bare aiohttp handler answering its bytes from memory.

thumbor is installed by the suite into a virtual environment of its own under .bench/ (kept between
runs), pinned so that runs compare. Both servers read the same source bytes: the `original`
renditions Mediaplex made of the corpus, copied into thumbor's file-loader root.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench import corpus, procfs, servers, stats
from bench.common import CouldNotMeasure, Outcome, Row, Settings, verdict

THUMBOR = "thumbor==7.8.0"
CONCURRENCY = 8
HEIGHT = 300
FIRST_WIDTH = 400
REPO = Path(__file__).resolve().parents[1]
THUMBOR_CONF = """\
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {root!r}
STORAGE = 'thumbor.storages.no_storage'
RESULT_STORAGE = None
ALLOW_UNSAFE_URL = True
QUALITY = 75
"""


def thumbor_bin() -> Path:
    """The thumbor executable, installing it on first use."""
    venv = REPO / ".bench" / "thumbor"
    executable = venv / "bin" / "thumbor"
    stamp = venv / f".installed-{THUMBOR}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", THUMBOR], check=True)
        stamp.touch()
    return executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def thumbor(root: Path, work: Path, processes: int) -> AsyncIterator[str]:
    conf = work / "thumbor.conf"
    conf.write_text(THUMBOR_CONF.format(root=str(root)))
    port = _free_port()
    argv = [str(thumbor_bin()), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf), "--processes", str(processes)]
    async with servers.peer("thumbor", argv, f"http://127.0.0.1:{port}", "/healthcheck", work / "thumbor.log") as url:
        yield url


async def throughput(session: aiohttp.ClientSession, urls: list[str], headers: dict[str, str]) -> float:
    """Requests per second for fetching every URL at CONCURRENCY, each answer checked and read whole."""
    pending = iter(urls)

    async def worker() -> None:
        for url in pending:
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status != 200 or not body:
                    raise CouldNotMeasure(f"GET {url} answered {response.status}: {body[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(urls) / (time.perf_counter() - started)


def widths(count: int, run: int) -> list[int]:
    # A new width per request and per run: every request of an "uncached" pass renders.
    return [FIRST_WIDTH + run * count + i for i in range(count)]


async def sources(settings: Settings, endpoint: servers.Endpoint, session: aiohttp.ClientSession,
                  root: Path) -> list[tuple[str, str]]:
    """Uploads the corpus; (Mediaplex original URL, thumbor file name) per image."""
    out = []
    for n, sample in enumerate(corpus.processing_corpus(settings.work / "corpus", 1)):
        path = sample.path
        status, body = await servers.post_media(session, endpoint, "v1", path.read_bytes(), path.name,
                                                sample.content_type)
        if status != 200 or not body.get("url"):
            raise CouldNotMeasure(f"POST /api/v1/media answered {status} {body}")
        url: str = body["url"]
        async with session.get(url) as response:
            data = await response.read()
        name = f"source-{n}{Path(url).suffix}"
        (root / name).write_bytes(data)
        out.append((url, name))
    return out


async def measure(settings: Settings) -> Outcome:
    count = settings.scaled(240, 48)
    processes = os.cpu_count() or 1
    root = settings.work / "thumbor-root"
    root.mkdir()
    ours, theirs, cached = [], [], []
    async with (
        # In a child process, like thumbor: the client here must not share the server's interpreter.
        servers.ChildServer(settings.work / "server") as child,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        images = await sources(settings, child.endpoint, session, root)

        def mediaplex_urls(run: int) -> list[str]:
            return [f"{images[i % len(images)][0]}?w={w}&h={HEIGHT}&fit=clip&q=75&fm=jpg"
                    for i, w in enumerate(widths(count, run))]

        def thumbor_urls(base: str, run: int) -> list[str]:
            return [f"{base}/unsafe/fit-in/{w}x{HEIGHT}/filters:quality(75):format(jpeg)/{images[i % len(images)][1]}"
                    for i, w in enumerate(widths(count, run))]

        async with thumbor(root, settings.work, processes) as thumbor_url:
            # One pass each first, so that neither side pays for warming up in a measured pass.
            await throughput(session, thumbor_urls(thumbor_url, settings.runs), {})
            await throughput(session, mediaplex_urls(settings.runs), {})
            for run in range(settings.runs):
                theirs.append(await throughput(session, thumbor_urls(thumbor_url, run), {}))
                ours.append(await throughput(session, mediaplex_urls(run), {}))
                cached.append(await throughput(session, mediaplex_urls(run), {}))
    uncached, reference, hit = stats.median(ours), stats.median(theirs), stats.median(cached)
    versus = stats.median([o / t for o, t in zip(ours, theirs, strict=True)])
    speedup = stats.median([c / o for c, o in zip(cached, ours, strict=True)])
    last = FIRST_WIDTH + count * settings.runs
    shape = (f"{count} requests of JPEGs fit inside {FIRST_WIDTH}..{last}x{HEIGHT} at q 75 "
             f"from 4 sources (the original renditions of a 12 MP and a 2 MP JPEG, a PNG and a WebP), concurrency "
             f"{CONCURRENCY}")
    notes = ["Transformations (4a): Mediaplex sizes every variant from the original rendition but reads the "
             "smallest of its renditions (original, small, thumb, all made at upload) that covers the output, "
             "here mostly `small`; thumbor reads the original rendition file it was given."]
    rows = [
        Row(key="4a", what=f"Transformations, uncached: {shape}",
            result=f"{uncached:,.0f} images/s",
            reference=f"thumbor 7.8.0 (PIL engine, {processes} processes, no storage): {reference:,.0f} images/s",
            ratio=stats.ratio(versus), goal="≥ 2x thumbor", verdict=verdict(versus >= 2.0)),
        Row(key="4b", what="Transformations, cached: the same URLs again, served from the variant cache",
            result=f"{hit:,.0f} images/s", reference=f"uncached {uncached:,.0f} images/s",
            ratio=stats.ratio(speedup), goal="≥ 20x uncached", verdict=verdict(speedup >= 20.0)),
    ]
    return Outcome(rows=rows, notes=notes)


async def repeated(session: aiohttp.ClientSession, url: str, count: int, headers: dict[str, str],
                   status: int) -> float:
    """Requests per second for fetching `url` `count` times at CONCURRENCY, each answer checked and read whole."""
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status != status or (status == 200 and not body):
                    raise CouldNotMeasure(f"GET {url} answered {response.status}: {body[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def measure_cached(settings: Settings) -> Outcome:
    count = settings.scaled(4000, 400)
    # (requests per second, the server's CPU seconds per request) of each run.
    hits: list[tuple[float, float]] = []
    hit_refs: list[tuple[float, float]] = []
    fresh: list[tuple[float, float]] = []
    fresh_refs: list[tuple[float, float]] = []
    async with (
        servers.ChildServer(settings.work / "server") as child,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
    ):
        sample = corpus.processing_corpus(settings.work / "corpus", 1)[0]
        status, media = await servers.post_media(session, child.endpoint, "v1", sample.path.read_bytes(),
                                                 sample.path.name, sample.content_type)
        if status != 200 or not media.get("url"):
            raise CouldNotMeasure(f"POST /api/v1/media answered {status} {media}")
        url = f"{media['url']}?w={FIRST_WIDTH}&h={HEIGHT}&fit=clip&q=75&fm=jpg"
        async with session.get(url) as response:
            variant = await response.read()
            etag = response.headers["ETag"]
        body = settings.work / "variant.jpg"
        body.write_bytes(variant)
        async with servers.ChildServer(settings.work, task=["memory", str(body), "image/jpeg"]) as reference:
            same = f"{reference.endpoint.url}{url.removeprefix(child.endpoint.url)}"
            async with session.get(same, headers={"If-None-Match": "x"}) as response:
                reference_etag = response.headers["ETag"]
            sides = [
                (url, {}, 200, hits, child.pid), (same, {}, 200, hit_refs, reference.pid),
                (url, {"If-None-Match": etag}, 304, fresh, child.pid),
                (same, {"If-None-Match": reference_etag}, 304, fresh_refs, reference.pid),
            ]
            for target, headers, expected, _, _ in sides:
                await repeated(session, target, count // 4, headers, expected)
            for run in range(settings.runs):
                for target, headers, expected, side, pid in sides if run % 2 == 0 else reversed(sides):
                    began = procfs.cpu_seconds(pid)
                    rate = await repeated(session, target, count, headers, expected)
                    side.append((rate, (procfs.cpu_seconds(pid) - began) / count))
    hit_ratio = stats.median([h / r for (h, _), (r, _) in zip(hits, hit_refs, strict=True)])
    fresh_ratio = stats.median([h / r for (h, _), (r, _) in zip(fresh, fresh_refs, strict=True)])
    shape = (f"one URL ({len(variant) / 1000:.0f} kB JPEG, w={FIRST_WIDTH}&h={HEIGHT}&fit=clip) {count} times "
             f"per run, concurrency {CONCURRENCY}, server in a child process")
    def served(side: list[tuple[float, float]]) -> str:
        rate, cpu = stats.median([r for r, _ in side]), stats.median([c for _, c in side])
        return f"{stats.rate(rate, 'req/s')} ({cpu * 1e6:.0f} µs CPU each)"

    rows = [
        Row(key="4c", what=f"Cached variant, repeated URL: {shape}", result=served(hits),
            reference=f"aiohttp handler answering the same bytes from memory: {served(hit_refs)}",
            ratio=stats.ratio(hit_ratio), goal="≥ 0.6", verdict=verdict(hit_ratio >= 0.6)),
        Row(key="4d", what="Cached variant, the same URL with If-None-Match (304)", result=served(fresh),
            reference=f"the same handler answering 304: {served(fresh_refs)}",
            ratio=stats.ratio(fresh_ratio), goal="≥ 0.6", verdict=verdict(fresh_ratio >= 0.6)),
    ]
    notes = ["Cached variants (4c, 4d): the client shares the machine's cores with the server; the CPU time is the "
             "serving process's own (user and system, from /proc) divided by the requests, and depends less on "
             "what else runs than the rates do."]
    return Outcome(rows=rows, notes=notes)


def run(settings: Settings) -> Outcome:
    return asyncio.run(measure(settings))


def run_cached(settings: Settings) -> Outcome:
    return asyncio.run(measure_cached(settings))
