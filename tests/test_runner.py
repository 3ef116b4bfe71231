"""What aiohttp's HTTP parser refuses is answered as {"error"} JSON, and logged as one line."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import pytest

from mediaplex import runner
from tests.hostile import raw
from tests.servers import Running


@pytest.mark.parametrize(("target", "headers", "error"), [
    (b"/api/v1/media/" + b"9" * 9_000, [], runner.TOO_LONG),
    (b"/api/v1/media", [(b"X-Hostile", b"a\x00b")], runner.NOT_HTTP),
])
async def test_a_request_the_parser_refuses_is_answered_as_json_and_logged_without_a_traceback(
        server: Running, caplog: pytest.LogCaptureFixture, target: bytes, headers: list[raw.Header],
        error: str) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    reply = await raw.send(address.hostname, address.port, raw.encode(b"GET", target, headers))
    assert reply.status == 400 and reply.headers["content-type"].startswith("application/json")
    assert json.loads(reply.body) == {"error": error}
    logged = [record for record in caplog.records if record.name == "aiohttp.server"]
    assert [record.levelno for record in logged] == [logging.INFO]
    assert logged[0].exc_info is None and "refused by the HTTP parser" in logged[0].getMessage()
    healthy = await raw.send(address.hostname, address.port, raw.encode(b"GET", b"/healthz", []))
    assert healthy.status == 200
