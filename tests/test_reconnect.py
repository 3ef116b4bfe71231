"""Broker outages: a server rides out a nats-server killed and restarted, and readers that stall resume."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import requests

from core.events import UserAdded
from core.jetstream import JetStreamLog, connect
from gateways.pumpio.state import UNAVAILABLE as OAUTH_UNAVAILABLE
from mediaplex.runtime import stream_settings
from store.feed import Feed
from store.projection import Projection
from tests import images, pumpclient
from tests.conftest import unique_stream
from tests.outage import KillableBroker
from tests.servers import Running, Servers

# Every wait below has this deadline; none of them measures speed.
DEADLINE = 60.0
UNAVAILABLE = "The media service is temporarily unavailable, try again in a moment"


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        assert loop.time() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def server(broker: KillableBroker, make_server: Servers) -> Running:
    return await make_server(nats_url=broker.url)


async def upload(
    http: aiohttp.ClientSession, server: Running, token: str, jpeg: bytes
) -> tuple[int, dict[str, object]]:
    body = aiohttp.FormData()
    body.add_field("file", io.BytesIO(jpeg), filename="in.jpg", content_type="image/jpeg")
    async with http.post(f"{server.url}/api/v2/media", data=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def processed(http: aiohttp.ClientSession, server: Running, token: str, media_id: object) -> bool:
    async with http.get(f"{server.url}/api/v1/media/{media_id}",
                        headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status in (200, 206), await response.text()
        return response.status == 200


async def readiness(http: aiohttp.ClientSession, server: Running) -> tuple[int, dict[str, object]]:
    async with http.get(f"{server.url}/readyz") as response:
        return response.status, await response.json()


async def test_a_server_rides_out_a_broker_killed_and_restarted(
    broker: KillableBroker, server: Running, tmp_path: Path
) -> None:
    token = await server.token("alice")
    jpeg = images.jpeg(tmp_path / "in.jpg", 64, 48).read_bytes()
    async with aiohttp.ClientSession() as http:
        status, first = await upload(http, server, token, jpeg)
        assert status in (200, 202)
        await eventually(lambda: processed(http, server, token, first["id"]), "the first upload processed")

        await broker.kill()
        await eventually(lambda: _is(readiness(http, server), 503), "not ready while the broker is down")
        status, body = await readiness(http, server)
        assert body["waiting"] == {"nats": "not connected"}
        # An upload that cannot reach the log is refused as unavailable, not lost without a word.
        status, refused = await upload(http, server, token, jpeg)
        assert (status, refused) == (503, {"error": UNAVAILABLE})

        # Same port, same file store: the stream and the processors' durable consumer survive.
        await broker.start()
        await eventually(lambda: _is(readiness(http, server), 200), "ready again")

        # The first upload after the restart is answered from a projection that follows the log again
        # (the gateway waits for its own event before answering), and the processor takes it.
        status, second = await upload(http, server, token, jpeg)
        assert status in (200, 202), second
        assert second["id"] != first["id"]
        await eventually(lambda: processed(http, server, token, second["id"]), "an upload after the restart processed")

        # Events from another writer keep arriving in the projection.
        client = await connect([broker.url], name="another-writer")
        try:
            other = JetStreamLog(client, stream_settings(server.config))
            seq = await other.append(UserAdded(at=time.time(), user_id="bob", password_hash="x"),
                                     msg_id=uuid.uuid4().hex)
        finally:
            await client.close()
        assert await server.projection.wait_for(seq, DEADLINE)
        assert await server.projection.one("SELECT 1 FROM users WHERE user_id = ?", ("bob",)) is not None
        # The refused upload never reached the log, not even once the connection was back.
        assert tuple(await server.projection.one("SELECT count(*) FROM media") or ()) == (2,)


async def test_a_following_read_carries_on_after_a_broker_restart(broker: KillableBroker) -> None:
    client = await connect([broker.url], name="tests")
    # nats-py would re-create the reader's consumer only after two missed heartbeats; with heartbeats
    # this slow, only the reader's own resubscription can bring the next event within the deadline.
    events = JetStreamLog(client, unique_stream(), heartbeat=DEADLINE)
    try:
        await events.ensure_stream()
        first = await events.append(UserAdded(at=time.time(), user_id="alice", password_hash="x"), msg_id="a")
        reader = events.read_batches(1, follow=True, size=100)
        try:
            async with asyncio.timeout(DEADLINE):
                assert [record.seq for record in await anext(reader)] == [first]
                await broker.kill()
                await broker.start()
                await eventually(_connected(events), "reconnected")
                second = await _append_when_ready(events, UserAdded(at=time.time(), user_id="bob", password_hash="x"))
                assert [record.seq for record in await anext(reader)] == [second]
        finally:
            await reader.aclose()
    finally:
        await client.close()


async def test_a_feed_whose_consumer_vanished_resumes_from_its_checkpoint(nats_url: str, tmp_path: Path) -> None:
    client = await connect([nats_url], name="tests")
    # A heartbeat so slow that nats-py's own re-creation of the consumer (after two missed ones)
    # cannot happen within the deadline: only the feed's watchdog can bring the reader back.
    events = JetStreamLog(client, unique_stream(), heartbeat=DEADLINE)
    projection = Projection(tmp_path / "projection.db")
    await projection.open()
    feed = asyncio.create_task(Feed(events, projection).run_forever(watch_every=0.5))
    try:
        await events.ensure_stream()
        first = await events.append(UserAdded(at=time.time(), user_id="alice", password_hash="x"), msg_id="a")
        assert await projection.wait_for(first, DEADLINE)

        # What a broker restart does to a reader's ephemeral consumer, without the restart.
        consumers = await events.jetstream.consumers_info(events.stream)
        assert consumers
        for consumer in consumers:
            await events.jetstream.delete_consumer(events.stream, consumer.name)

        second = await events.append(UserAdded(at=time.time(), user_id="bob", password_hash="x"), msg_id="b")
        assert await projection.wait_for(second, DEADLINE)
        assert projection.applied == second
    finally:
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)
        await projection.close()
        await client.close()


async def _is(answer: Awaitable[tuple[int, dict[str, object]]], status: int) -> bool:
    return (await answer)[0] == status


def _connected(events: JetStreamLog) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return events.connected

    return check


async def _append_when_ready(events: JetStreamLog, event: UserAdded) -> int:
    """Append once the restarted broker's JetStream answers (it recovers its streams first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        try:
            return await events.append(event, msg_id=uuid.uuid4().hex)
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_key_value_state_is_refused_as_unavailable_while_the_broker_is_gone(
    broker: KillableBroker, server: Running, tmp_path: Path
) -> None:
    """Upload claims and OAuth nonces live in the broker: without it each gateway answers its own 503."""
    token = await server.token("alice")
    client = await pumpclient.register_client(server.url)
    png = images.png(tmp_path / "in.png", 64, 48).read_bytes()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/media", json={"filename": "in.png", "contentType": "image/png"},
                             headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200, await response.text()
            granted = await response.json()

        await broker.kill()
        await eventually(lambda: _is(readiness(http, server), 503), "not ready while the broker is down")
        async with http.put(granted["uploadUrl"], data=png, headers={
            "Content-Type": "image/png", "Content-Disposition": granted["contentDispositionHeader"],
        }) as response:
            assert (response.status, await response.json()) == (503, {"error": UNAVAILABLE, "code": "unavailable"})
        answer = await asyncio.to_thread(requests.post, f"{server.url}/oauth/request_token", timeout=DEADLINE,
                                         auth=pumpclient.signer(client, callback_uri="oob"))
        assert (answer.status_code, answer.json()) == (503, {"error": OAUTH_UNAVAILABLE})

        await broker.start()
        await eventually(lambda: _is(readiness(http, server), 200), "ready again")
        # The refused upload claimed nothing: the same URL works now.
        async with http.put(granted["uploadUrl"], data=png, headers={
            "Content-Type": "image/png", "Content-Disposition": granted["contentDispositionHeader"],
        }) as response:
            assert response.status == 200, await response.text()
