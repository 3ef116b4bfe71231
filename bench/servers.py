"""Real Mediaplex servers for the measurements: in this process, or in a child to read its memory."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import CouldNotMeasure
from core.config import Config
from core.log import EventLog
from core.probe import Limits
from gateways.registry import configure
from mediaplex.admin import add_user, create_token
from mediaplex.server import Parts, Server

REPO = Path(__file__).resolve().parents[1]
USER = "bench"


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def bench_token(events: EventLog) -> str:
    await add_user(events, USER, "bench-password")
    return await create_token(events, USER, ("read", "write"))


@contextlib.asynccontextmanager
async def in_process(
    data_dir: Path, *, processor: bool = True, max_pixels: int | None = None, **overrides: Any
) -> AsyncIterator[tuple[Server, Endpoint]]:
    """A server on a free port with its own embedded broker under ``data_dir``, as `serve` runs it."""
    # The bench token is the operator's, exempt from Mastodon's rate limits as an operator may choose: the
    # figures are of ingest and processing, not of refusing a client that uploads hundreds of images a minute.
    config = configure(Config(data_dir=data_dir, port=0), **{"rate_limit_cli_tokens": False, **overrides})
    server = Server(config, parts=Parts(processor=processor), say=lambda _line: None)
    if max_pixels is not None:
        # Read by the gateway and the processor when the server starts.
        server.limits = Limits(max_pixels=max_pixels)
    await server.start()
    try:
        assert server.events is not None
        token = await bench_token(server.events)
        yield server, Endpoint(server.url, token)
    finally:
        await server.stop()


def form(data: bytes, filename: str, content_type: str) -> aiohttp.FormData:
    # A FormData is consumed by the request that sends it, so every request builds its own.
    body = aiohttp.FormData()
    body.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return body


async def post_media(
    session: aiohttp.ClientSession, endpoint: Endpoint, version: str, data: bytes,
    filename: str = "upload.jpg", content_type: str = "image/jpeg",
) -> tuple[int, dict[str, Any]]:
    async with session.post(f"{endpoint.url}/api/{version}/media", data=form(data, filename, content_type),
                            headers=endpoint.headers) as response:
        return response.status, await response.json()


async def get_media(session: aiohttp.ClientSession, endpoint: Endpoint, media_id: str) -> tuple[int, dict[str, Any]]:
    async with session.get(f"{endpoint.url}/api/v1/media/{media_id}", headers=endpoint.headers) as response:
        return response.status, await response.json()


class ChildServer:
    """A server in a child process (`python -m bench.child serve`); it stops when its stdin closes."""

    def __init__(self, data_dir: Path, *, max_pixels: int | None = None, v2_sync_wait: float | None = None,
                 presigned_size_limit: int | None = None, processor: bool = True,
                 task: list[str] | None = None) -> None:
        """`task`: another child task serving HTTP (`memory BODY TYPE`) instead of a server on `data_dir`."""
        self._args = task or ["serve", str(data_dir)]
        if not processor:
            self._args += ["--no-processor"]
        if presigned_size_limit is not None:
            self._args += ["--presigned-size-limit", str(presigned_size_limit)]
        if max_pixels is not None:
            self._args += ["--max-pixels", str(max_pixels)]
        if v2_sync_wait is not None:
            self._args += ["--v2-sync-wait", str(v2_sync_wait)]
        self._process: asyncio.subprocess.Process | None = None
        self.pid = 0
        self.endpoint = Endpoint("", "")

    async def __aenter__(self) -> ChildServer:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.child", *self._args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
        )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), 60)
            ready = json.loads(line)
        except (TimeoutError, ValueError):
            await self._end()
            raise RuntimeError("the server child did not report that it was ready") from None
        self.pid = self._process.pid
        self.endpoint = Endpoint(ready["url"], ready["token"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._end()

    async def _end(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run_child(*args: str, timeout: float = 600) -> dict[str, Any]:
    """Run `python -m bench.child ARGS` and return the JSON it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.child", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"bench.child {args[0]} took longer than {timeout:.0f}s") from None
    if process.returncode != 0:
        raise RuntimeError(f"bench.child {args[0]} failed: {err.decode(errors='replace')[-500:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@contextlib.asynccontextmanager
async def peer(name: str, argv: list[str], url: str, probe: str, log_path: Path,
               env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """A peer server started from `argv` in a session of its own, once `url + probe` answers below 500.

    The whole session is ended afterwards: a peer's worker processes go with it.
    """
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=log, start_new_session=True,
                                                   env=env)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}{probe}") as response:
                        if response.status < 500:
                            break
                await asyncio.sleep(0.1)
            else:
                raise CouldNotMeasure(f"{name} did not start; see {log_path.name}")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        await process.wait()
        log.close()
