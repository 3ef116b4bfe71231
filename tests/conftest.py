"""Shared fixtures: one real nats-server for the session, a fresh stream per test, real servers on it.

A module tunes its `server` with `pytestmark = pytest.mark.server(**options)`: any Config field, plus
`processor`, `gateways` (which parts run) and `users` (name -> password, added before the first test), and
`topologies=("serve", "gateway")` to run each test using `server` once per topology.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.broker import EmbeddedBroker
from core.jetstream import JetStreamLog, connect
from tests.outage import KillableBroker
from tests.servers import TOPOLOGIES, Running, Servers, unique_stream

__all__ = ["unique_stream"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server(**options): how this module's `server` fixture is started")
    config.addinivalue_line("markers", "http(timeout=seconds): a total timeout for this module's `http` session")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("server")
    topologies = marker.kwargs.get("topologies") if marker else None
    if topologies and "server" in metafunc.fixturenames:
        metafunc.parametrize("server", topologies, indirect=True)


@pytest.fixture(scope="session")
async def nats_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    root = tmp_path_factory.mktemp("nats")
    broker = EmbeddedBroker(root / "store", root / "run")
    url = await broker.start()
    yield url
    await broker.stop()


@pytest.fixture
async def jetstream_log(nats_url: str) -> AsyncIterator[JetStreamLog]:
    client = await connect([nats_url], name="tests")
    events = JetStreamLog(client, unique_stream())
    await events.ensure_stream()
    yield events
    await client.close()


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[KillableBroker]:
    """A nats-server of the test's own, which the test may kill with SIGKILL and start again."""
    broker = KillableBroker(tmp_path / "nats")
    await broker.start()
    yield broker
    await broker.kill()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def server_options(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    marker = node.get_closest_marker("server")
    options = dict(marker.kwargs) if marker else {}
    options.pop("topologies", None)
    return options


@pytest.fixture
async def make_server(nats_url: str, data_dir: Path) -> AsyncIterator[Servers]:
    """Starts servers with Config overrides, e.g. `await make_server(v2_sync_wait=0.1, processor=False)`."""
    servers = Servers(nats_url, data_dir)
    try:
        yield servers
    finally:
        await servers.stop()


@pytest.fixture
async def server(request: pytest.FixtureRequest, make_server: Servers) -> Running:
    """A real server of its own for this test, on its own stream and data directory."""
    topology = getattr(request, "param", "serve")
    assert topology in TOPOLOGIES, topology
    return await make_server.topology(topology, **server_options(request.node))


@pytest.fixture(scope="module")
async def shared_server(request: pytest.FixtureRequest, nats_url: str,
                        tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One server for a whole module, for suites that only read or that make many small requests."""
    servers = Servers(nats_url, tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "data")
    try:
        yield await servers(**server_options(request.node))
    finally:
        await servers.stop()


def session_options(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    marker = node.get_closest_marker("http")
    return {"timeout": aiohttp.ClientTimeout(total=marker.kwargs["timeout"])} if marker else {}


@pytest.fixture
async def http(request: pytest.FixtureRequest) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(**session_options(request.node)) as session:
        yield session


@pytest.fixture(scope="module")
async def shared_http(request: pytest.FixtureRequest) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(**session_options(request.node)) as session:
        yield session
