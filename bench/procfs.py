"""Resident memory and CPU time of a process, read from /proc (Linux only, as is the rest of Mediaplex)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path


def status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status, e.g. VmRSS (now) or VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(f"{field} not in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User and system time the process has used so far, every thread included."""
    # The command name, in parentheses, may hold spaces: the fields that count come after it.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    return status_kb(pid, "VmRSS")


def peak_kb(pid: int) -> int:
    return status_kb(pid, "VmHWM")


def reset_peak(pid: int) -> bool:
    """Set the peak back to the current RSS, so the next peak belongs to the work that follows.

    Writing 5 to clear_refs does that since Linux 4.0; False where it is not allowed.
    """
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakSampler:
    """Polls a process's RSS while work runs: a second opinion where the peak cannot be reset."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._pid = pid
        self._interval = interval
        self.highest = 0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(OSError, KeyError):
                self.highest = max(self.highest, rss_kb(self._pid))
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> PeakSampler:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(OSError, KeyError):
            self.highest = max(self.highest, rss_kb(self._pid))
