"""`/metrics` on every role, the request id on every answer, and one id from the request to its processing."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from pathlib import Path

import aiohttp
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import images
from tests.outage import KillableBroker
from tests.servers import Running, Servers

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Roles(msgspec.Struct):
    gateway: Running
    processor: Running


@pytest.fixture
async def roles(make_server: Servers, tmp_path: Path) -> Roles:
    config = make_server.config(data_dir=tmp_path / "gateway", blobs_dir=tmp_path / "blobs")
    gateway = await make_server.start(config, processor=False)
    processor = await make_server.start(msgspec.structs.replace(config, data_dir=tmp_path / "processor"),
                                        gateways=False)
    return Roles(gateway=gateway, processor=processor)


async def scrape(http: aiohttp.ClientSession, url: str) -> tuple[set[str], Samples]:
    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def upload(http: aiohttp.ClientSession, gateway: Running, tmp_path: Path,
                 **headers: str) -> aiohttp.ClientResponse:
    token = await gateway.token("alice")
    body = aiohttp.FormData()
    body.add_field("file", io.BytesIO(images.jpeg(tmp_path / "in.jpg", 320, 240).read_bytes()),
                   filename="in.jpg", content_type="image/jpeg")
    async with http.post(f"{gateway.url}/api/v1/media", data=body,
                         headers={"Authorization": f"Bearer {token}", **headers}) as response:
        await response.read()
        return response


async def test_counters_move_with_requests_and_processing(
    roles: Roles, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gateway, processor = roles.gateway, roles.processor
    _, before = await scrape(http, gateway.url)
    _, processed_before = await scrape(http, processor.url)
    async with http.get(f"{gateway.url}/api/v1/instance") as response:
        assert response.status == 200
    async with http.get(f"{gateway.url}/no/such/path/12345") as response:
        assert response.status == 404
    response = await upload(http, gateway, tmp_path)
    assert response.status == 200

    names, after = await scrape(http, gateway.url)
    requests = "mediaplex_http_requests_total"
    instance = {"gateway": "mastodon", "route": "/api/v1/instance", "status": "200"}
    assert value(after, requests, **instance) == value(before, requests, **instance) + 1
    unmatched = {"gateway": "unmatched", "route": "unmatched", "status": "404"}
    assert value(after, requests, **unmatched) == value(before, requests, **unmatched) + 1
    # The raw path never becomes a label.
    assert not any("12345" in str(key) for key in after)
    assert value(after, "mediaplex_http_request_duration_seconds_count",
                 gateway="mastodon", route="/api/v1/media") == 1
    assert value(after, "mediaplex_uploads_total", via="mastodon") == 1
    assert value(after, "mediaplex_upload_bytes_total", via="mastodon") > 1000
    assert value(after, "mediaplex_append_duration_seconds_count") > value(before,
                                                                           "mediaplex_append_duration_seconds_count")
    assert {"mediaplex_queue_pending_messages", "mediaplex_projection_lag_events",
            "mediaplex_projection_lag_seconds", "mediaplex_broker_reconnects"} <= names
    assert value(after, "mediaplex_queue_pending_messages", consumer="processors") == 0
    assert value(after, "mediaplex_projection_lag_events") == 0

    names, processed = await scrape(http, processor.url)
    count = "mediaplex_processing_duration_seconds_count"
    ready = {"kind": "image", "outcome": "ready"}
    assert value(processed, count, **ready) == value(processed_before, count, **ready) + 1
    assert "mediaplex_queue_pending_messages" in names
    # The processor's port counts its own requests: the scrape before this one, at least.
    scraped = {"gateway": "meta", "route": "/metrics", "status": "200"}
    assert value(processed, "mediaplex_http_requests_total", **scraped) >= 1
    assert not any(dict(labels).get("gateway", "meta") != "meta"
                   for name, labels in processed if name.startswith("mediaplex_http_requests"))


async def test_the_request_id_round_trips_and_bad_ones_are_replaced(
    roles: Roles, http: aiohttp.ClientSession
) -> None:
    url = roles.gateway.url
    async with http.get(f"{url}/healthz", headers={"X-Request-Id": "abc-123.x"}) as response:
        assert response.headers["X-Request-Id"] == "abc-123.x"
    async with http.get(f"{url}/api/v1/media/nothing") as response:
        assert response.status in (401, 404)
        generated = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{16}", generated)
    for hostile in (b"x" * 500, b"a\tb\xc3\xa9", b"evil value; with spaces"):
        # Raw bytes: a client library refuses to send most of these at all.
        status, answered = await raw_get(url, hostile)
        assert status == 404
        assert answered.encode() != hostile and re.fullmatch(r"[0-9a-f]{16}", answered), answered
    # aiohttp's parser refuses other control characters before any middleware; nothing is echoed.
    assert await raw_get(url, b"a\x7fb\x1b[31m") == (400, "")


async def raw_get(url: str, request_id: bytes) -> tuple[int, str]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: " + request_id
                     + b"\r\n\r\n")
        head = (await reader.read(65536)).split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    finally:
        writer.close()
    fields = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), fields.get("X-Request-Id", "")


async def test_one_upload_is_logged_under_one_id_from_request_to_processing(
    roles: Roles, http: aiohttp.ClientSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await upload(http, roles.gateway, tmp_path, **{"X-Request-Id": "follow-me-42"})
    assert response.status == 200 and response.headers["X-Request-Id"] == "follow-me-42"
    lines = [r.getMessage() for r in caplog.records if "request_id=follow-me-42" in r.getMessage()]
    by_logger = {r.name for r in caplog.records if "request_id=follow-me-42" in r.getMessage()}
    assert any("route=/api/v1/media" in line and "status=200" in line for line in lines), lines
    assert any(line.startswith("append") and "event=MediaUploaded" in line for line in lines), lines
    assert any(line.startswith("processed") and "outcome=ready" in line for line in lines), lines
    assert {"mediaplex.access", "core.jetstream", "processors.worker"} <= by_logger


async def test_a_scrape_answers_while_the_broker_is_away(
    broker: KillableBroker, make_server: Servers, http: aiohttp.ClientSession
) -> None:
    running = await make_server(nats_url=broker.url)
    names, _ = await scrape(http, running.url)
    assert "mediaplex_queue_pending_messages" in names
    await broker.kill()
    try:
        names, samples = await scrape(http, running.url)
        # The values read before the broker went stay; the scrape itself never fails.
        assert "mediaplex_projection_lag_events" in names
        assert ("mediaplex_queue_pending_messages", frozenset({("consumer", "processors")})) in samples
    finally:
        await broker.start()
    # Reconnects are counted once the client is back and a scrape reads them.
    deadline = asyncio.get_running_loop().time() + 15
    while value((await scrape(http, running.url))[1], "mediaplex_broker_reconnects_total") < 1:
        assert asyncio.get_running_loop().time() < deadline, "no reconnect counted"
        await asyncio.sleep(0.2)
