"""A JetStream cluster of nats-server processes on loopback, and `mediaplex` roles as processes beside it.

Everything here is a real process that can be killed with SIGKILL and started again on the same
ports and directories, which is what the fault tests need.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from core.broker import nats_server_binary

MEDIAPLEX = [sys.executable, "-m", "mediaplex"]
# Generous: two cores shared by eight processes, one of which may be folding a backlog.
START_DEADLINE = 90.0


def free_ports(count: int) -> list[int]:
    """Ports free right now; held open together so no two are the same."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_until(check: Callable[[], object], what: str, deadline: float = START_DEADLINE, every: float = 0.1) -> None:
    """Poll `check()` until it is truthy; fail naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(every)


class Node:
    """One nats-server of the cluster, with its own store; `kill` and `start` keep ports and store."""

    def __init__(self, root: Path, name: str, port: int, cluster_port: int, monitor_port: int,
                 routes: list[int]) -> None:
        self.name = name
        self.port = port
        self.monitor_port = monitor_port
        self.store = root / name
        self.store.mkdir(parents=True, exist_ok=True)
        self.log = root / f"{name}.log"
        self.config = root / f"{name}.conf"
        route_urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
        self.config.write_text(
            f'server_name: "{name}"\n'
            f"listen: 127.0.0.1:{port}\n"
            f"http: 127.0.0.1:{monitor_port}\n"
            f'jetstream {{ store_dir: "{self.store}", max_memory_store: 64MB, max_file_store: 1GB }}\n'
            f'cluster {{ name: "mediaplex", listen: 127.0.0.1:{cluster_port}, routes: [{route_urls}] }}\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(nats_server_binary()), "--config", str(self.config), "--log", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def healthy(self) -> bool:
        """The server's own health check: up, and its JetStream caught up with the cluster."""
        try:
            return requests.get(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def meta_group(self) -> dict[str, Any]:
        """JetStream's meta group as this node sees it (`/jsz`); empty when it does not answer."""
        try:
            found = requests.get(f"http://127.0.0.1:{self.monitor_port}/jsz", timeout=2).json().get("meta_cluster")
        except (requests.RequestException, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None


class Cluster:
    """Three nats-server processes routed to each other, JetStream on every one."""

    def __init__(self, root: Path, size: int = 3) -> None:
        ports = free_ports(3 * size)
        clients, routes, monitors = ports[:size], ports[size:2 * size], ports[2 * size:]
        self.nodes = [Node(root, f"n{i + 1}", clients[i], routes[i], monitors[i], routes)
                      for i in range(size)]

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self.wait_healthy()

    def wait_healthy(self) -> None:
        for node in self.nodes:
            wait_until(node.healthy, f"nats node {node.name} to be healthy")
        wait_until(self.placeable, "every nats node to be a current JetStream peer")

    def placeable(self) -> bool:
        """Whether the meta leader sees every other node as a current peer and every node agrees on the
        leader: until then a stream of three replicas has no placement ("no suitable peers"), which
        /healthz does not wait for. Only the leader knows whether the others are current."""
        groups = {node.name: node.meta_group() for node in self.nodes}
        leaders = {group.get("leader") for group in groups.values()}
        if len(leaders) != 1 or None in leaders:
            return False
        peers = groups.get(str(next(iter(leaders))), {}).get("replicas") or []
        return len(peers) == len(self.nodes) - 1 and all(peer.get("current") for peer in peers)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class Role:
    """A `mediaplex gateway` or `processor` in a process of its own, up once it printed its URL."""

    def __init__(self, argv: list[str], log: Path, *, start_deadline: float = START_DEADLINE) -> None:
        self.argv = argv
        self.log = log
        self.start_deadline = start_deadline
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> None:
        self.spawn()
        self.wait_started()

    def spawn(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen([*MEDIAPLEX, *self.argv], stdout=subprocess.PIPE, stderr=log, text=True)

    def wait_started(self) -> None:
        """Until the role printed its URL: a gateway does once it folded the log as of its start."""
        assert self.process is not None and self.process.stdout is not None
        lines: list[str] = []
        # readline blocks, so the deadline is checked between lines; a dead process ends the output.
        end = time.monotonic() + self.start_deadline
        while time.monotonic() < end:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            found = re.search(r"(?:serving at|health at) (http://\S+?)(?:/readyz)?$", line.strip())
            if found:
                self.url = found.group(1)
                return
        self.process.kill()
        raise AssertionError(f"{self.argv[0]} did not come up: {lines}\n{self.log.read_text()[-4000:]}")

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            raise


def mediaplex(*argv: str, timeout: float = 120) -> str:
    """Run one admin command to its end; its stdout."""
    done = subprocess.run([*MEDIAPLEX, *argv], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"mediaplex {' '.join(argv)}: {done.returncode}\n{done.stderr}"
    return done.stdout

