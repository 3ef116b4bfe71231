"""Starting real Mediaplex servers inside the test process, each on its own stream and data directory."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from core.config import Config
from core.jetstream import JetStreamLog, StreamSettings
from gateways.kit.descriptor import Gateway
from gateways.registry import GATEWAYS, configure
from mediaplex.admin import add_user, create_token
from mediaplex.cli import rebuild
from mediaplex.server import Parts, Server
from store.live import LiveProjection

# What a test module may ask of its `server` fixture, besides Config fields: `pytest.mark.server(...)`.
START_OPTIONS = ("processor", "gateways", "users")
# The shapes a `server` can take: `serve`, or the gateway role with a processor beside it on one log and blobs.
TOPOLOGIES = ("serve", "gateway")


def unique_stream() -> StreamSettings:
    """A stream of its own for one test, so tests never see each other's events."""
    tag = uuid.uuid4().hex[:12]
    return StreamSettings(name=f"T{tag}", prefix=f"t{tag}")


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def make_config(nats_url: str, data_dir: Path, **overrides: object) -> Config:
    stream = unique_stream()
    config = Config(
        data_dir=data_dir,
        nats_urls=(nats_url,),
        port=0,
        stream=stream.name,
        subject_prefix=stream.prefix,
    )
    waits = {"v2_sync_wait": 10.0, "v1_sync_wait": 20.0, "pumpio_upload_wait": 10.0}
    # Suites that make hundreds of requests with one token are not about rate limits; those tests set their own.
    rates = {"api_rate_limit": 100_000, "media_rate_limit": 100_000}
    return configure(config, **{**waits, **rates, **overrides})


class Running:
    """A started server plus what tests reach into: its log, its projection, what it printed."""

    def __init__(self, server: Server, said: list[str]) -> None:
        self.server = server
        self.said = said

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def config(self) -> Config:
        return self.server.config

    @property
    def events(self) -> JetStreamLog:
        assert self.server.events is not None
        return self.server.events

    @property
    def projection(self) -> LiveProjection:
        assert self.server.projection is not None
        return self.server.projection

    async def token(self, user: str, scopes: str = "read write") -> str:
        if not await self.events.last_on(f"mx.user.{user}.added"):
            await add_user(self.events, user, f"{user}-password")
        return await create_token(self.events, user, tuple(scopes.split()))


async def start(config: Config, *, processor: bool = True, gateways: bool = True,
                registered: tuple[Gateway, ...] = GATEWAYS) -> Running:
    said: list[str] = []
    server = Server(config, parts=Parts(gateways=gateways, processor=processor), say=said.append,
                    gateways=registered)
    await server.start()
    return Running(server, said)


class Rebuilt(msgspec.Struct, frozen=True):
    running: Running
    # The content digest `mediaplex rebuild` printed as its last line.
    digest: str


async def rebuilt(first: Running, config: Config) -> Rebuilt:
    """`first` stopped, its log replayed by `mediaplex rebuild` into a new projection, and a server started
    on that projection; the caller stops it."""
    await first.server.stop()
    out = io.StringIO()
    assert await rebuild(config, out, io.StringIO()) == 0
    return Rebuilt(running=await start(config), digest=out.getvalue().splitlines()[-1])


async def swapped(running: Running, path: Path, timeout: float = 30.0) -> bool:
    """Wait until the server answers from `path` and the file it left is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        files = sorted(running.config.projection_dir.glob("projection-*.db"))
        if running.projection.path == path and files == [path]:
            return True
        await asyncio.sleep(0.05)
    return False


class Servers:
    """Starts servers for one test (or one module) and stops every one it started, the last first."""

    def __init__(self, nats_url: str, data_dir: Path) -> None:
        self._nats_url = nats_url
        self._data_dir = data_dir
        self._started: list[Running] = []

    def _next_dir(self) -> Path:
        # The first server gets the data directory tests know; any further one a sibling of its own.
        if not self._started:
            return self._data_dir
        return self._data_dir.with_name(f"{self._data_dir.name}-{len(self._started)}")

    def config(self, *, nats_url: str | None = None, data_dir: Path | None = None, **overrides: Any) -> Config:
        """A config on a stream of its own; start it (and copies of it) with `start`."""
        return make_config(nats_url or self._nats_url, data_dir or self._next_dir(), **overrides)

    async def start(self, config: Config, *, processor: bool = True, gateways: bool = True,
                    users: Mapping[str, str] | None = None, registered: tuple[Gateway, ...] = GATEWAYS) -> Running:
        running = await start(config, processor=processor, gateways=gateways, registered=registered)
        self._started.append(running)
        for user, password in (users or {}).items():
            await add_user(running.events, user, password)
        if users:
            assert await running.projection.wait_for(await running.events.last_seq(), 10.0)
        return running

    async def __call__(self, *, nats_url: str | None = None, data_dir: Path | None = None,
                       processor: bool = True, gateways: bool = True, users: Mapping[str, str] | None = None,
                       registered: tuple[Gateway, ...] = GATEWAYS, **overrides: Any) -> Running:
        config = self.config(nats_url=nats_url, data_dir=data_dir, **overrides)
        return await self.start(config, processor=processor, gateways=gateways, users=users, registered=registered)

    async def topology(self, name: str, *, processor: bool = True, gateways: bool = True,
                       users: Mapping[str, str] | None = None, **overrides: Any) -> Running:
        """`serve`, or (`gateway`) a gateway-only server with a processor of its own on the same log and blobs."""
        if name == "serve":
            return await self(processor=processor, gateways=gateways, users=users, **overrides)
        assert name == "gateway", f"unknown topology {name!r}"
        config = make_config(self._nats_url, self._data_dir, **overrides)
        beside = msgspec.structs.replace(config, data_dir=self._data_dir.with_name(f"{self._data_dir.name}-processor"),
                                         blobs_dir=config.blobs)
        await self.start(beside, gateways=False)
        return await self.start(config, processor=False, users=users)

    async def stop(self) -> None:
        while self._started:
            await self._started.pop().server.stop()
