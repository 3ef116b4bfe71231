"""Every hostile request of the corpus against one real server: a clean 4xx, nothing left behind.

Each case checks the status (the README's where it gives one), that the body is JSON in the shape of the
protocol that owns the route, that the server still answers /healthz, and that no staged upload, blob,
variant or event was left by the refusal. Requests are written byte by byte (tests/hostile/raw.py), since
many of them are ones an HTTP client would refuse to send.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import msgspec
import pytest
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT, SIGNATURE_TYPE_AUTH_HEADER, Client

from gateways.pumpio.render import Site
from tests import images
from tests.hostile import raw
from tests.hostile.cases import FORM, Case, all_cases
from tests.pumpclient import authorize, register_client
from tests.servers import Running, bearer
from tests.test_pumpio_feed import Answer, Pump, login, posted_image

# A small presigned cap, so that a body past it costs little to send.
PRESIGNED_CAP = 64 * 1024
pytestmark = pytest.mark.server(presigned_size_limit=PRESIGNED_CAP)

CASES = all_cases()
# How long a request the client gave up on may take to finish and clean up after itself.
SETTLE = 5.0
POLL = 0.05


class Corpus(msgspec.Struct):
    """The shared server and what the cases' targets and credentials name on it."""

    server: Running
    host: str
    port: int
    tokens: dict[str, str]
    client: tuple[str, str]
    # alice's OAuth access token and secret, for three-legged signatures.
    access: tuple[str, str]
    values: dict[str, str]

    def staging(self) -> set[Path]:
        """Uploads being received right now, or left behind by one that was not cleaned up."""
        tmp = self.server.config.blobs / "tmp"
        return {p for p in tmp.iterdir() if p.is_file()} if tmp.exists() else set()

    def leftovers(self) -> set[Path]:
        """Every file a refused request must not add: staged uploads, blobs, variants."""
        config = self.server.config
        return {p for root in (config.blobs, config.variants) if root.exists() for p in root.rglob("*") if p.is_file()}


