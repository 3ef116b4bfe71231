"""A nats-server the tests can kill with SIGKILL and start again on the same port and store."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path

from core.broker import nats_server_binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class KillableBroker:
    """One nats-server on a fixed port with a file store; `kill` is SIGKILL, `start` brings it back.

`freeze` stops the process without closing its sockets (SIGSTOP), as a hung host looks to a client
that is still connected; `thaw` lets it go on.
"""

    def __init__(self, root: Path, *, options: tuple[str, ...] = ()) -> None:
        self._root = root
        self._options = options
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 20.0) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--jetstream",
                "--addr", "127.0.0.1",
                "--port", str(self.port),
                "--store_dir", str(self._root / "store"),
                "--log", str(self._root / "nats-server.log"),
                *self._options,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if loop.time() > deadline:
                    raise TimeoutError("nats-server did not listen in time") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        await asyncio.to_thread(process.wait, 30)

    def freeze(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        # kill(2) returns before every thread has stopped: a request sent at once could still be
        # answered on the other core. The process is frozen once /proc reports it stopped.
        stat = Path(f"/proc/{self._process.pid}/stat")
        deadline = time.monotonic() + 10.0
        while stat.read_text().rpartition(")")[2].split()[0] not in ("T", "t"):
            assert time.monotonic() < deadline, "the broker did not stop"
            time.sleep(0.001)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
