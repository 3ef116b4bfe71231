"""Starting real Mediaplex servers inside the test process, each on its own stream and data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.config import Config
from core.jetstream import JetStreamLog
from gateways.kit.descriptor import Gateway
from gateways.registry import GATEWAYS, configure
from mediaplex.admin import add_user, create_token
from mediaplex.server import Parts, Server
from store.live import LiveProjection
from tests.conftest import unique_stream


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
    return configure(config, **{**waits, **overrides})


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
