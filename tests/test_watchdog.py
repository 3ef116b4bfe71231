"""The stall rule alone: waiting work and progress standing still, sample after sample."""

from __future__ import annotations

import pytest

from core.watchdog import Stall


def test_progress_standing_still_while_work_waits_is_a_stall() -> None:
    stall = Stall(checks=2)
    assert stall.sample(5, waiting=True) is False
    assert stall.sample(5, waiting=True) is True
    # Reported once; the next stall needs its own samples.
    assert stall.sample(5, waiting=True) is False
    assert stall.sample(5, waiting=True) is True


def test_an_idle_or_moving_reader_is_not_stalled() -> None:
    stall = Stall(checks=3)
    samples = [(1, True), (2, True), (3, True), (3, False), (3, False), (3, True), (3, True), (4, True), (4, True)]
    assert [stall.sample(progress, waiting) for progress, waiting in samples] == [False] * len(samples)
    assert stall.sample(4, waiting=True) is True


def test_a_stall_needs_two_samples() -> None:
    with pytest.raises(ValueError):
        Stall(checks=1)
