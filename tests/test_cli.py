"""The `mediaplex` command as an operator runs it: real processes, the embedded broker, the printed curl."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

MEDIAPLEX = [sys.executable, "-m", "mediaplex"]


def run(*args: str, data: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIAPLEX_DATA": str(data)}
    return subprocess.run([*MEDIAPLEX, *args], capture_output=True, text=True, env=env, timeout=60, check=check)


class Serving:
    def __init__(self, process: subprocess.Popen[str], lines: list[str], url: str) -> None:
        self.process = process
        self.lines = lines
        self.url = url

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            raise


def serve(data: Path, *flags: str) -> Serving:
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "mediaplex", "serve", "--data", str(data), "--port", "0", *flags],
        stdout=subprocess.PIPE, stderr=(data.parent / "serve.log").open("a"), text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        found = re.search(r"serving at (\S+)", line)
        if found:
            return Serving(process, lines, found.group(1))
    process.kill()
    raise AssertionError(f"serve did not come up: {lines}")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def serving(data: Path) -> Iterator[Serving]:
    running = serve(data)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_help_explains_every_command() -> None:
    out = subprocess.run([*MEDIAPLEX, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "gateway", "processor", "rebuild", "digest", "reprocess", "user", "token"):
        assert command in out
    serve_help = subprocess.run([*MEDIAPLEX, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--data", "--host", "--port", "--nats", "--public-url", "MEDIAPLEX_PORT"):
        assert flag in serve_help


def test_first_start_prints_a_curl_that_works(serving: Serving) -> None:
    said = "\n".join(serving.lines)
    assert "password:" in said
    (command,) = [line.strip() for line in serving.lines if line.strip().startswith("curl ")]
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=True)
    body = json.loads(result.stdout)
    assert body["url"] and body["description"] == "A first upload"
    assert body["meta"]["small"]["size"] == "554x416"


def test_users_and_tokens_with_and_without_a_running_server(serving: Serving, data: Path) -> None:
    run("user", "add", "bob", "--password", "secret", data=data)
    token = run("token", "create", "bob", "--scopes", "read write:media", data=data).stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    me = requests.get(f"{serving.url}/api/v1/accounts/verify_credentials",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "bob"

    taken = run("user", "add", "bob", "--password", "again", data=data, check=False)
    assert taken.returncode == 2 and "exists already" in taken.stderr
    unknown = run("token", "create", "nobody", data=data, check=False)
    assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
    generated = run("user", "add", "carol", data=data)
    assert generated.stdout.startswith("password: ")

    before = run("digest", data=data).stdout.split()
    assert serving.stop() == 0
    assert not (data / "run" / "nats.url").exists()

    # With the server stopped, the commands bring up the broker themselves.
    later = run("token", "create", "carol", "--scopes", "read", data=data).stdout.strip()
    rebuilt = run("rebuild", data=data).stdout.splitlines()
    digest = run("digest", data=data).stdout.split()
    assert rebuilt[-1] == digest[1]
    assert int(digest[0]) == int(before[0]) + 1  # the token created while stopped

    again = serve(data)
    try:
        assert not any("created the user" in line for line in again.lines)
        me = requests.get(f"{again.url}/api/v1/accounts/verify_credentials",
                          headers={"Authorization": f"Bearer {later}"}, timeout=10)
        assert me.status_code == 200 and me.json()["username"] == "carol"
    finally:
        assert again.stop() == 0


def test_a_second_server_on_the_same_data_is_refused(serving: Serving, data: Path) -> None:
    second = run("serve", "--port", "0", data=data, check=False)
    assert second.returncode == 1 and "already running" in second.stderr


def test_a_killed_server_restarts_with_everything(serving: Serving, data: Path) -> None:
    token = run("token", "create", "admin", data=data).stdout.strip()
    sample = data / "sample.jpg"
    with sample.open("rb") as image:
        posted = requests.post(f"{serving.url}/api/v1/media", files={"file": image},
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert posted.status_code == 200
    serving.process.kill()
    serving.process.wait(timeout=10)
    # The embedded broker goes with it (it gets SIGTERM when its parent dies).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _broker_alive(data):
        time.sleep(0.1)
    assert not _broker_alive(data)

    again = serve(data)
    try:
        got = requests.get(f"{again.url}/api/v1/media/{posted.json()['id']}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert got.status_code == 200 and got.json()["meta"] == posted.json()["meta"]
    finally:
        assert again.stop() == 0


def _broker_alive(data: Path) -> bool:
    found = subprocess.run(["pgrep", "-f", f"--store_dir {data}/nats"], capture_output=True)
    return found.returncode == 0


def test_reprocess_appends_a_request_and_a_new_outcome(serving: Serving, data: Path) -> None:
    token = run("token", "create", "admin", data=data).stdout.strip()
    with (data / "sample.jpg").open("rb") as image:
        posted = requests.post(f"{serving.url}/api/v1/media", files={"file": image},
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert posted.status_code == 200
    media_id = posted.json()["id"]
    before = int(run("digest", data=data).stdout.split()[0])

    done = run("reprocess", media_id, data=data)
    assert done.stdout.startswith(f"requested reprocessing of {media_id} (replacing outcome ")
    # The request, then the processor's new outcome: two events, no more.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and int(run("digest", data=data).stdout.split()[0]) < before + 2:
        time.sleep(0.2)
    assert int(run("digest", data=data).stdout.split()[0]) == before + 2
    got = requests.get(f"{serving.url}/api/v1/media/{media_id}",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert got.status_code == 200 and got.json()["meta"] == posted.json()["meta"]

    none_failed = run("reprocess", "--failed", data=data)
    assert none_failed.stdout == "" and "no failed media" in none_failed.stderr
    unknown = run("reprocess", "nope", data=data, check=False)
    assert unknown.returncode == 1 and "no media 'nope'" in unknown.stderr
    neither = run("reprocess", data=data, check=False)
    assert neither.returncode == 2
    assert int(run("digest", data=data).stdout.split()[0]) == before + 2
