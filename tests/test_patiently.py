"""A role starting while the cluster has no leader waits it out, for a while, instead of exiting."""

from __future__ import annotations

import asyncio
import time

import nats.errors
import pytest
from nats.js import errors as js_errors

from core.jetstream import patiently

pytestmark = pytest.mark.asyncio


class Flaky:
    """Answers like a cluster electing a leader: no answer `misses` times, then the value."""

    def __init__(self, misses: int, error: Exception) -> None:
        self.misses = misses
        self.error = error
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.misses:
            raise self.error
        return 42


@pytest.mark.parametrize("error", [nats.errors.TimeoutError(), nats.errors.NoRespondersError(),
                                   js_errors.ServiceUnavailableError()])
async def test_a_step_is_tried_again_until_a_leader_answers(error: Exception) -> None:
    step = Flaky(3, error)
    assert await patiently(step, "testing", within=10.0) == 42
    assert step.calls == 4


async def test_it_gives_up_once_its_time_is_over() -> None:
    step = Flaky(1000, nats.errors.TimeoutError())
    began = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await patiently(step, "testing", within=1.0)
    assert 0.5 < time.monotonic() - began < 2.5 and 2 <= step.calls < 10


async def test_anything_else_is_not_waited_out() -> None:
    step = Flaky(1, js_errors.NotFoundError())
    with pytest.raises(js_errors.NotFoundError):
        await asyncio.wait_for(patiently(step, "testing"), 5.0)
    assert step.calls == 1
