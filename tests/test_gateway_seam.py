"""A gateway defined here, outside the package, plugs into the registry's seam and is driven through the kit."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import aiohttp
import msgspec
import pytest
from aiohttp import web

from core.events import MediaUpdated
from core.log import LogUnavailable
from core.probe import Limits, widest
from gateways.kit import writes
from gateways.kit.descriptor import Flag, Gateway
from gateways.kit.principal import require
from gateways.kit.refusal import ErrorStyle, Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon.settings import MastodonSettings
from gateways.presigned.settings import PresignedSettings
from gateways.registry import GATEWAYS, processing_limits, swept_vias
from gateways.transform.settings import TransformSettings
from mediaplex.cli import config_from, parser, settings_flags
from tests import images
from tests.servers import Running, Servers


class EchoSettings(msgspec.Struct, frozen=True):
    echo_greeting: str = "hello"


STARTED = web.AppKey("echo_started", bool)
STYLE = ErrorStyle(codes=True, unavailable="Echo is away", not_found="No echo here",
                   renames={"invalid_token": "who_are_you"})


async def whoami(request: web.Request) -> web.Response:
    principal = await require(request, "read")
    greeting = request.app[SERVICES].config.settings(EchoSettings).echo_greeting
    return web.json_response({"user": principal.user_id, "greeting": greeting, "started": request.app[STARTED]})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a secret detail that must not reach the client")


async def away(request: web.Request) -> web.Response:
    raise LogUnavailable("the broker is gone")


async def refuse(request: web.Request) -> web.Response:
    raise Refusal(409, "Already echoed", code="echoed", parameter="id")


async def describe(request: web.Request) -> web.Response:
    await require(request, "write")
    media_id = request.match_info["id"]
    event = MediaUpdated(at=time.time(), media_id=media_id, description="described by echo")
    await writes.append(request, event, msg_id=f"{media_id}.echo.{time.time_ns()}")
    return web.json_response({"described": media_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/echo/whoami", whoami)
    app.router.add_get("/echo/boom", boom)
    app.router.add_get("/echo/away", away)
    app.router.add_get("/echo/refuse", refuse)
    app.router.add_post("/echo/describe/{id}", describe)


async def echo_start(app: web.Application) -> None:
    app[STARTED] = True


ECHO = Gateway(
    name="echo",
    routes=add_routes,
    errors=STYLE,
    settings=EchoSettings,
    flags=(Flag("echo_greeting", "--echo-greeting", "what the echo gateway says"),),
    limits=Limits(max_pixels=1000),
    sweeps_unattached=True,
    via="echo",
    start=echo_start,
)

@pytest.fixture
async def echoing(make_server: Servers) -> Running:
    config = make_server.config().with_settings(EchoSettings(echo_greeting="hi"))
    return await make_server.start(config, registered=(*GATEWAYS, ECHO))


async def test_a_registered_gateway_is_served_through_the_kit(echoing: Running, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    token = await echoing.token("alice")
    bearer = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(echoing.url) as http:
        async with http.get("/echo/whoami") as r:
            assert r.status == 401
            assert await r.json() == {"error": "The access token is invalid", "code": "who_are_you"}
        async with http.get("/echo/whoami", headers=bearer) as r:
            assert r.status == 200
            assert await r.json() == {"user": "alice", "greeting": "hi", "started": True}
        with caplog.at_level(logging.ERROR, logger="gateways.kit.boundary"):
            async with http.get("/echo/boom") as r:
                assert r.status == 500
                body = await r.json()
        assert set(body) == {"error", "code"} and body["code"] == "internal_error"
        assert "secret detail" not in body["error"]
        error_id = body["error"].rsplit(" ", 1)[-1].rstrip(")")
        logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
        assert logged and logged[0].exc_info is not None
        async with http.get("/echo/away") as r:
            assert r.status == 503
            assert await r.json() == {"error": "Echo is away", "code": "unavailable"}
        async with http.get("/echo/refuse") as r:
            assert r.status == 409
            assert await r.json() == {"error": "Already echoed", "code": "echoed", "parameter": "id"}
        # A path under the gateway's folder that names nothing is its 404, in its words.
        async with http.get("/echo/nothing/here") as r:
            assert r.status == 404
            assert await r.json() == {"error": "No echo here", "code": "not_found"}
        async with http.post("/echo/whoami") as r:
            assert r.status == 405 and r.headers["Allow"] == "GET,HEAD"
            assert (await r.json())["code"] == "method_not_allowed"

        # The same media library as every other gateway: upload through Mastodon, describe through echo.
        path = images.jpeg(tmp_path / "a.jpg", 64, 48)
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename="a.jpg", content_type="image/jpeg")
        async with http.post("/api/v2/media", data=form, headers=bearer) as r:
            assert r.status in (200, 202)
            media_id = (await r.json())["id"]
        async with http.post(f"/echo/describe/{media_id}", headers=bearer) as r:
            assert r.status == 200
        async with http.get(f"/api/v1/media/{media_id}", headers=bearer) as r:
            assert (await r.json())["description"] == "described by echo"
        # Every other gateway keeps its own shape.
        async with http.get("/api/v1/media/123", headers=bearer) as r:
            assert r.status == 404 and await r.json() == {"error": "Record not found"}
        async with http.get("/healthz") as r:
            assert r.status == 200


def test_flags_and_settings_come_from_the_descriptor() -> None:
    top = argparse_with(ECHO, {})
    assert top.parse_args([]).echo_greeting == "hello"
    assert argparse_with(ECHO, {"MEDIAPLEX_ECHO_GREETING": "from env"}).parse_args([]).echo_greeting == "from env"
    assert top.parse_args(["--echo-greeting", "flag"]).echo_greeting == "flag"
    # The real command line has every registered gateway's flags, and turns them into that gateway's settings.
    args = parser({}).parse_args(["serve"])
    config = config_from(args)
    for gateway in GATEWAYS:
        if gateway.settings is None:
            continue
        defaults = gateway.settings()
        for flag in gateway.flags:
            assert getattr(args, flag.dest) == getattr(defaults, flag.field)
        assert config.settings(gateway.settings) == defaults
    env = {"MEDIAPLEX_V2_SYNC_WAIT": "2.5", "MEDIAPLEX_UPLOAD_URL_TTL": "60"}
    changed = config_from(parser(env).parse_args(["serve", "--transform-key", "k"]))
    assert changed.settings(MastodonSettings).v2_sync_wait == 2.5
    assert changed.settings(PresignedSettings).upload_url_ttl == 60.0
    assert changed.settings(TransformSettings).transform_key == "k"


def argparse_with(gateway: Gateway, env: dict[str, str]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser()
    settings_flags(top, env, gateway)
    return top


def test_limits_and_sweep_policy_come_from_the_registry() -> None:
    everyone = (*GATEWAYS, ECHO)
    assert processing_limits(everyone) == widest(*(g.limits for g in everyone if g.limits is not None))
    assert processing_limits(GATEWAYS).max_pixels == max(g.limits.max_pixels for g in GATEWAYS if g.limits)
    assert swept_vias(GATEWAYS) == ("mastodon", "pumpio", "presigned")
    assert swept_vias(everyone) == ("mastodon", "pumpio", "presigned", "echo")
