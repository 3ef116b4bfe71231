"""Faults in the scaled-out layout: three clustered nats-servers, two gateways, three processors.

Everything runs as real processes on loopback and is killed with SIGKILL mid-run, then started
again. What must hold afterwards: each upload a client was told about is processed exactly once,
every gateway's projection equals a fresh rebuild, and no blob is left that no media names.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import nats.errors
import pytest
import requests
from nats.js.errors import NotFoundError

from core.events import MediaDeleted, MediaFailed, MediaProcessed, MediaUploaded, TokenIssued
from core.jetstream import JetStreamLog, StreamSettings, connect
from core.log import Record
from core.ports import blob_of
from mediaplex.cli import NATS_BLOBS
from store import generations
from tests import images
from tests.cluster import Cluster, Role, mediaplex, wait_until

pytestmark = pytest.mark.slow

UPLOADS = 200
# Events appended while a gateway is down, so that it is still folding them when it is killed.
BACKLOG = 40_000
# Every wait for the pipeline to settle after the faults, in seconds.
SETTLE = 150.0
# How long a client retries a refused upload, in seconds: as long as a node's loss and the elections it
# causes may take on a loaded machine, as a real client would ride them out.
RETRY_FOR = 120.0
# Each request's own bound: a server that holds one past it has hung on the fault (it gives up on the
# cluster within tens of seconds and answers 503).
REQUEST_TIMEOUT = 60.0


class Deployment(msgspec.Struct):
    root: Path
    cluster: Cluster
    gateways: list[Role]
    processors: list[Role]
    token: str
    # --blobs of every role: a directory they share, or nats:// for the cluster's object store.
    blobs_at: str

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    def admin(self, *argv: str) -> list[str]:
        return [*argv, "--nats", self.cluster.urls, "--stream-replicas", "3"]


def role(root: Path, cluster: Cluster, kind: str, name: str, blobs: str) -> Role:
    argv = [kind, "--data", str(root / name), "--nats", cluster.urls, "--blobs", blobs,
            "--port", "0", "--stream-replicas", "3"]
    if kind == "gateway":
        # The uploads come with the operator's token, which the operator exempts from Mastodon's rate limits.
        argv += ["--rate-limit-cli-tokens", "no"]
    return Role(argv, root / f"{name}.log")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("cluster")
    with deployed(root, str(root / "blobs")) as running:
        yield running


@pytest.fixture
def object_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The same layout with every blob in the cluster's object store: the roles share only NATS."""
    with deployed(tmp_path_factory.mktemp("cluster-objects"), NATS_BLOBS) as running:
        yield running


@contextlib.contextmanager
def deployed(root: Path, blobs: str) -> Iterator[Deployment]:
    cluster = Cluster(root / "nats")
    gateways = [role(root, cluster, "gateway", f"gateway-{i}", blobs) for i in (1, 2)]
    processors = [role(root, cluster, "processor", f"processor-{i}", blobs) for i in (1, 2, 3)]
    try:
        cluster.start()
        admin = ["--data", str(root / "admin"), "--nats", cluster.urls, "--stream-replicas", "3"]
        # The first command creates the stream, at three replicas.
        mediaplex("user", "add", "alice", "--password", "pw", *admin)
        token = mediaplex("token", "create", "alice", *admin).strip()
        for running in (*gateways, *processors):
            running.start()
        for running in (*gateways, *processors):
            wait_until(running.ready, f"{running.argv[0]} to be ready")
        yield Deployment(root, cluster, gateways, processors, token, blobs)
    finally:
        with contextlib.ExitStack() as stopping:
            # Run last to first: the nodes stop after every role, and one failing stop skips none.
            stopping.callback(cluster.stop)
            for running in (*gateways, *processors):
                stopping.callback(running.stop)


def read_log(urls: str) -> list[Record]:
    async def read() -> list[Record]:
        client = await connect(urls.split(","), name="cluster-test")
        try:
            return [r async for r in JetStreamLog(client, StreamSettings()).read(1, follow=False)]
        finally:
            await client.close()

    return asyncio.run(read())


def stream_leader(urls: str, stream: str = "MEDIAPLEX") -> str:
    leader = current_leader(urls, stream)
    assert leader, f"{stream} has no leader"
    return leader


def current_leader(urls: str, stream: str) -> str:
    """The node leading `stream`, or "" while it elects one."""
    async def leader() -> str:
        client = await connect(urls.split(","), name="cluster-test")
        try:
            info = await client.jetstream().stream_info(stream)
        except nats.errors.TimeoutError:
            # No leader to answer yet.
            return ""
        finally:
            await client.close()
        assert info.config.num_replicas == 3 and info.cluster is not None
        return info.cluster.leader or ""

    return asyncio.run(leader())


