"""Shared fixtures: one real nats-server for the session, a fresh stream per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.broker import EmbeddedBroker
from core.jetstream import JetStreamLog, StreamSettings, connect
from tests.outage import KillableBroker


@pytest.fixture(scope="session")
async def nats_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    root = tmp_path_factory.mktemp("nats")
    broker = EmbeddedBroker(root / "store", root / "run")
    url = await broker.start()
    yield url
    await broker.stop()


def unique_stream() -> StreamSettings:
    """A stream of its own for one test, so tests never see each other's events."""
    tag = uuid.uuid4().hex[:12]
    return StreamSettings(name=f"T{tag}", prefix=f"t{tag}")


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
