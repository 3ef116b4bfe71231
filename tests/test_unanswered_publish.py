"""An append whose ack was lost while the stream elected a leader is retried under its id: the retry
returns where the first try landed, even where an expected sequence refuses the retry itself."""

from __future__ import annotations

import pytest

from core.events import TokenIssued
from core.jetstream import JetStreamLog
from core.log import Conflict
from tests.lostanswers import LostAnswers

pytestmark = pytest.mark.asyncio


def token(n: int) -> TokenIssued:
    return TokenIssued(at=1.0, token_id=f"t{n}", user_id="alice", token_hash=f"{n:064x}", scopes=("read",))


async def appended(events: JetStreamLog) -> list[str]:
    return [r.event.token_id async for r in events.read(1, follow=False) if isinstance(r.event, TokenIssued)]


@pytest.mark.parametrize("expected", [None, 0], ids=["plain", "expected-sequence"])
async def test_an_append_that_landed_unanswered_returns_where_it_landed(
    jetstream_log: JetStreamLog, monkeypatch: pytest.MonkeyPatch, expected: int | None
) -> None:
    lost = LostAnswers(jetstream_log.jetstream, ".", landing=True, times=1)
    monkeypatch.setattr(jetstream_log.jetstream, "publish", lost.publish)
    seq = await jetstream_log.append(token(1), msg_id="one", expected_last=expected)
    assert lost.left == 0
    assert seq == await jetstream_log.last_seq()
    assert await appended(jetstream_log) == ["t1"]


async def test_a_retry_refused_by_someone_else_s_event_is_a_conflict(
    jetstream_log: JetStreamLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await jetstream_log.append(token(1), msg_id="one")
    assert first
    lost = LostAnswers(jetstream_log.jetstream, ".", landing=False, times=1)
    monkeypatch.setattr(jetstream_log.jetstream, "publish", lost.publish)
    # Same subject (the token's), expected empty: the retry is refused, and the last event is not its own.
    with pytest.raises(Conflict):
        await jetstream_log.append(token(1), msg_id="two", expected_last=0)
    assert await appended(jetstream_log) == ["t1"]