def lead_together(urls: str, stream: str, with_stream: str, tries: int = 12) -> str:
    """Have one node lead both streams, by asking `stream`'s leader to step down until it is so."""
    async def step_down() -> None:
        client = await connect(urls.split(","), name="cluster-test")
        try:
            await client.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", timeout=10)
        finally:
            await client.close()

    target = stream_leader(urls, with_stream)
    for _ in range(tries):
        wait_until(lambda: bool(current_leader(urls, stream)), f"{stream} to elect a leader", 30)
        if current_leader(urls, stream) == target:
            break
        asyncio.run(step_down())
    return target


def bucket_names(urls: str, bucket: str) -> list[str]:
    async def names() -> list[str]:
        client = await connect(urls.split(","), name="cluster-test")
        try:
            store = await client.jetstream().object_store(bucket)
            try:
                return [info.name for info in await store.list(ignore_deletes=True)]
            except NotFoundError:
                return []
        finally:
            await client.close()

    return asyncio.run(names())


def append_tokens(urls: str, first: int, count: int, *, timeout: float = 30.0) -> int:
    """Appends `count` token events, 500 at a time, as fast as the cluster takes them; the last sequence."""
    async def append() -> int:
        client = await connect(urls.split(","), name="cluster-test")
        try:
            events = JetStreamLog(client, StreamSettings(replicas=3), timeout=timeout)
            last = 0
            for start in range(first, first + count, 500):
                seqs = await asyncio.gather(*(
                    events.append(TokenIssued(at=1.0, token_id=f"backlog{i}", user_id="alice",
                                              token_hash=f"{i:064x}", scopes=("read",)), msg_id=f"backlog-{i}")
                    for i in range(start, min(start + 500, first + count))
                ))
                last = max(last, *seqs)
            return last
        finally:
            await client.close()

    return asyncio.run(append())


class Outcomes(msgspec.Struct):
    processed: collections.Counter[str]
    failed: collections.Counter[str]
    live_blobs: set[str]
    via: dict[str, str]
    head: int


def outcomes(records: list[Record]) -> Outcomes:
    processed: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[str] = collections.Counter()
    blob_of: dict[str, str] = {}
    via: dict[str, str] = {}
    for record in records:
        match record.event:
            case MediaUploaded(media_id=media_id, blob=blob):
                blob_of[media_id] = blob
                via[media_id] = record.event.via
            case MediaProcessed(media_id=media_id):
                processed[media_id] += 1
            case MediaFailed(media_id=media_id):
                failed[media_id] += 1
            case MediaDeleted(media_id=media_id):
                blob_of.pop(media_id, None)
    return Outcomes(processed, failed, set(blob_of.values()), via, records[-1].seq if records else 0)


def digest(data: Path) -> tuple[int, str]:
    seq, value = mediaplex("digest", "--data", str(data)).split()
    return int(seq), value


def checkpoint(data: Path) -> int:
    """The applied sequence in a projection file, read beside the process writing it."""
    pointer = data / "projection" / generations.POINTER
    if not pointer.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(data / "projection" / pointer.read_text().strip(), timeout=5)) as conn:
            row = conn.execute("SELECT seq FROM checkpoint WHERE id = 1").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def settled_digests(deployment: Deployment, head: int) -> list[tuple[int, str]]:
    """Each gateway's (checkpoint, digest) once it has folded the log up to `head`."""
    datas = [deployment.root / f"gateway-{i}" for i in (1, 2)]
    wait_until(lambda: all(digest(d)[0] >= head for d in datas), "both gateways to fold the log", SETTLE, 0.5)
    return [digest(d) for d in datas]


def rebuilt_digest(deployment: Deployment, name: str) -> str:
    out = mediaplex("rebuild", "--data", str(deployment.root / name), *deployment.admin())
    return out.strip().splitlines()[-1]


