"""docs/benchmarks.md: the machine, then one row per figure, then notes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.common import Row
from bench.machine import Machine

COLUMNS = ("#", "what", "result", "reference", "ratio", "goal", "verdict")


@dataclass(frozen=True)
class Run:
    machine: Machine
    mode: str
    runs: int
    load_before: str
    load_after: str
    minutes: float


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(run: Run, rows: list[Row], notes: list[str]) -> str:
    m = run.machine
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench`) on {m.date}: {run.mode}, every figure the median of "
        f"{run.runs} run{'s' if run.runs != 1 else ''}, {run.minutes:.1f} minutes in all.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {_cell(m.cpu)}, {m.cores} cores ({m.usable_cores} usable by this process) |",
        f"| memory | {m.memory_kb / 1024 / 1024:.1f} GiB |",
        f"| system | {_cell(m.system)} |",
        f"| load average (1/5/15 min) | before {run.load_before}, after {run.load_after} |",
    ]
    lines += [f"| {name} | {version} |" for name, version in m.versions.items()]
    lines += [
        "",
        "Each result stands next to a reference measured in the same run on the same inputs. The ratio is "
        "the median of the per-run ratios, always the Mediaplex figure divided by the reference figure, "
        "and is the number to compare across machines: absolute times on a shared machine drift.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        cells = (row.key, row.what, row.result, row.reference, row.ratio, row.goal, row.verdict)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    temp.replace(path)
