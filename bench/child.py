"""Work done in a child process, so that its peak memory is its own and not the suite's.

`python -m bench.child serve DATA` starts a server and prints its URL and a token as one JSON
line, then serves until its stdin closes; `memory BODY TYPE` does the same with a bare aiohttp handler
answering BODY from memory, the reference for a cached variant, and `multipart` with one reading
uploads and discarding them, the reference for ingest. The other tasks do one piece of image work and print
its time and memory as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from bench import bare, procfs, servers
from core.probe import Limits, MediaRejected, check_limits
from processors.header import read_header
from processors.imaging import configure_vips, process

DISCARD_CHUNK = 256 * 1024


async def serve(data_dir: Path, max_pixels: int | None, v2_sync_wait: float | None,
                presigned_size_limit: int | None, processor: bool) -> None:
    overrides: dict[str, Any] = {}
    if v2_sync_wait is not None:
        overrides["v2_sync_wait"] = v2_sync_wait
    if presigned_size_limit is not None:
        overrides["presigned_size_limit"] = presigned_size_limit
    async with servers.in_process(data_dir, max_pixels=max_pixels, processor=processor,
                                  **overrides) as (_server, endpoint):
        print(json.dumps({"url": endpoint.url, "token": endpoint.token}), flush=True)
        # The parent ends the server by closing our stdin.
        await asyncio.to_thread(sys.stdin.read)


async def memory(body: Path, content_type: str) -> None:
    """An aiohttp handler answering every GET with the same bytes from memory, as a cached variant is
    answered, its entity tag included, and a 304 to a request that already has them."""
    data = body.read_bytes()
    etag = '"' + "0" * 40 + '"'
    headers = {"Content-Type": content_type, "ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}

    async def answer(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    await _serve_app(app)


async def discard(request: web.Request) -> web.Response:
    """Reads the whole multipart body and keeps none of it: the cost of HTTP and multipart alone."""
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader):
            while await part.read_chunk(DISCARD_CHUNK):
                pass
    return web.json_response({"id": "0"}, status=202)


async def multipart() -> None:
    """An aiohttp handler reading every upload to POST /api/v2/media and discarding it, the reference of ingest."""
    app = web.Application()
    app.router.add_post("/api/v2/media", discard)
    await _serve_app(app)


async def _serve_app(app: web.Application) -> None:
    """Serve `app` on a free port, say where as `serve` does, and stop when stdin closes."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}", "token": ""}), flush=True)
        await asyncio.to_thread(sys.stdin.read)
    finally:
        await runner.cleanup()


def measured(work: Callable[[], object]) -> dict[str, Any]:
    pid = os.getpid()
    before = procfs.rss_kb(pid)
    reset = procfs.reset_peak(pid)
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rss_before_kb": before, "peak_kb": procfs.peak_kb(pid), "peak_reset": reset}


def headers(src: Path, repeat: int) -> dict[str, Any]:
    """read_header + check_limits ``repeat`` times; the time of each, the peak over all of them."""
    times: list[float] = []
    outcome = "accepted"

    def work() -> None:
        nonlocal outcome
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                check_limits(read_header(src), Limits())
            except MediaRejected as exc:
                outcome = exc.kind
            times.append(time.perf_counter() - started)

    result = measured(work)
    result.update(times=times, outcome=outcome)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    tasks = parser.add_subparsers(dest="task", required=True)
    serve_args = tasks.add_parser("serve")
    serve_args.add_argument("data", type=Path)
    serve_args.add_argument("--max-pixels", type=int)
    serve_args.add_argument("--v2-sync-wait", type=float)
    serve_args.add_argument("--presigned-size-limit", type=int)
    serve_args.add_argument("--no-processor", action="store_true", help="gateways only, as ingest is measured")
    memory_args = tasks.add_parser("memory", help="an aiohttp handler answering one body from memory")
    memory_args.add_argument("body", type=Path)
    memory_args.add_argument("content_type")
    tasks.add_parser("multipart", help="an aiohttp handler reading each upload's multipart body and discarding it")
    render_args = tasks.add_parser("render", help="the bare pyvips renditions")
    render_args.add_argument("src", type=Path)
    render_args.add_argument("out", type=Path)
    render_args.add_argument("content_type")
    process_args = tasks.add_parser("process", help="processors.imaging.process")
    process_args.add_argument("src", type=Path)
    process_args.add_argument("out", type=Path)
    process_args.add_argument("--max-pixels", type=int, default=Limits().max_pixels)
    header_args = tasks.add_parser("header", help="read_header + check_limits")
    header_args.add_argument("src", type=Path)
    header_args.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    if args.task == "serve":
        asyncio.run(serve(args.data, args.max_pixels, args.v2_sync_wait, args.presigned_size_limit,
                          not args.no_processor))
        return 0
    if args.task == "multipart":
        asyncio.run(multipart())
        return 0
    if args.task == "memory":
        asyncio.run(memory(args.body, args.content_type))
        return 0
    # The same process-wide libvips settings the server uses.
    configure_vips()
    if args.task == "render":
        result = measured(lambda: bare.render(args.src, args.out, args.content_type))
    elif args.task == "process":
        result = measured(lambda: process(args.src, args.out, Limits(max_pixels=args.max_pixels)))
    else:
        result = headers(args.src, args.repeat)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
