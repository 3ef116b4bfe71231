"""`python -m bench [--runs N] [--quick] [--only NAME]`: measure, print, write docs/benchmarks.md.

Exits non-zero only when something could not be measured; a missed goal is a result, not an error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import (
    blobstores,
    blurhash,
    eventlog,
    feedpage,
    hostile,
    ingest,
    latency,
    machine,
    memory,
    processing,
    replicas,
    report,
    transform,
    transform_peers,
    video,
)
from bench.common import FAILED, Outcome, Row, Settings

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Measurement:
    name: str
    key: str
    title: str
    run: Callable[[Settings], Outcome]


def measurements() -> tuple[Measurement, ...]:
    return (
        Measurement("processing", "1", "Processing", processing.run),
        Measurement("latency", "2", "Upload to ready", latency.run),
        Measurement("ingest", "3", "Ingest", ingest.run),
        Measurement("transform", "4", "Transformations vs thumbor", transform.run),
        Measurement("cached", "4c", "Cached variants vs a handler answering from memory", transform.run_cached),
        Measurement("peers", "4e", "Transformations vs the floor and ipx", transform_peers.run),
        Measurement("eventlog", "5", "Event log and projection", eventlog.run),
        Measurement("memory", "6", "Memory", memory.run),
        Measurement("hostile", "7", "Hostile inputs", hostile.run),
        Measurement("feed", "8", "Feed paging", feedpage.run),
        Measurement("replicas", "9", "Processing throughput by processor replicas", replicas.run),
        Measurement("av", "10", "Video and audio", video.run),
        Measurement("blurhash", "11", "BlurHash", blurhash.run),
        Measurement("blobs", "12", "Blob stores", blobstores.run),
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [m.name for m in measurements()]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=None, help="runs per figure, the median is reported (default 3; "
                                                                  "1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small inputs and counts: a smoke test of the suite")
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this measurement (repeatable): {', '.join(names)}")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md",
                        help="where to write the results (default docs/benchmarks.md)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def show(row: Row) -> None:
    print(f"  [{row.key}] {row.what}\n"
          f"      result {row.result} | reference {row.reference} | ratio {row.ratio} | goal {row.goal} "
          f"=> {row.verdict}", flush=True)


def run_one(measurement: Measurement, settings: Settings) -> Outcome:
    try:
        return measurement.run(settings)
    except Exception as exc:  # noqa: BLE001 - reported as a row; the other measurements still run
        traceback.print_exc()
        why = f"{type(exc).__name__}: {exc}"
        return Outcome(rows=[Row(key=measurement.key, what=measurement.title, result=why, verdict=FAILED)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    chosen = [m for m in measurements() if not args.only or m.name in args.only]
    started = time.monotonic()
    facts = machine.describe()
    load_before = machine.load()
    print(f"Mediaplex benchmarks: {facts.cpu}, {facts.usable_cores} cores, load {load_before}; "
          f"{'quick' if args.quick else 'full'}, {args.runs} run(s) per figure", flush=True)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mediaplex-bench-") as scratch:
        for measurement in chosen:
            print(f"{measurement.key}. {measurement.title} ...", flush=True)
            work = Path(scratch) / measurement.name
            work.mkdir()
            begun = time.monotonic()
            outcome = run_one(measurement, Settings(runs=args.runs, quick=args.quick, work=work))
            # Corpora and logs run to gigabytes; none of it is needed by the next measurement.
            shutil.rmtree(work, ignore_errors=True)
            for row in outcome.rows:
                show(row)
            for note in outcome.notes:
                print(f"      note: {note}", flush=True)
            print(f"      ({time.monotonic() - begun:.0f} s)", flush=True)
            rows += outcome.rows
            notes += outcome.notes
    mode = "quick smoke run (small inputs, not comparable)" if args.quick else "full run"
    if args.only:
        mode += f", only {', '.join(args.only)}"
    summary = report.Run(machine=facts, mode=mode, runs=args.runs, load_before=load_before,
                         load_after=machine.load(), minutes=(time.monotonic() - started) / 60)
    report.write(args.output, report.render(summary, rows, notes))
    print(f"Wrote {args.output}", flush=True)
    failed = [row for row in rows if row.verdict == FAILED]
    if failed:
        print(f"Could not measure: {', '.join(row.key for row in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