class Uploads:
    """Clients uploading through both gateways at once, each retrying a refused upload for RETRY_FOR seconds."""

    def __init__(self, deployment: Deployment, sources: list[Path]) -> None:
        self._deployment = deployment
        self._sources = sources
        self._lock = threading.Lock()
        self.accepted: list[str] = []
        # Why each attempt of an upload that never succeeded was refused, for the failure's message.
        self.refusals: dict[int, list[str]] = collections.defaultdict(list)
        # Requests the server never answered.
        self.hung: list[str] = []
        self._bearer = {"Authorization": f"Bearer {deployment.token}"}

    def one(self, index: int) -> str | None:
        give_up = time.monotonic() + RETRY_FOR
        attempt = 0
        while time.monotonic() < give_up:
            # Like a load balancer would: a retry goes to the other gateway.
            gateway, other = self._deployment.gateways[(index + attempt) % 2], self._deployment.gateways[
                (index + attempt + 1) % 2]
            try:
                # One in four through presigned URLs: single use is a claim in a replicated bucket.
                media_id, why = (self._presigned(index, gateway, other) if index % 4 == 0
                                 else self._mastodon(index, gateway))
            except requests.RequestException as error:
                media_id, why = None, f"{time.monotonic():.1f} {type(error).__name__}"
                if isinstance(error, requests.Timeout):
                    with self._lock:
                        self.hung.append(f"upload {index}: {why}")
            if media_id is not None:
                with self._lock:
                    self.accepted.append(media_id)
                    self.refusals.pop(index, None)
                return media_id
            with self._lock:
                self.refusals[index].append(why)
            attempt += 1
            time.sleep(0.5)
        return None

    def _mastodon(self, index: int, gateway: Role) -> tuple[str | None, str]:
        with self._sources[index].open("rb") as image:
            answer = requests.post(f"{gateway.url}/api/v2/media", files={"file": image}, headers=self._bearer,
                                   timeout=REQUEST_TIMEOUT)
        if answer.status_code in (200, 202):
            return str(answer.json()["id"]), ""
        return None, refusal(answer)

    def _presigned(self, index: int, gateway: Role, other: Role) -> tuple[str | None, str]:
        """Granted by one gateway, the bytes PUT to the other."""
        granted = requests.post(f"{gateway.url}/media", json={"filename": f"in-{index}.jpg",
                                                              "contentType": "image/jpeg"},
                                headers=self._bearer, timeout=REQUEST_TIMEOUT)
        if granted.status_code != 200:
            return None, refusal(granted)
        grant = granted.json()
        url = grant["uploadUrl"].replace(gateway.url, other.url, 1)
        headers = {"Content-Type": "image/jpeg", "Content-Disposition": grant["contentDispositionHeader"]}
        answer = requests.put(url, data=self._sources[index].read_bytes(), headers=headers, timeout=REQUEST_TIMEOUT)
        if answer.status_code == 200:
            return str(grant["media"]["id"]), ""
        return None, refusal(answer)

    def done(self) -> int:
        with self._lock:
            return len(self.accepted)


def refusal(answer: requests.Response) -> str:
    where = f"{answer.request.method} {urlsplit(answer.url).netloc}"
    return f"{time.monotonic():.1f} {where} {answer.status_code} {answer.text[:200]}"


def test_killing_a_processor_and_a_nats_node_mid_run_loses_and_duplicates_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    final, _ = faulted_run(deployment, tmp_path)
    files = [p for p in Path(deployment.blobs_at).rglob("*") if p.is_file()]
    assert {p.name for p in files} <= final.live_blobs, "blobs no media names"
    assert len(files) == len(final.live_blobs)


