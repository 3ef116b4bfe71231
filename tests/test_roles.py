"""The `gateway` and `processor` roles: separate servers sharing one stream, one consumer and one blob store."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import msgspec.yaml
import pytest
import requests

from core.broker import nats_server_binary
from core.config import Config
from mediaplex.cli import config_from, parser
from mediaplex.server import Parts, Server
from processors.worker import ProcessorSettings
from tests import images
from tests.cluster import MEDIAPLEX, Role
from tests.servers import Running, Servers, make_config

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("--data", "--nats", "--blobs", "--blob-cache-bytes", "MEDIAPLEX_BLOB_CACHE_BYTES")
# Every command that may be the first to connect, and so create the stream.
CREATES = (*SHARED, "--stream-replicas", "MEDIAPLEX_STREAM_REPLICAS")
GATEWAY = (*CREATES, "--host", "--port", "--public-url", "--unposted-ttl", "--upload-secret", "--transform-key",
           "MEDIAPLEX_PORT", "MEDIAPLEX_BLOBS", "MEDIAPLEX_NATS")
PROCESSING = ("--processor-concurrency", "MEDIAPLEX_PROCESSOR_CONCURRENCY", "--av-concurrency",
              "MEDIAPLEX_AV_CONCURRENCY", "--media", "MEDIAPLEX_MEDIA")
FLAGS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("serve",): (*GATEWAY, *PROCESSING),
    ("gateway",): GATEWAY,
    ("processor",): (*CREATES, "--host", "--port", "8081", *PROCESSING),
    ("user", "add"): (*CREATES, "--password"),
    ("token", "create"): (*CREATES, "--scopes"),
    ("rebuild",): CREATES,
    ("reprocess",): CREATES,
    ("digest",): SHARED,
    ("sign-url",): ("--transform-key",),
    ("blobs", "copy"): (*CREATES, "--from", "--to"),
}


class Roles(msgspec.Struct):
    gateway: Running
    processor: Running


@pytest.fixture
async def roles(make_server: Servers, tmp_path: Path) -> Roles:
    gateway_config = make_server.config(data_dir=tmp_path / "gateway", blobs_dir=tmp_path / "shared-blobs")
    # The same stream, but a data directory of its own: only the blobs are shared.
    processor_config = msgspec.structs.replace(gateway_config, data_dir=tmp_path / "processor")
    gateway = await make_server.start(gateway_config, processor=False)
    processor = await make_server.start(processor_config, gateways=False)
    return Roles(gateway=gateway, processor=processor)


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def upload_photo(http: aiohttp.ClientSession, gateway: Running, tmp_path: Path) -> tuple[bytes, dict[str, Any]]:
    """A 640x480 JPEG through the gateway's Mastodon API, processed before the answer: its bytes and media."""
    token = await gateway.token("alice")
    jpeg = images.jpeg(tmp_path / "in.jpg", 640, 480).read_bytes()
    body = aiohttp.FormData()
    body.add_field("file", io.BytesIO(jpeg), filename="in.jpg", content_type="image/jpeg")
    async with http.post(f"{gateway.url}/api/v1/media", data=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        media: dict[str, Any] = await response.json()
    assert media["meta"]["small"]["size"] == "554x416"
    return jpeg, media


async def test_an_upload_through_the_gateway_is_processed_by_the_processor(
    roles: Roles, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gateway, processor = roles.gateway, roles.processor
    for running in (gateway, processor):
        assert await get_json(http, f"{running.url}/healthz") == (200, {"status": "ok"})
        assert await get_json(http, f"{running.url}/readyz") == (200, {"status": "ready"})
    # The processor's port serves health only.
    async with http.get(f"{processor.url}/api/v1/instance") as response:
        assert response.status == 404

    jpeg, media = await upload_photo(http, gateway, tmp_path)

    # Only the processor role processes, and the blob it read is in the shared directory.
    shared = gateway.config.blobs
    assert processor.config.blobs == shared
    assert [p.read_bytes() for p in shared.rglob("*") if p.is_file()] == [jpeg]
    assert not (gateway.config.data_dir / "blobs").exists()
    assert any(processor.config.renditions.rglob("*.jpg"))
    assert processor.server.projection is None
    # Renditions are derived: the gateway renders its own copy on first request.
    async with http.get(media["preview_url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"


async def test_roles_that_share_only_nats_keep_the_blobs_in_its_object_store(
    make_server: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gateway_config = make_server.config(data_dir=tmp_path / "gateway", blob_store="nats")
    processor_config = msgspec.structs.replace(gateway_config, data_dir=tmp_path / "processor")
    gateway = await make_server.start(gateway_config, processor=False)
    processor = await make_server.start(processor_config, gateways=False)
    jpeg, media = await upload_photo(http, gateway, tmp_path)
    # No blob directory anywhere: the processor fetched the bytes from the bucket.
    for running in (gateway, processor):
        assert not (running.config.data_dir / "blobs").exists()
    bucket = await gateway.events.jetstream.object_store(gateway_config.blob_bucket)
    (stored,) = await bucket.list()
    assert (await bucket.get(stored.name)).data == jpeg
    assert [p.read_bytes() for p in processor.config.blob_cache.glob("cache/**/*") if p.is_file()] == [jpeg]
    async with http.get(media["preview_url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"


async def test_renditions_and_variants_are_made_once_and_read_by_every_gateway(
    make_server: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    first_config = make_server.config(data_dir=tmp_path / "first", blob_store="nats")
    first = await make_server.start(first_config, processor=False)
    second = await make_server.start(msgspec.structs.replace(first_config, data_dir=tmp_path / "second", port=0),
                                     processor=False)
    processor = await make_server.start(msgspec.structs.replace(first_config, data_dir=tmp_path / "processor"),
                                        gateways=False)
    _, media = await upload_photo(http, first, tmp_path)
    # .../media/files/BLOB/vVERSION/original.jpg
    blob, version, _ = media["url"].split("/files/")[1].split("/")
    # The processor kept what it rendered in the renditions bucket before its outcome was appended.
    bucket = await first.events.jetstream.object_store(first_config.derived_bucket("renditions"))
    kept = sorted(info.name for info in await bucket.list())
    assert kept == [f"{blob}/{version}/{name}" for name in ("original.jpg", "small.jpg", "thumb.jpg")]
    made = {name: (processor.config.renditions / blob[:2] / name).read_bytes() for name in kept}

    original = media["url"].removeprefix(first.url)
    for gateway in (first, second):
        for path in (original, media["preview_url"].removeprefix(first.url)):
            async with http.get(gateway.url + path) as response:
                assert response.status == 200
                served = await response.read()
            assert served == made[path.split("/files/")[1]]
        # Fetched from the bucket into a bounded cache, and served with ranges from there.
        async with http.get(gateway.url + original, headers={"Range": "bytes=10-19"}) as response:
            assert response.status == 206
            assert await response.read() == made[original.split("/files/")[1]][10:20]
        assert gateway.server.services is not None
        assert gateway.server.services.renderer.renders == 0  # type: ignore[attr-defined]

    # A transformation rendered by one gateway is read by the other, not rendered again.
    async with http.get(f"{first.url}{original}?w=120&fm=webp") as response:
        assert response.status == 200
        variant = await response.read()
    await first.server.variants.written()  # type: ignore[union-attr]
    async with http.get(f"{second.url}{original}?w=120&fm=webp") as response:
        assert response.status == 200 and await response.read() == variant
    assert (first.server.variants.renders, second.server.variants.renders) == (1, 0)  # type: ignore[union-attr]
    variants = await first.events.jetstream.object_store(first_config.derived_bucket("variants"))
    (stored,) = await variants.list()
    assert stored.name.startswith(f"{blob}/") and (await variants.get(stored.name)).data == variant


async def test_readyz_names_what_is_not_ready(roles: Roles, http: aiohttp.ClientSession) -> None:
    processor = roles.processor
    lanes = processor.server._processing
    durable = ProcessorSettings().durable
    assert set(lanes) == {durable, "processors-video", "processors-audio"}
    # A consumer the processor is not bound to: deleting its real one would race the processor re-creating it.
    lanes["no-such-consumer"] = lanes.pop(durable)
    status, body = await get_json(http, f"{processor.url}/readyz")
    assert status == 503 and body["status"] == "not ready"
    assert isinstance(body["waiting"], dict) and "no-such-consumer" in str(body["waiting"]["processor"])
    lanes[durable] = lanes.pop("no-such-consumer")
    assert await get_json(http, f"{processor.url}/readyz") == (200, {"status": "ready"})
    # A processor whose work stopped is not ready either, whichever lane stopped.
    task = lanes[durable]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    status, body = await get_json(http, f"{processor.url}/readyz")
    assert (status, body["waiting"]) == (503, {"processor": f"{durable} not running"})
    # Liveness does not depend on readiness.
    assert await get_json(http, f"{processor.url}/healthz") == (200, {"status": "ok"})
    assert await get_json(http, f"{roles.gateway.url}/readyz") == (200, {"status": "ready"})


async def test_a_server_not_started_is_not_ready(nats_url: str, data_dir: Path) -> None:
    server = Server(make_config(nats_url, data_dir), parts=Parts(processor=False))
    assert await server.readiness() == {"nats": "not connected"}


@pytest.mark.parametrize("role", ["gateway", "processor"])
def test_a_role_without_nats_exits_2_with_a_message(role: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MEDIAPLEX_DATA": str(tmp_path / "data")}
    result = subprocess.run([*MEDIAPLEX, role, "--port", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "--nats" in result.stderr and "required" in result.stderr
    assert not (tmp_path / "data" / "nats").exists()


def test_nats_and_blobs_reach_the_config_from_flags_and_environment(tmp_path: Path) -> None:
    urls = "nats://a:4222, nats://b:4222,nats://c:4222"
    for argv in (["gateway"], ["processor"], ["serve"], ["user", "add", "bob"], ["token", "create", "bob"],
                 ["rebuild"], ["digest"]):
        config = config_from(parser({}).parse_args([*argv, "--nats", urls, "--blobs", str(tmp_path / "b")]))
        assert config.nats_urls == ("nats://a:4222", "nats://b:4222", "nats://c:4222")
        assert config.blobs == tmp_path / "b"
        env = {"MEDIAPLEX_NATS": urls, "MEDIAPLEX_BLOBS": str(tmp_path / "e"), "MEDIAPLEX_DATA": str(tmp_path)}
        from_env = config_from(parser(env).parse_args(argv))
        assert from_env.nats_urls == config.nats_urls and from_env.blobs == tmp_path / "e"
        assert config.blob_store == from_env.blob_store == "file"
        in_nats = config_from(parser({"MEDIAPLEX_BLOBS": "nats://"}).parse_args(argv))
        assert in_nats.blob_store == config_from(parser({}).parse_args([*argv, "--blobs", "nats://"])).blob_store
        assert in_nats.blob_store == "nats"
        assert config_from(parser({}).parse_args([*argv, "--data", str(tmp_path)])).blobs == tmp_path / "blobs"
    assert config_from(parser({}).parse_args(["processor"])).port == 8081
    assert config_from(parser({}).parse_args(["processor"])).stream_replicas == 1
    assert config_from(parser({}).parse_args(["gateway", "--stream-replicas", "3"])).stream_replicas == 3
    assert config_from(parser({"MEDIAPLEX_STREAM_REPLICAS": "3"}).parse_args(["rebuild"])).stream_replicas == 3
    assert config_from(parser({}).parse_args(["gateway"])).port == Config().port
    assert config_from(parser({}).parse_args(["processor"])).processor_concurrency == Config().processor_concurrency
    assert config_from(parser({}).parse_args(["processor", "--processor-concurrency", "1"])).processor_concurrency == 1
    env = {"MEDIAPLEX_PROCESSOR_CONCURRENCY": "3"}
    assert config_from(parser(env).parse_args(["serve"])).processor_concurrency == 3
    with pytest.raises(SystemExit):
        parser({}).parse_args(["processor", "--processor-concurrency", "0"])
    # One consumer per kind of work; a process runs all of them unless told which.
    assert config_from(parser({}).parse_args(["processor"])).processor_lanes == ("image", "video", "audio")
    assert config_from(parser({}).parse_args(["processor", "--media", "video"])).processor_lanes == ("video",)
    assert config_from(parser({"MEDIAPLEX_MEDIA": "audio"}).parse_args(["serve"])).processor_lanes == ("audio",)
    assert config_from(parser({}).parse_args(["processor", "--av-concurrency", "2"])).av_concurrency == 2
    for bad in (["processor", "--media", "pictures"], ["processor", "--av-concurrency", "0"]):
        with pytest.raises(SystemExit):
            parser({}).parse_args(bad)
    with pytest.raises(SystemExit):
        parser({"MEDIAPLEX_MEDIA": "everything"}).parse_args(["processor"])


def test_the_blob_cache_bound_reaches_the_config_from_a_flag_or_the_environment() -> None:
    assert config_from(parser({}).parse_args(["gateway"])).blob_cache_bytes == Config().blob_cache_bytes
    for given, size in (("500M", 500 * 2**20), ("3g", 3 * 2**30), ("123456", 123456)):
        assert config_from(parser({}).parse_args(["processor", "--blob-cache-bytes", given])).blob_cache_bytes == size
    from_env = parser({"MEDIAPLEX_BLOB_CACHE_BYTES": "64K"}).parse_args(["serve"])
    assert config_from(from_env).blob_cache_bytes == 64 * 1024
    for bad in ("0", "-5M", "lots", "2T", ""):
        with pytest.raises(SystemExit):
            parser({}).parse_args(["gateway", "--blob-cache-bytes", bad])


@pytest.mark.parametrize("command", list(FLAGS), ids=" ".join)
def test_help_of_every_command_lists_its_flags(command: tuple[str, ...]) -> None:
    out = subprocess.run([*MEDIAPLEX, *command, "--help"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    missing = [flag for flag in FLAGS[command] if flag not in out]
    assert missing == []


class Deploy(msgspec.Struct):
    replicas: int = 1


class Service(msgspec.Struct):
    command: list[str] | str | None = None
    environment: dict[str, str] | None = None
    image: str | None = None
    deploy: Deploy | None = None
    volumes: list[str] = []

    @property
    def replicas(self) -> int:
        return self.deploy.replicas if self.deploy is not None else 1

    def mounts(self) -> dict[str, str]:
        """Where each volume or file is mounted, by its name."""
        return {source: target.split(":")[0] for source, _, target in (v.partition(":") for v in self.volumes)}


class Compose(msgspec.Struct):
    services: dict[str, Service]
    volumes: dict[str, dict[str, object] | None] = {}

    def roles(self, role: str) -> dict[str, Service]:
        return {name: s for name, s in self.services.items()
                if isinstance(s.command, list) and s.command[:2] == ["mediaplex", role]}


def compose_file() -> Compose:
    return msgspec.yaml.decode((ROOT / "compose.yaml").read_bytes(), type=Compose)


def test_every_mediaplex_command_in_compose_exists() -> None:
    compose = compose_file()
    commands = {name: s for name, s in compose.services.items()
                if isinstance(s.command, list) and s.command[:1] == ["mediaplex"]}
    assert {s.command[1] for s in commands.values() if isinstance(s.command, list)} >= {"gateway", "processor"}
    for name, service in commands.items():
        assert isinstance(service.command, list)
        # Parsing the whole command also checks every flag it passes.
        args = parser(service.environment or {}).parse_args(service.command[1:])
        config = config_from(args)
        assert config.nats_urls, f"{name} names no NATS servers"


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_compose_runs_a_three_node_cluster_with_the_stream_at_three_replicas() -> None:
    compose = compose_file()
    nodes = {name: s for name, s in compose.services.items() if (s.image or "").startswith("nats:")}
    assert len(nodes) == 3
    # The flags the nats-server this suite runs knows; the image runs the same release line.
    known = subprocess.run([str(nats_server_binary()), "--help"], capture_output=True, text=True, timeout=30).stdout
    for name, node in nodes.items():
        assert isinstance(node.command, list)
        assert [f for f in node.command if f.startswith("-") and f"{f} " not in known] == [], "unknown flags"
        assert "--jetstream" in node.command and option(node.command, "--server_name") == name
        assert option(node.command, "--cluster_name") == "mediaplex"
        port = option(node.command, "--cluster").rsplit(":", 1)[1]
        routes = {url.split("//")[1] for url in option(node.command, "--routes").split(",")}
        assert routes == {f"{other}:{port}" for other in nodes if other != name}
        assert node.mounts()[name] == option(node.command, "--store_dir"), "a store volume of its own"
    for name, service in (*compose.roles("gateway").items(), *compose.roles("processor").items()):
        assert isinstance(service.command, list)
        config = config_from(parser(service.environment or {}).parse_args(service.command[1:]))
        assert {url.split("//")[1].split(":")[0] for url in config.nats_urls} == set(nodes), name
        assert config.stream_replicas == 3, name


def test_compose_runs_two_balanced_gateways_and_three_processors_sharing_only_nats() -> None:
    compose = compose_file()
    gateways, processors = compose.roles("gateway"), compose.roles("processor")
    assert sum(s.replicas for s in gateways.values()) == 2
    assert sum(s.replicas for s in processors.values()) == 3
    for name, service in (*gateways.items(), *processors.items()):
        assert isinstance(service.command, list)
        config = config_from(parser(service.environment or {}).parse_args(service.command[1:]))
        assert config.blob_store == "nats", f"{name} keeps blobs on a volume"
        # At most its own data directory: nothing mounted is shared with another role.
        assert set(service.mounts().values()) <= {"/data"}, name
    # Each gateway folds a projection of its own: no data volume is shared between gateways.
    data = [volume for s in gateways.values() for volume, target in s.mounts().items() if target == "/data"]
    assert all(s.replicas == 1 for s in gateways.values()) and len(set(data)) == len(data) == 2
    # Replicas of one service would share a named volume: the processors keep theirs in the container.
    assert all(not s.mounts() for s in processors.values())

    balancers = {name: s for name, s in compose.services.items() if (s.image or "").startswith("haproxy:")}
    assert len(balancers) == 1
    (balancer,) = balancers.values()
    config_file = next(source for source in balancer.mounts() if source.startswith("./"))
    servers = [line.split() for line in (ROOT / config_file).read_text().splitlines()
               if line.strip().startswith("server ")]
    assert sorted(words[2] for words in servers) == sorted(f"{name}:8080" for name in gateways)
    assert all("check" in words for words in servers)
    assert "option httpchk GET /readyz" in (ROOT / config_file).read_text()


def test_the_roles_as_processes_share_the_work(nats_url: str, tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    # The default stream on the session broker: no other test writes to it. Two URLs: the list is one flag.
    shared = ["--nats", f"{nats_url},{nats_url}", "--blobs", str(blobs), "--port", "0"]
    log = tmp_path / "roles.log"
    gateway = Role(["gateway", "--data", str(tmp_path / "gateway"), *shared], log, start_deadline=60)
    gateway.start()
    try:
        processor = Role(["processor", "--data", str(tmp_path / "processor"), *shared], log, start_deadline=60)
        processor.start()
        try:
            for url in (gateway.url, processor.url):
                assert requests.get(f"{url}/readyz", timeout=10).json() == {"status": "ready"}
            # The admin commands join the same cluster through the same flag.
            user = f"u{uuid.uuid4().hex[:8]}"
            cluster = ["--nats", nats_url, "--data", str(tmp_path / "admin")]
            subprocess.run([*MEDIAPLEX, "user", "add", user, "--password", "pw", *cluster], check=True, timeout=60)
            token = subprocess.run([*MEDIAPLEX, "token", "create", user, *cluster], check=True, timeout=60,
                                   capture_output=True, text=True).stdout.strip()
            # The gateway folds the new token from the log moments later.
            headers = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 10
            while requests.get(f"{gateway.url}/api/v1/accounts/verify_credentials", headers=headers,
                               timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "the gateway never saw the token"
                time.sleep(0.05)
            sample = images.jpeg(tmp_path / "sample.jpg", 640, 480)
            with sample.open("rb") as image:
                posted = requests.post(f"{gateway.url}/api/v1/media", files={"file": image}, headers=headers,
                                       timeout=60)
            assert posted.status_code == 200, posted.text
            assert posted.json()["meta"]["small"]["size"] == "554x416"
            assert [p.read_bytes() for p in blobs.rglob("*") if p.is_file()] == [sample.read_bytes()]
            assert any((tmp_path / "processor" / "renditions").rglob("*.jpg"))
        finally:
            assert processor.stop() == 0
    finally:
        assert gateway.stop() == 0


async def test_a_rendition_the_bucket_lacks_is_rendered_once_and_kept_for_every_gateway(
    make_server: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    first_config = make_server.config(data_dir=tmp_path / "first", blob_store="nats")
    first = await make_server.start(first_config)
    second = await make_server.start(msgspec.structs.replace(first_config, data_dir=tmp_path / "second", port=0),
                                     processor=False)
    _, media = await upload_photo(http, first, tmp_path)
    shared = first.server.derived.renditions
    assert shared is not None
    # As after a wipe of the bucket and of the first host's copies: media processed before it was shared.
    for name, _ in await shared.stored():
        await shared.remove(name)
    assert not any(p.is_file() for p in first.config.renditions.rglob("*"))
    path = media["preview_url"].removeprefix(first.url)
    async with http.get(first.url + path) as response:
        assert response.status == 200
        rendered = await response.read()
    assert first.server.services is not None and first.server.services.renderer.renders == 1  # type: ignore[attr-defined]
    assert len(await shared.stored()) == 3
    async with http.get(second.url + path) as response:
        assert response.status == 200 and await response.read() == rendered
    assert second.server.services is not None and second.server.services.renderer.renders == 0  # type: ignore[attr-defined]