async def uploaded(http: aiohttp.ClientSession, server: Running, token: str, path: Path) -> dict[str, Any]:
    body = aiohttp.FormData()
    body.add_field("file", path.read_bytes(), filename="in.jpg", content_type="image/jpeg")
    async with http.post(f"{server.url}/api/v1/media", data=body, headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        media: dict[str, Any] = await response.json()
        return media


def upload_variants(upload_url: str) -> dict[str, str]:
    """The grant's upload path and query, and copies doctored in each signed part."""
    parts = urlsplit(upload_url)
    query = dict(parse_qsl(parts.query))

    def target(path: str = parts.path, **changes: str | None) -> str:
        changed = {k: v for k, v in {**query, **changes}.items() if v is not None}
        return f"{path}?{urlencode(changed)}"

    other_id = re.sub(r"/media/\d+/", "/media/1/", parts.path)
    return {
        "upload": target(),
        "upload_nosig": target(sig=None),
        "upload_badsig": target(sig="A" * 43),
        "upload_exp": target(exp=str(int(query["exp"]) + 1000)),
        "upload_ct": target(ct="image/gif"),
        "upload_max": target(max=str(int(query["max"]) * 2)),
        "upload_other_id": target(other_id),
    }


def answered(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.json
    body: dict[str, Any] = answer.json
    return body


def local(object_id: str) -> str:
    return object_id.rstrip("/").rsplit("/", 1)[1]


async def posted(pump: Pump, verb: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The object of an activity that must succeed."""
    activity = answered(await pump.activity(verb, obj, **extra))
    return dict(activity["object"])


async def social(server: Running, tmp: Path) -> dict[str, str]:
    """What alice and bob posted through pump.io for the social cases to name (tests/hostile/social.py)."""
    alice, bob = await login(server, "alice"), await login(server, "bob")
    site = Site.of(server.config)
    image = await posted_image(alice, tmp, seed=3)
    others_image = await posted_image(bob, tmp, seed=4)
    note = await posted(alice, "post", {"objectType": "note", "content": "A note"})
    others_note = await posted(bob, "post", {"objectType": "note", "content": "Bob's note"})
    album = {"objectType": "collection", "objectTypes": ["image"]}
    collection = await posted(alice, "post", {**album, "displayName": "Birds"})
    inner = await posted(alice, "post", {**album, "displayName": "Herons"})
    others_collection = await posted(bob, "post", {**album, "displayName": "Bob's birds"})
    target = {"objectType": "collection", "id": collection["id"]}
    theirs = {"objectType": "image", "id": others_image["id"]}
    await posted(alice, "add", {"objectType": "collection", "id": inner["id"]}, target=target)
    await posted(alice, "add", theirs, target=target)
    await posted(alice, "favorite", theirs)
    await posted(alice, "share", theirs)
    await posted(alice, "follow", {"objectType": "person", "id": f"acct:bob@{site.host}"})
    return {"base": site.base, "host": site.host, "image": local(image["id"]), "others_image": local(theirs["id"]),
            "note": local(note["id"]), "others_note": local(others_note["id"]),
            "collection": local(collection["id"]), "inner": local(inner["id"]),
            "others_collection": local(others_collection["id"])}


@pytest.fixture(scope="module")
async def corpus(shared_server: Running, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    server = shared_server
    tmp = tmp_path_factory.mktemp("hostile-images")
    tokens = {"write": await server.token("alice"), "read": await server.token("alice", "read"),
              "bob": await server.token("bob"), "unknown": "not-a-token"}
    async with aiohttp.ClientSession() as http:
        mine = await uploaded(http, server, tokens["write"], images.jpeg(tmp / "a.jpg", 64, 48, seed=1))
        others = await uploaded(http, server, tokens["bob"], images.jpeg(tmp / "b.jpg", 64, 48, seed=2))
        async with http.post(f"{server.url}/media", json={"filename": "cat.png", "contentType": "image/png"},
                             headers=bearer(tokens["write"])) as response:
            assert response.status == 200, await response.text()
            grant = await response.json()
        async with http.post(f"{server.url}/api/v1/statuses", json={"status": "A target"},
                             headers=bearer(tokens["write"])) as response:
            assert response.status == 200, await response.text()
            status = await response.json()
    found = re.search(r"/media/files/([0-9a-f]{64})/v(\d+)/", mine["url"])
    assert found is not None, mine["url"]
    client = await register_client(server.url, application_name="hostile corpus")
    access = await authorize(server.url, client, "alice", "alice-password")
    split = urlsplit(server.url)
    assert split.hostname is not None and split.port is not None
    values = {"user": "alice", "other": "bob", "media": mine["id"], "others_media": others["id"],
              "status": status["id"], "pending": grant["media"]["id"], "blob": found.group(1),
              "version": found.group(2),
              **upload_variants(grant["uploadUrl"]), **await social(server, tmp)}
    return Corpus(server=server, host=split.hostname, port=split.port, tokens=tokens, client=client, access=access,
                  values=values)


def fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)


def oauth_header(corpus: Corpus, case: Case, target: str, body: bytes) -> bytes | None:
    """An OAuth 1.0a Authorization header for `case.auth`: signed honestly, then doctored as the name says."""
    kind = case.auth
    if kind.startswith("oauth-client"):
        owner, doctoring = None, kind.removeprefix("oauth-client")
    else:
        owner, doctoring = corpus.access, kind.removeprefix("oauth")
    options: dict[str, Any] = {"signature_type": SIGNATURE_TYPE_AUTH_HEADER}
    secret = corpus.client[1]
    match doctoring.removeprefix("-"):
        case "":
            pass
        case "timestamp-400":
            options["timestamp"] = "9" * 400
        case "timestamp-words":
            options["timestamp"] = "yesterday"
        case "stale":
            options["timestamp"] = str(int(time.time()) - 3600)
        case "bad-signature":
            secret = "not-the-secret"
        case "plaintext":
            options["signature_method"] = SIGNATURE_PLAINTEXT
        case "nonce-10k":
            options["nonce"] = "n" * 5000
        case other:
            raise AssertionError(f"unknown OAuth doctoring {other!r}")
    signer = Client(corpus.client[0], client_secret=secret, resource_owner_key=owner[0] if owner else None,
                    resource_owner_secret=owner[1] if owner else None, **options)
    form = dict(case.headers).get(b"Content-Type") == FORM[1]
    try:
        if form:
            _, headers, _ = signer.sign(corpus.server.url + target, case.method, body=body.decode(),
                                        headers={"Content-Type": FORM[1].decode()})
        else:
            _, headers, _ = signer.sign(corpus.server.url + target, case.method)
    except ValueError:
        # A target oauthlib will not sign: the request goes unsigned, and must be refused all the same.
        return None
    return str(headers["Authorization"]).encode()


def request_bytes(corpus: Corpus, case: Case) -> bytes:
    target = fill(case.target, corpus.values)
    body = case.body
    for name, value in corpus.values.items():
        body = body.replace(b"{" + name.encode() + b"}", value.encode())
    headers = list(case.headers)
    explicit = any(name.lower() == b"authorization" for name, _ in headers)
    if not explicit and case.auth in corpus.tokens:
        headers.append((b"Authorization", bearer(corpus.tokens[case.auth])["Authorization"].encode()))
    elif not explicit and case.auth.startswith("oauth"):
        signed = oauth_header(corpus, case, target, body)
        if signed is not None:
            headers.append((b"Authorization", signed))
    return raw.encode(case.method.encode(), target.encode("latin-1"), headers, body, length=case.length)


def shape_problems(case: Case, reply: raw.Reply, values: dict[str, str]) -> list[str]:
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return [f"Content-Type {content_type!r}, body {reply.body[:200]!r}"]
    try:
        body = json.loads(reply.body)
    except ValueError:
        return [f"not JSON: {reply.body[:200]!r}"]
    problems = []
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not body["error"]:
        return [f"no error message: {body!r}"]
    if case.protocol == "coded":
        if not isinstance(body.get("code"), str) or not body["code"]:
            problems.append(f"no code: {body!r}")
        elif case.code is not None and body["code"] != case.code:
            problems.append(f"code {body['code']!r}, not {case.code!r}")
    if case.error is not None and body["error"] != (expected := fill(case.error, values)):
        problems.append(f"error {body['error']!r}, not {expected!r}")
    return problems


async def healthy(corpus: Corpus) -> bool:
    reply = await raw.send(corpus.host, corpus.port, raw.encode(b"GET", b"/healthz", []))
    return reply.status == 200


async def settled_files(corpus: Corpus, before: set[Path]) -> set[Path]:
    """Files added since `before` that stay: a request the server is still finishing (the client gave up
    mid-body) may hold a staged upload for a moment, and removes it when it ends."""
    for _ in range(int(SETTLE / POLL)):
        if not corpus.leftovers() - before:
            break
        await asyncio.sleep(POLL)
    return corpus.leftovers() - before


async def quiet_log(corpus: Corpus) -> int:
    """The head of the log once nothing the setup started is still landing (processing, tokens)."""
    events = corpus.server.events
    for _ in range(100):
        seq = await events.last_seq()
        if await corpus.server.projection.wait_for(seq, timeout=10.0) and await events.last_seq() == seq:
            return seq
        await asyncio.sleep(0.05)
    raise AssertionError("the log kept growing without any request")


@pytest.mark.parametrize("case", CASES, ids=[case.id.replace("{", "").replace("}", "") for case in CASES])
async def test_a_hostile_request_is_refused_cleanly(corpus: Corpus, case: Case) -> None:
    # What an earlier case's request was still finishing is gone before this one starts.
    await settled_files(corpus, corpus.leftovers() - corpus.staging())
    files, seq = corpus.leftovers(), await quiet_log(corpus)
    data = request_bytes(corpus, case)
    reply = await raw.send(corpus.host, corpus.port, data, close_write=case.close_write)

    problems = []
    if reply.status == 0:
        if not case.close_write:
            problems.append("no answer")
    elif not 400 <= reply.status < 500:
        problems.append(f"status {reply.status}, not a 4xx")
    elif case.status is not None and reply.status != case.status:
        problems.append(f"status {reply.status}, not {case.status}")
    if reply.status:
        problems += shape_problems(case, reply, corpus.values)
    if not await healthy(corpus):
        problems.append("/healthz stopped answering")
    if added := sorted(str(p) for p in await settled_files(corpus, files)):
        problems.append(f"left behind: {added}")
    if (appended := await corpus.server.events.last_seq() - seq) > 0:
        problems.append(f"{appended} event(s) appended")
    assert not problems, f"status {reply.status}: " + "; ".join(problems)


def test_the_corpus_is_large_and_covers_every_gateway() -> None:
    assert len(CASES) >= 300
    prefixes = {case.id.split("-", 1)[0] for case in CASES}
    assert {"auth", "mastodon", "pumpio", "presigned", "posts", "transform", "framing"} <= prefixes
    targets = " ".join(case.target for case in CASES)
    for route in ("/api/v1/media", "/api/v2/media", "/api/v1/instance", "/.well-known/webfinger",
                  "/api/client/register", "/oauth/request_token", "/api/user/{user}/uploads",
                  "/api/user/{user}/feed", "/api/image/", "/media/{pending}", "{upload}", "/posts",
                  "/identity/current", "/media/files/", "/media/sha256/"):
        assert route in targets, route
