"""Reading the JetStream log: sequences from reply subjects, streams under another prefix."""

from __future__ import annotations

import asyncio
import uuid

from core.events import UserAdded
from core.jetstream import JetStreamLog, StreamSettings, connect
from core.wireread import stream_seq


def test_stream_sequence_from_either_reply_form() -> None:
    assert stream_seq("$JS.ACK.LOG.cons.1.4711.12.1700000000000000000.3") == 4711
    assert stream_seq("$JS.ACK.hub.ACCHASH.LOG.cons.1.4711.12.1700000000000000000.3.tok") == 4711


async def test_a_stream_under_another_prefix_reads_back(nats_url: str) -> None:
    client = await connect([nats_url], name="prefix")
    try:
        tag = uuid.uuid4().hex[:8]
        events = JetStreamLog(client, StreamSettings(name=f"OTHER{tag}", prefix=f"elsewhere{tag}"))
        await events.ensure_stream()
        for i in range(12):
            await events.append(UserAdded(at=float(i), user_id=f"u{i}", password_hash="x"), msg_id=f"m{i}")
        batches = [batch async for batch in events.read_batches(3, follow=False, size=5)]
        assert [len(batch) for batch in batches] == [5, 5]
        assert [(r.seq, r.event.user_id) for batch in batches for r in batch] == [  # type: ignore[union-attr]
            (seq, f"u{seq - 1}") for seq in range(3, 13)
        ]
    finally:
        await client.close()


async def test_a_reader_whose_cancellation_was_lost_still_stops(jetstream_log: JetStreamLog) -> None:
    """A cancellation lost on the way into the read (as wait_for can) must not leave the reader waiting."""

    async def follow_after_a_lost_cancellation() -> None:
        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass  # lost, as a racing asyncio.wait_for would lose it
        async for _batch in jetstream_log.read_batches(1, follow=True, size=10):
            pass

    reader = asyncio.create_task(follow_after_a_lost_cancellation())
    done, _ = await asyncio.wait((reader,), timeout=10)
    assert reader in done and reader.cancelled()
