"""A server killed with SIGKILL mid-upload leaves a temp file (of an upload larger than what is gathered
in memory), and may leave a blob whose event never reached the log; the next start removes both once
they are older than the sweep grace."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from store.staging import SPOOL_BYTES
from tests import images
from tests.cluster import wait_until
from tests.servers import make_config, start
from tests.test_cli import _broker_alive, run, serve

BOUNDARY = "leftover-boundary"


def start_slow_upload(url: str, token: str, head: bytes) -> socket.socket:
    """A chunked multipart upload whose file part has begun and never ends."""
    address = urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    sock.sendall(
        f"POST /api/v2/media HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + head
    sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    return sock


def blob_path(data: Path, content: bytes) -> Path:
    sha = hashlib.sha256(content).hexdigest()
    return data / "blobs" / sha[:2] / sha[2:4] / sha


def backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_restart_removes_what_a_kill_left_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serving = serve(data)
    slow: socket.socket | None = None
    try:
        token = run("token", "create", "admin", data=data).stdout.strip()
        kept = images.jpeg(tmp_path / "kept.jpg", 320, 240).read_bytes()
        posted = requests.post(f"{serving.url}/api/v1/media", files={"file": ("kept.jpg", kept, "image/jpeg")},
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert posted.status_code == 200
        kept_blob = blob_path(data, kept)

        big = images.jpeg(tmp_path / "big.jpg", 1600, 1200).read_bytes()
        # Past what is gathered in memory, so the bytes so far are in a temp file.
        slow = start_slow_upload(serving.url, token, big + bytes(SPOOL_BYTES))
        temp_dir = data / "blobs" / "tmp"
        wait_until(lambda: any(temp_dir.glob("*.part")), "the upload to start streaming into a temp file")
        serving.process.kill()
        serving.process.wait(timeout=10)
    finally:
        if slow is not None:
            slow.close()
        # A failure before the kill must not leave the server (and its broker) running.
        if serving.process.poll() is None:
            serving.process.kill()
            serving.process.wait(timeout=10)
    wait_until(lambda: not _broker_alive(data), "the embedded broker to go with its server", deadline=10)
    (leftover,) = temp_dir.glob("*.part")

    # Bytes committed under their hash whose media.uploaded never reached the log.
    orphan_bytes = b"committed, then the process died before the append"
    orphan = blob_path(data, orphan_bytes)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(orphan_bytes)
    # All three are older than the grace below: only what the log says tells them apart.
    for path in (leftover, orphan, kept_blob):
        backdate(path, 60)

    again = serve(data, "--sweep-grace", "30")
    try:
        wait_until(lambda: not leftover.exists() and not orphan.exists(), "the start's sweep", deadline=30)
        assert kept_blob.exists()
        got = requests.get(posted.json()["url"].replace(serving.url, again.url), timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg"
        assert list(temp_dir.iterdir()) == []
    finally:
        assert again.stop() == 0


async def test_a_processor_alone_cleans_up_its_renders_at_start(nats_url: str, data_dir: Path) -> None:
    """That role runs no sweeper; what it cleans is its own: temp files beside renditions."""
    config = make_config(nats_url, data_dir, sweep_grace=30.0)
    sha = "cd" * 32
    place = config.renditions / sha[:2] / sha / "v3"
    place.mkdir(parents=True)
    stale, fresh, whole = place / ".original.a1b2c3.tmp", place / ".small.d4e5f6.tmp", place / "original.jpg"
    for path in (stale, fresh, whole):
        path.write_bytes(b"bytes")
    for path in (stale, whole):
        backdate(path, 60)
    running = await start(config, gateways=False)
    try:
        assert (stale.exists(), fresh.exists(), whole.exists()) == (False, True, True)
    finally:
        await running.server.stop()
