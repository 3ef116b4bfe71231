"""The contract every registered gateway keeps, run over each of them.

Each gateway's probes (a request that needs a credential, one naming an unknown id, one too large, one
that must reach the log) live in PROBES; a registered gateway without probes fails the suite, so a new
protocol cannot skip it.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import requests
from aiohttp import web

from core.log import LogUnavailable
from gateways.kit.descriptor import Gateway
from gateways.registry import GATEWAYS
from tests import images
from tests.outage import KillableBroker
from tests.pumpclient import signer
from tests.servers import Running, Servers

BY_NAME = {g.name: g for g in GATEWAYS}
JPEG_NAME = "probe.jpg"


class Probe(msgspec.Struct, frozen=True):
    method: str
    path: str
    # "token" puts the caller's bearer token on it, "none" sends no credential, "bad" a made-up one.
    credential: str = "token"
    json: Any = None
    multipart: bool = False
    # A body of this many bytes (Content-Length set, the bytes sent), for the size probe.
    size: int = 0
    status: int = 0


class Probes(msgspec.Struct, frozen=True):
    # A request refused without credentials, and the status of that refusal.
    protected: Probe | None
    unknown: Probe
    too_large: Probe | None
    # A request that appends to the log: 503 while the broker is away.
    writes: Probe | None


PROBES: dict[str, Probes] = {
    "mastodon": Probes(
        protected=Probe("GET", "/api/v1/media/1", status=401),
        unknown=Probe("GET", "/api/v1/media/999999", status=404),
        # Past the larger of the image and video limits: refused from its Content-Length.
        too_large=Probe("POST", "/api/v2/media", size=100 * 1024 * 1024, status=422),
        writes=Probe("POST", "/api/v2/media", multipart=True),
    ),
    "pumpio": Probes(
        protected=Probe("GET", "/api/whoami", status=401),
        unknown=Probe("GET", "/api/user/nobody-at-all/profile", credential="none", status=401),
        too_large=Probe("POST", "/api/client/register", size=2 * 1024 * 1024, status=413),
        writes=Probe("POST", "/api/client/register", credential="none", json={"type": "client_associate"}),
    ),
    "presigned": Probes(
        protected=Probe("POST", "/media", json={"filename": "a.png", "contentType": "image/png"}, status=401),
        unknown=Probe("GET", "/media/123456789", status=404),
        too_large=Probe("POST", "/media", size=64 * 1024, status=413),
        writes=Probe("POST", "/media", json={"filename": "a.png", "contentType": "image/png"}),
    ),
    "posts": Probes(
        protected=Probe("POST", "/posts", json={"spaceDID": "did:example:1", "body": "hi"}, status=401),
        unknown=Probe("GET", "/posts/no-such-post", status=404),
        too_large=Probe("POST", "/posts", size=256 * 1024, status=413),
        writes=Probe("POST", "/posts", json={"spaceDID": "did:example:1", "body": "hi"}),
    ),
    "transform": Probes(
        protected=None,
        unknown=Probe("GET", "/media/sha256/" + "0" * 64, credential="none", status=404),
        too_large=None,
        writes=None,
    ),
    # Pages for people: refusals are HTML pages, and a form without its CSRF token is the protected request.
    "web": Probes(
        protected=Probe("POST", "/logout", credential="none", status=403),
        unknown=Probe("GET", "/console/no-such-page", credential="none", status=404),
        too_large=Probe("POST", "/login", size=64 * 1024, status=413),
        writes=None,
    ),
}


def content_type(gateway: Gateway) -> str:
    return "text/html" if gateway.errors.html else "application/json"


def shape_ok(gateway: Gateway, body: Any) -> bool:
    if gateway.errors.html:
        return isinstance(body, str) and '<p id="error">' in body and "Traceback" not in body
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not body["error"]:
        return False
    if gateway.errors.codes:
        return isinstance(body.get("code"), str) and set(body) <= {"error", "code", "parameter"}
    return set(body) == {"error"}


async def send(http: aiohttp.ClientSession, url: str, probe: Probe, token: str, jpeg: bytes,
               credential: str | None = None) -> tuple[int, str, Any]:
    headers: dict[str, str] = {}
    which = credential or probe.credential
    if which == "token":
        headers["Authorization"] = f"Bearer {token}"
    elif which == "bad":
        headers["Authorization"] = "Bearer not-a-token-anybody-issued"
    data: Any = None
    if probe.multipart:
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(jpeg), filename=JPEG_NAME, content_type="image/jpeg")
        data = form
    elif probe.size:
        headers["Content-Type"] = "application/json"
        data = b"[" + b" " * (probe.size - 2) + b"]"
    async with http.request(probe.method, url + probe.path, json=probe.json, data=data, headers=headers) as r:
        text = await r.text()
        try:
            body = msgspec.json.decode(text)
        except msgspec.DecodeError:
            body = text
        return r.status, r.content_type, body


async def answer(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    return await response.json() if response.content_type == "application/json" else text


def error_of(body: Any) -> str:
    """The refusal's message: the JSON's `error`, or the error paragraph of a page."""
    if isinstance(body, dict):
        return str(body["error"])
    return str(body).split('<p id="error">', 1)[1].split("</p>", 1)[0]


def test_every_registered_gateway_has_probes() -> None:
    assert set(PROBES) == set(BY_NAME)


pytestmark = pytest.mark.server(processor=False)


@pytest.fixture(scope="module")
async def served(shared_server: Running) -> tuple[Running, str]:
    return shared_server, await shared_server.token("alice")


@pytest.mark.parametrize("name", sorted(PROBES))
async def test_credentials_unknown_ids_and_sizes_are_refused_in_the_gateways_shape(
    name: str, served: tuple[Running, str], tmp_path: Path
) -> None:
    running, token = served
    gateway, probes = BY_NAME[name], PROBES[name]
    jpeg = images.jpeg(tmp_path / JPEG_NAME, 32, 24).read_bytes()
    async with aiohttp.ClientSession() as http:
        if probes.protected is not None:
            for credential in ("none", "bad"):
                status, kind, body = await send(http, running.url, probes.protected, token, jpeg, credential)
                assert (status, kind) == (probes.protected.status, content_type(gateway)), body
                assert shape_ok(gateway, body), body
        for probe in (probes.unknown, probes.too_large):
            if probe is None:
                continue
            status, kind, body = await send(http, running.url, probe, token, jpeg)
            assert (status, kind) == (probe.status, content_type(gateway)), (probe, body)
            assert shape_ok(gateway, body), body
        async with http.get(running.url + "/healthz") as r:
            assert r.status == 200


@pytest.mark.parametrize("name", sorted(PROBES))
async def test_head_answers_like_get(name: str, served: tuple[Running, str]) -> None:
    running, _ = served
    probe = PROBES[name].unknown
    async with aiohttp.ClientSession() as http:
        async with http.get(running.url + probe.path) as got, http.head(running.url + probe.path) as head:
            assert head.status == got.status
            assert head.content_type == got.content_type == content_type(BY_NAME[name])
            assert await head.read() == b""


@pytest.mark.parametrize("name", sorted(PROBES))
async def test_an_unexpected_error_is_a_500_in_the_gateways_shape(name: str, make_server: Servers) -> None:
    """A route that crashes, added through the gateway's own descriptor, answers with an error id and no internals."""
    real = BY_NAME[name]

    async def crash(request: web.Request) -> web.Response:
        raise KeyError("internal detail")

    async def away(request: web.Request) -> web.Response:
        raise LogUnavailable("gone")

    def routes(app: web.Application) -> None:
        real.routes(app)
        app.router.add_get(f"/contract-{name}/crash", crash)
        app.router.add_get(f"/contract-{name}/away", away)

    probed = msgspec.structs.replace(real, routes=routes)
    others = tuple(g for g in GATEWAYS if g.name != name)
    running = await make_server(processor=False, registered=(*others, probed))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running.url}/contract-{name}/crash") as r:
            body = await answer(r)
            assert r.status == 500 and shape_ok(real, body), body
            assert "error id" in error_of(body) and "internal detail" not in error_of(body)
        async with http.get(f"{running.url}/contract-{name}/away") as r:
            body = await answer(r)
            assert r.status == 503 and shape_ok(real, body) and error_of(body) == real.errors.unavailable


