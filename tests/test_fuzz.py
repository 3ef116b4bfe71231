"""Schemathesis against a live server: generated requests for every documented operation, from the document.

The server must never answer 5xx, and every answer must match the status codes, content types and schemas
the document gives. Two runs: a fixed seed, so a failure that it finds comes back on every run, and a random
one, printed with the failure so that `schemathesis run ... --seed N` replays it. Cases are bounded (about
2,000 over both runs) to keep the wall time to a few minutes.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import msgspec

from tests import images, pumpclient
from tests.servers import Running, make_config, start

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
FIXED_SEED = 20261201
# (phases, cases per operation): the coverage phase's boundary and wrong-type values (about 1,600
# cases over the documented operations, HEAD and trailing-slash twins left out as they reach the same
# handlers) and some random ones under the fixed seed, then random ones under a fresh seed: about 2,000.
FIXED_RUN = ("coverage,fuzzing", 6)
RANDOM_RUN = ("fuzzing", 10)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The trailing-slash twin of every path but the root.
SLASHED = r".+/$"


ROOT = Path(__file__).resolve().parents[1]
USER = "fuzzer"


class Sample(msgspec.Struct, frozen=True):
    """A processed upload, so that the routes naming one are fuzzed past their 404."""

    media_id: str
    blob: str
    version: int
    name: str


async def sample_image(server: Running, token: str, work: Path, seed: int) -> Sample:
    path = images.jpeg(work / f"sample{seed}.jpg", 320, 200, seed=seed)
    form = aiohttp.FormData()
    form.add_field("file", path.read_bytes(), filename="sample.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/v1/media", data=form,
                             headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
    assert body["url"], body
    # /media/files/{blob}/v{version}/{name}
    _, _, _, blob, version, name = urlsplit(body["url"]).path.split("/")
    return Sample(media_id=body["id"], blob=blob, version=int(version.removeprefix("v")), name=name)


def config_file(work: Path, token: str, sample: Sample, kept: Sample) -> Path:
    """Bearer routes get the token; routes naming a media or the user get real ones, the rest is generated.

The filters of one [[operations]] entry are alternatives, not all required, hence one filter each.

    DELETE gets its own sample, so that the other routes keep finding theirs whatever order they run in.
    """
    text = f"""
[[operations]]
include-tag-regex = "^(mastodon|presigned|posts)$"
headers = {{ Authorization = "Bearer {token}" }}

[[operations]]
include-name = ["GET /api/v1/media/{{id}}", "PUT /api/v1/media/{{id}}"]
parameters = {{ id = "{kept.media_id}" }}

[[operations]]
include-name = "DELETE /api/v1/media/{{id}}"
parameters = {{ id = "{sample.media_id}" }}

[[operations]]
include-path-regex = "^/api/image/"
parameters = {{ id = "{kept.media_id}" }}

[[operations]]
include-path-regex = "^/api/user/"
parameters = {{ user = "{USER}" }}

[[operations]]
include-path = "/media/files/{{blob}}/v{{version}}/{{name}}"
parameters = {{ blob = "{kept.blob}", version = {kept.version}, name = "{kept.name}" }}

[[operations]]
include-path = "/media/sha256/{{blob}}"
parameters = {{ blob = "{kept.blob}" }}
"""
    path = work / "schemathesis.toml"
    path.write_text(text)
    return path


async def pump_credentials(server: Running) -> str:
    client = await pumpclient.register_client(server.url, application_name="fuzzer")
    token = await pumpclient.authorize(server.url, client, USER, f"{USER}-password")
    return " ".join((*client, *token))


async def fuzz(server: Running, config: Path, work: Path, oauth: str, seed: int, phases: str,
               examples: int) -> tuple[int, str]:
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "--no-color",
        "run", f"{server.url}/openapi.json",
        "--checks", CHECKS,
        "--seed", str(seed),
        "--max-examples", str(examples),
        "--phases", phases,
        "--exclude-method", "HEAD",
        "--exclude-path-regex", SLASHED,
        "--generation-database", "none",
        "--request-timeout", "30",
        "--workers", "1",
        "--suppress-health-check", "all",
        "--continue-on-failure",
        "--generation-with-security-parameters", "false",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=work, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "FUZZ_OAUTH": oauth,
             "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))},
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_no_operation_fails_under_generated_requests(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    server = await start(make_config(nats_url, data_dir, v1_sync_wait=2.0, v2_sync_wait=1.0))
    try:
        token = await server.token(USER)
        config = config_file(tmp_path, token, await sample_image(server, token, tmp_path, 1),
                             await sample_image(server, token, tmp_path, 2))
        oauth = await pump_credentials(server)
        failed = []
        for seed, (phases, examples) in ((FIXED_SEED, FIXED_RUN), (random.randrange(2**31), RANDOM_RUN)):
            began = time.monotonic()
            status, output = await fuzz(server, config, tmp_path, oauth, seed, phases, examples)
            print(f"schemathesis --seed {seed} --phases {phases}: exit {status} in {time.monotonic() - began:.0f}s")
            print(output[-3000:])
            if status != 0:
                failed.append(f"schemathesis --seed {seed} --phases {phases} found failures:\n{output[-20000:]}")
        assert not failed, "\n\n".join(failed)
    finally:
        await server.server.stop()
