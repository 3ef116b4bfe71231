"""Logs written in older event shapes fold into the same read model as the current shapes."""

from __future__ import annotations

import json
from pathlib import Path

from core.events import Codec
from core.jetstream import JetStreamLog
from core.log import Record
from store.feed import Feed
from store.projection import Projection

GOLDEN = Path(__file__).parent / "golden"


def golden_lines(name: str) -> list[bytes]:
    return [line.encode() for line in (GOLDEN / name).read_text().splitlines()]


async def fold(path: Path, lines: list[bytes]) -> Projection:
    codec = Codec()
    projection = Projection(path)
    await projection.open()
    # Two records a batch, so older and current shapes share batches too.
    records = [Record(seq, codec.decode(line)) for seq, line in enumerate(lines, start=1)]
    for start in range(0, len(records), 2):
        await projection.apply(records[start:start + 2])
    return projection


async def test_an_older_log_projects_to_the_same_read_model(tmp_path: Path) -> None:
    older = await fold(tmp_path / "older.db", golden_lines("older-log.jsonl"))
    current = await fold(tmp_path / "current.db", golden_lines("current-log.jsonl"))
    try:
        assert await older.digest() == await current.digest()
        assert (await older.digest())[0] == 10
    finally:
        await current.close()
        await older.close()


async def test_older_shapes_fill_the_read_model(tmp_path: Path) -> None:
    projection = await fold(tmp_path / "p.db", golden_lines("older-log.jsonl"))
    try:
        m1 = await projection.one("SELECT * FROM media WHERE media_id = 'm1'", ())
        # Written before frames, filename, description, focus and via existed: their defaults.
        assert m1 is not None
        assert (m1["frames"], m1["filename"], m1["description"], m1["focus_x"], m1["via"]) == (1, "", "", None, "")
        assert (m1["status"], m1["version"], m1["thumb"]) == ("ready", 1, None)
        assert json.loads(m1["original"]) == {"style": "original", "width": 640, "height": 480,
                                              "content_type": "image/jpeg", "size": 1900}
        assert json.loads(m1["small"])["width"] == 554
        m2 = await projection.one("SELECT version, thumb, focus_x, focus_y FROM media WHERE media_id = 'm2'", ())
        assert m2 is not None and (m2["version"], m2["focus_x"], m2["focus_y"]) == (2, 0.25, -0.5)
        assert json.loads(m2["thumb"]) == {"style": "thumb", "width": 320, "height": 240,
                                           "content_type": "image/png", "size": 400}
        m3 = await projection.one("SELECT thumb, published_at, title, tags FROM media WHERE media_id = 'm3'", ())
        assert m3 is not None and (m3["thumb"], m3["published_at"], m3["title"]) == (None, 107.0, "Spinner")
        assert json.loads(m3["tags"]) == ["gif"]
        # Activities written before attachments and space existed: none attached, no space.
        rows = await projection.read(lambda conn: conn.execute(
            "SELECT activity_id, attachments, space, in_reply_to FROM activities ORDER BY seq").fetchall())
        assert [tuple(row) for row in rows] == [("a1", None, None, None), ("a2", None, None, "m3")]
        inbox = await projection.read(lambda conn: conn.execute(
            "SELECT user_id, activity_id, direct FROM inbox ORDER BY entry").fetchall())
        assert sorted(tuple(row) for row in inbox) == [("alice", "a2", 0), ("bob", "a1", 0), ("bob", "a2", 1)]
    finally:
        await projection.close()


async def test_a_rebuild_reads_older_shapes_from_jetstream(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    codec = Codec()
    older = golden_lines("older-log.jsonl")
    # The older bytes go into the stream as they were written then, not through today's encoder.
    for i, line in enumerate(older):
        subject = jetstream_log.subject(codec.decode(line).subject())
        ack = await jetstream_log.jetstream.publish(subject, line, headers={"Nats-Msg-Id": f"older-{i}"})
        assert ack.seq == i + 1
    rebuilt = Projection(tmp_path / "rebuilt.db", building=True)
    await rebuilt.open()
    expected = await fold(tmp_path / "current.db", golden_lines("current-log.jsonl"))
    try:
        assert await Feed(jetstream_log, rebuilt, batch=3).run(follow=False) == len(older)
        assert await rebuilt.digest() == await expected.digest()
    finally:
        await expected.close()
        await rebuilt.close()