async def test_every_write_is_a_503_in_the_gateways_shape_while_the_broker_is_away(
    broker: KillableBroker, make_server: Servers, tmp_path: Path
) -> None:
    running = await make_server(nats_url=broker.url, processor=False)
    token = await running.token("alice")
    jpeg = images.jpeg(tmp_path / JPEG_NAME, 32, 24).read_bytes()
    await broker.kill()
    writes = {name: p.writes for name, p in PROBES.items() if p.writes is not None}
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(send(http, running.url, probe, token, jpeg) for probe in writes.values()))
        for name, (status, kind, body) in zip(writes, answers, strict=True):
            gateway = BY_NAME[name]
            assert (status, kind) == (503, "application/json"), (name, body)
            assert shape_ok(gateway, body) and error_of(body) == gateway.errors.unavailable, (name, body)
        async with http.get(running.url + "/healthz") as r:
            assert r.status == 200



def oauth1_header(url: str, method: str) -> dict[str, str]:
    """An OAuth 1.0a signature by a client nobody registered, for a token nobody issued."""
    prepared = requests.Request(method, url, auth=signer(("client-nobody-registered", "secret"),
                                                             ("token-nobody-issued", "secret"))).prepare()
    value = prepared.headers["Authorization"]
    return {"Authorization": value.decode() if isinstance(value, bytes) else value}


async def test_a_credential_not_folded_yet_is_a_503_in_the_gateways_shape_while_the_broker_is_away(
    broker: KillableBroker, make_server: Servers
) -> None:
    # A credential the read model does not hold may have been issued a moment ago: with the log away
    # nobody can tell, so the answer is "try again", never "invalid token" and never a 500.
    running = await make_server(nats_url=broker.url, processor=False)
    await broker.kill()
    probes = {name: p.protected for name, p in PROBES.items() if p.protected is not None}

    async def ask(http: aiohttp.ClientSession, name: str, probe: Probe) -> tuple[int, Any]:
        url = running.url + probe.path
        headers = (oauth1_header(url, probe.method) if name == "pumpio"
                   else {"Authorization": "Bearer not-a-token-anybody-issued"})
        async with http.request(probe.method, url, json=probe.json, headers=headers) as r:
            return r.status, await answer(r)

    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(ask(http, name, probe) for name, probe in probes.items()))
        assert set(probes) >= {"mastodon", "pumpio", "presigned"}
        for name, (status, body) in zip(probes, answers, strict=True):
            gateway = BY_NAME[name]
            assert status == 503, (name, body)
            assert shape_ok(gateway, body) and error_of(body) == gateway.errors.unavailable, (name, body)
        async with http.get(running.url + "/healthz") as r:
            assert r.status == 200
