"""The facts a reader needs to weigh the figures: hardware, load, and the versions that did the work."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyvips

from core.broker import nats_server_binary


@dataclass(frozen=True)
class Machine:
    date: str
    cpu: str
    cores: int
    usable_cores: int
    memory_kb: int
    system: str
    versions: dict[str, str]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _nats_server_version() -> str:
    try:
        out = subprocess.run([str(nats_server_binary()), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    # "nats-server: v2.11.0"
    return out.stdout.strip().rpartition(" ")[2].lstrip("v") or "unknown"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> Machine:
    return Machine(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        usable_cores=len(os.sched_getaffinity(0)),
        memory_kb=_memory_kb(),
        system=f"{platform.system()} {platform.release()}",
        versions={
            "Python": platform.python_version(),
            "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
            "pyvips": _package("pyvips"),
            "nats-server": _nats_server_version(),
            "nats-py": _package("nats-py"),
            "msgspec": _package("msgspec"),
            "aiohttp": _package("aiohttp"),
            "sqlite": sqlite3.sqlite_version,
        },
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
