"""What a measurement is given and what it hands back: settings in, table rows and notes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MET = "met"
MISSED = "missed"
NOT_BUILT = "not built yet"
NO_GOAL = "no goal"
FAILED = "could not measure"

DASH = "—"


@dataclass(frozen=True)
class Settings:
    runs: int
    quick: bool
    # A private scratch directory, removed once the measurement is over.
    work: Path

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    result: str
    reference: str = DASH
    ratio: str = DASH
    goal: str = DASH
    verdict: str = NO_GOAL


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verdict(met: bool) -> str:
    return MET if met else MISSED


def not_built(key: str, what: str, why: str) -> Row:
    return Row(key=key, what=what, result=f"skipped: {why}", goal=DASH, verdict=NOT_BUILT)


class CouldNotMeasure(RuntimeError):
    """The thing measured did not do what it should (a failed upload, a missing outcome)."""