def faulted_run(deployment: Deployment, tmp_path: Path, *, leader_of: tuple[str, ...] = ()) -> tuple[Outcomes,
                                                                                                   list[str]]:
    """UPLOADS uploads through both gateways while a processor and the node leading the stream (and the
    streams in `leader_of`) are killed and started again; checks every upload came out once, and both
    gateways' projections equal a rebuild. The final outcomes and the accepted media ids."""
    sources = [images.jpeg(tmp_path / f"in-{i}.jpg", 96, 64, seed=i) for i in range(UPLOADS)]
    uploads = Uploads(deployment, sources)
    cluster = deployment.cluster
    victim_processor = deployment.processors[0]
    for stream in leader_of:
        lead_together(cluster.urls, stream, "MEDIAPLEX")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(uploads.one, range(UPLOADS))
        wait_until(lambda: uploads.done() >= UPLOADS // 4, "a quarter of the uploads", SETTLE)
        # The stream's leader, so that the cluster has to elect another one while uploads go on.
        victim_node = cluster.node(stream_leader(cluster.urls))
        assert all(stream_leader(cluster.urls, stream) == victim_node.name for stream in leader_of)
        victim_processor.kill()
        victim_node.kill()
        killed = f"{time.monotonic():.1f} killed {victim_node.name}"
        killed_at = uploads.done()
        wait_until(lambda: uploads.done() >= killed_at + UPLOADS // 4, "uploads while a node is down", SETTLE)
        victim_node.start()
        victim_processor.start()
        accepted = [media_id for media_id in results if media_id is not None]
    cluster.wait_healthy()
    assert uploads.hung == [], f"requests never answered ({killed})"
    assert len(accepted) == UPLOADS, f"{UPLOADS - len(accepted)} never succeeded ({killed}): {uploads.refusals}"
    assert stream_leader(cluster.urls)

    def all_processed() -> bool:
        seen = outcomes(read_log(cluster.urls))
        return all(seen.processed[m] + seen.failed[m] for m in accepted)

    try:
        wait_until(all_processed, "every accepted upload to have an outcome", SETTLE, 1.0)
    except AssertionError as timed_out:
        seen = outcomes(read_log(cluster.urls))
        waiting = [m for m in accepted if not seen.processed[m] + seen.failed[m]]
        said = [line for p in deployment.processors for line in p.log.read_text(errors="replace").splitlines()
                if any(m in line for m in waiting)]
        raise AssertionError(f"{timed_out}: {waiting} have none; the processors said: {said[-20:]}") from None
    final = outcomes(read_log(cluster.urls))
    assert {m: final.processed[m] for m in accepted} == dict.fromkeys(accepted, 1)
    assert not any(final.failed[m] for m in accepted)
    assert collections.Counter(final.via[m] for m in accepted) == {"mastodon": UPLOADS - UPLOADS // 4,
                                                                  "presigned": UPLOADS // 4}
    # Nor did any upload that was refused to its client get a second outcome.
    assert max((final.processed + final.failed).values()) == 1

    (seq_1, digest_1), (seq_2, digest_2) = settled_digests(deployment, final.head)
    assert seq_1 == seq_2 and digest_1 == digest_2
    assert rebuilt_digest(deployment, "rebuild-1") == digest_1
    for running in (*deployment.gateways, *deployment.processors):
        assert running.ready(), f"{running.argv[0]} {running.argv[2]} is not ready"
    return final, accepted


def test_a_gateway_killed_while_folding_resumes_from_its_checkpoint(deployment: Deployment) -> None:
    gateway = deployment.gateways[1]
    data = deployment.root / "gateway-2"
    assert gateway.stop() == 0
    before, _ = digest(data)
    head = append_tokens(deployment.cluster.urls, 0, BACKLOG)

    # Started on its old projection: it folds the backlog before it serves, and is killed halfway.
    gateway.spawn()
    wait_until(lambda: checkpoint(data) > before, "the gateway to apply part of the backlog", every=0.01)
    gateway.kill()
    resumed_from, _ = digest(data)
    assert before < resumed_from < head, "the kill did not land while it folded"

    gateway.start()
    wait_until(gateway.ready, "the restarted gateway to be ready")
    resumed = f"projection at sequence {resumed_from}: folding the log from {resumed_from + 1} on"
    assert resumed in gateway.log.read_text()
    (seq_1, digest_1), (seq_2, digest_2) = settled_digests(deployment, head)
    assert seq_1 == seq_2 and digest_1 == digest_2
    assert rebuilt_digest(deployment, "rebuild-2") == digest_2


def test_an_append_waits_for_the_cluster_to_elect_a_new_stream_leader(deployment: Deployment) -> None:
    cluster = deployment.cluster
    leader = cluster.node(stream_leader(cluster.urls))
    leader.kill()
    try:
        # Right after the kill nobody answers for the stream; the append retries under one id until
        # the new leader takes it. Its timeout only bounds the test.
        seq = append_tokens(cluster.urls, BACKLOG, 1, timeout=120)
    finally:
        leader.start()
    cluster.wait_healthy()
    assert stream_leader(cluster.urls)
    landed = [r.seq for r in read_log(cluster.urls)
              if isinstance(r.event, TokenIssued) and r.event.token_id == f"backlog{BACKLOG}"]
    assert landed == [seq]


def test_the_same_faults_with_every_blob_in_the_object_store(object_deployment: Deployment, tmp_path: Path) -> None:
    deployment = object_deployment
    bucket, renditions = "MEDIAPLEX_blobs", "MEDIAPLEX_renditions"
    final, accepted = faulted_run(deployment, tmp_path, leader_of=(f"OBJ_{bucket}", f"OBJ_{renditions}"))
    names = bucket_names(deployment.cluster.urls, bucket)
    assert set(names) <= final.live_blobs, "objects no media names"
    assert len(names) == len(final.live_blobs)
    # Each processed blob's three renditions, kept once by the processor that made them.
    kept = collections.Counter(blob_of(name) for name in bucket_names(deployment.cluster.urls, renditions))
    assert kept == dict.fromkeys(final.live_blobs, 3)
    # No role keeps blobs in a directory of its own making, and every gateway serves every media's
    # renditions, read from the bucket by whichever role made them.
    assert not (deployment.root / "blobs").exists()
    headers = {"Authorization": f"Bearer {deployment.token}"}
    for media_id in accepted[:: UPLOADS // 20]:
        answers = []
        for gateway in deployment.gateways:
            media = requests.get(f"{gateway.url}/api/v1/media/{media_id}", headers=headers, timeout=60).json()
            preview = requests.get(gateway.url + urlsplit(media["preview_url"]).path, timeout=60)
            assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg", media_id
            answers.append(hashlib.sha256(preview.content).hexdigest())
        assert answers[0] == answers[1], media_id
