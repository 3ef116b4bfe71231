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
from tests.test_pumpio_feed import Pump

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


class Known(msgspec.Struct, frozen=True):
    """Real objects for the routes that name one: `image` is posted and commented on, a post attaches another;
    `strip`, a 2000x20 panorama, is what the content address serves, to try extreme aspects."""

    deletable: Sample
    image: Sample
    strip: Sample
    activity_id: str
    comment_id: str
    post_id: str
    account_id: str = ""


async def sample_image(server: Running, token: str, work: Path, seed: int, size: tuple[int, int] = (320, 200)
                       ) -> Sample:
    path = images.jpeg(work / f"sample{seed}.jpg", *size, seed=seed)
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


async def known_objects(server: Running, token: str, pump: Pump, work: Path) -> Known:
    image = await sample_image(server, token, work, 2)
    image_url = f"{server.url}/api/image/{image.media_id}"
    posted = await pump.activity("post", {"id": image_url, "objectType": "image"})
    assert posted.status == 200, posted.json
    said = await pump.activity("post", {"objectType": "comment", "content": "A heron",
                                        "inReplyTo": {"id": image_url, "objectType": "image"}})
    assert said.status == 200, said.json
    # A media attaches to one post at most: the post gets an image of its own.
    attached = await sample_image(server, token, work, 4)
    async with aiohttp.ClientSession() as http, http.post(
        server.url + "/posts", headers={"Authorization": f"Bearer {token}"},
        json={"spaceDID": "did:web:example.com", "body": "Herons", "attachmentIds": [attached.media_id]},
    ) as response:
        assert response.status == 201, await response.text()
        post = await response.json()
    async with aiohttp.ClientSession() as http, http.get(
        server.url + "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"},
    ) as response:
        account_id = (await response.json())["id"]
    return Known(
        deletable=await sample_image(server, token, work, 1), image=image,
        strip=await sample_image(server, token, work, 3, (2000, 20)),
        activity_id=posted.json["id"].rsplit("/", 1)[1], comment_id=said.json["object"]["id"].rsplit("/", 1)[1],
        post_id=post["id"], account_id=account_id,
    )


def config_file(work: Path, token: str, known: Known) -> Path:
    """Bearer routes get the token; routes naming an object or the user get real ones, the rest is generated.

    The filters of one [[operations]] entry are alternatives, not all required, hence one filter each. DELETE
    gets a media of its own, so that the other routes keep finding theirs whatever order they run in.
    """
    image = known.image
    # No cache: its crash files are written outside the test's directory, and fail on binary bodies.
    text = f"""
[cache]
enabled = false

[[operations]]
include-tag-regex = "^(mastodon|presigned|posts)$"
headers = {{ Authorization = "Bearer {token}" }}

[[operations]]
include-name = ["GET /api/v1/media/{{id}}", "PUT /api/v1/media/{{id}}"]
parameters = {{ id = "{image.media_id}" }}

[[operations]]
include-name = "DELETE /api/v1/media/{{id}}"
parameters = {{ id = "{known.deletable.media_id}" }}

[[operations]]
include-path-regex = "^/api/image/"
parameters = {{ id = "{image.media_id}" }}

[[operations]]
include-path = "/api/activity/{{id}}"
parameters = {{ id = "{known.activity_id}" }}

[[operations]]
include-path = "/api/comment/{{id}}"
parameters = {{ id = "{known.comment_id}" }}

[[operations]]
include-path = ["/api/note/{{id}}", "/posts/{{id}}", "/api/v1/statuses/{{id}}", "/api/v1/statuses/{{id}}/source",
                "/api/v1/statuses/{{id}}/history"]
parameters = {{ id = "{known.post_id}" }}

[[operations]]
include-path-regex = "^/api/v1/accounts/[{{]id[}}]"
parameters = {{ id = "{known.account_id}" }}

[[operations]]
include-path-regex = "^/api/user/"
parameters = {{ user = "{USER}" }}

[[operations]]
include-path = "/media/files/{{blob}}/v{{version}}/{{name}}"
parameters = {{ blob = "{image.blob}", version = {image.version}, name = "{image.name}" }}

[[operations]]
include-path = "/media/sha256/{{blob}}"
parameters = {{ blob = "{known.strip.blob}" }}
"""
    path = work / "schemathesis.toml"
    path.write_text(text)
    return path


async def pump_client(server: Running) -> tuple[Pump, str]:
    """A signed pump.io client of the user, and its credentials as tests/fuzz_hooks.py reads them."""
    client = await pumpclient.register_client(server.url, application_name="fuzzer")
    token = await pumpclient.authorize(server.url, client, USER, f"{USER}-password")
    return Pump(server.url, USER, pumpclient.signer(client, token)), " ".join((*client, *token))


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
        pump, oauth = await pump_client(server)
        config = config_file(tmp_path, token, await known_objects(server, token, pump, tmp_path))
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
