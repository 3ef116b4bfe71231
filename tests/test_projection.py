"""The SQLite read model: pure folding, idempotent application, digests, feeding from a log."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from core.events import (
    ActivityPosted,
    AnyEvent,
    AvatarSet,
    CollectionCreated,
    CollectionDeleted,
    CollectionItemAdded,
    Focus,
    Followed,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaRequested,
    MediaUpdated,
    MediaUploaded,
    PostCreated,
    PostDeleted,
    Reacted,
    RenditionInfo,
    Unfollowed,
    Unreacted,
    UserAdded,
)
from core.jetstream import JetStreamLog
from core.log import Record
from core.memlog import MemoryLog
from mediaplex.runtime import projection_at
from store import generations
from store.changes import Sweep
from store.feed import Feed
from store.projection import CHECKPOINT, Projection, Statements, Told
from store.readmodel import Patch, Put, Remove, changes


def uploaded(media_id: str, owner: str = "alice") -> MediaUploaded:
    return MediaUploaded(at=10.0, media_id=media_id, owner_id=owner, blob="b" * 64, size=5,
                         content_type="image/jpeg", width=640, height=480)


def processed(media_id: str) -> MediaProcessed:
    return MediaProcessed(at=11.0, media_id=media_id, blob="b" * 64, version=1,
                          renditions=(RenditionInfo("original", 640, 480, "image/jpeg", 1000),
                                      RenditionInfo("small", 554, 416, "image/jpeg", 500)),
                          blurhash="H" * 36)


def test_folding_is_pure_data() -> None:
    assert changes(MediaDeleted(at=1.0, media_id="3")) == [
        Remove("media", "3"), Remove("requests", "3"), Sweep("reactions", "object_id", "3"),
        Sweep("members", "object_id", "3"),
    ]
    put, moved = changes(uploaded("3"))
    assert isinstance(put, Put) and put.row["status"] == "processing"
    assert moved == Remove("requests", "3")
    (patch,) = changes(MediaUpdated(at=2.0, media_id="3", focus=Focus(0.1, 0.2)))
    assert patch == Patch("media", "3", {"updated_at": 2.0, "focus_x": 0.1, "focus_y": 0.2})


async def test_presigned_requests_attachments_and_avatars_fold(tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    try:
        requested = MediaRequested(at=1.0, media_id="9", owner_id="alice", filename="cat.png",
                                   content_type="image/png", max_bytes=100, expires_at=901.0)
        post = ActivityPosted(at=3.0, activity_id="a1", actor="alice", verb="post", object_type="note",
                              object_id="n1", content="Look", attachments=("9",), space="did:x")
        records = [Record(seq, event) for seq, event in enumerate(
            [UserAdded(at=0.5, user_id="alice", password_hash="x"), requested], start=1)]
        await projection.apply(records)
        pending = await projection.one("SELECT * FROM requests WHERE media_id = '9'", ())
        assert pending is not None and pending["expires_at"] == 901.0
        await projection.apply([Record(3, uploaded("9")), Record(4, post),
                                Record(5, AvatarSet(at=4.0, user_id="alice", media_id="9"))])
        assert await projection.one("SELECT * FROM requests WHERE media_id = '9'", ()) is None
        media = await projection.one("SELECT published_at, attached_at FROM media WHERE media_id = '9'", ())
        assert media is not None and (media["published_at"], media["attached_at"]) == (3.0, 4.0)
        user = await projection.one("SELECT avatar FROM users WHERE user_id = 'alice'", ())
        assert user is not None and user["avatar"] == "9"
        activity = await projection.one("SELECT attachments, space FROM activities", ())
        assert activity is not None and (activity["attachments"], activity["space"]) == ('["9"]', "did:x")
    finally:
        await projection.close()


async def test_a_reprocess_request_sets_failed_media_back_to_processing(tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    try:
        status = "SELECT status, failure FROM media WHERE media_id = '4'"
        await projection.apply([Record(1, uploaded("4")), Record(2, MediaFailed(at=2.0, media_id="4", reason="x"))])
        assert tuple(await projection.one(status, ()) or ()) == ("failed", "x")
        await projection.apply([Record(3, MediaReprocessRequested(at=3.0, media_id="4", blob="b" * 64, after=2))])
        assert tuple(await projection.one(status, ()) or ()) == ("processing", None)
        await projection.apply([Record(4, processed("4"))])
        assert tuple(await projection.one(status, ()) or ()) == ("ready", None)
        # A request for deleted media leaves no row behind.
        await projection.apply([Record(5, MediaDeleted(at=5.0, media_id="4")),
                                Record(6, MediaReprocessRequested(at=6.0, media_id="4", blob="b" * 64, after=4))])
        assert await projection.one(status, ()) is None
    finally:
        await projection.close()


async def open_projection(path: Path) -> Projection:
    projection = Projection(path)
    await projection.open()
    return projection


async def test_applying_the_same_records_twice_changes_nothing(tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    records = [Record(seq=1, event=UserAdded(at=1.0, user_id="alice", password_hash="h")),
               Record(seq=2, event=uploaded("1")),
               Record(seq=3, event=processed("1"))]
    await projection.apply(records)
    once = await projection.digest()
    # A redelivered batch, as after a reconnect: skipped by the checkpoint in the same transaction.
    projection.applied = 0
    await projection.apply(records)
    assert await projection.digest() == once
    assert once[0] == 3
    row = await projection.one("SELECT status, blurhash FROM media WHERE media_id = '1'")
    assert row is not None and tuple(row) == ("ready", "H" * 36)
    await projection.close()


async def test_checkpoint_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    projection = await open_projection(path)
    await projection.apply([Record(seq=1, event=uploaded("1")), Record(seq=2, event=MediaFailed(
        at=2.0, media_id="1", reason="corrupt"))])
    digest = await projection.digest()
    await projection.close()
    reopened = await open_projection(path)
    assert reopened.applied == 2
    assert await reopened.digest() == digest
    await reopened.close()


async def test_updates_after_delete_are_no_ops(tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    await projection.apply([Record(seq=1, event=uploaded("1")), Record(seq=2, event=MediaDeleted(at=3.0, media_id="1")),
                            Record(seq=3, event=processed("1")),
                            Record(seq=4, event=MediaUpdated(at=4.0, media_id="1", description="late"))])
    assert await projection.one("SELECT * FROM media") is None
    await projection.close()


async def test_wait_for_returns_once_applied(tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    assert not await projection.wait_for(1, timeout=0.05)
    waiter = asyncio.create_task(projection.wait_for(1, timeout=5))
    await asyncio.sleep(0.01)
    await projection.apply([Record(seq=1, event=uploaded("1"))])
    assert await waiter
    await projection.close()


async def fold_all(events: JetStreamLog | MemoryLog, path: Path) -> tuple[int, str]:
    projection = await open_projection(path)
    await Feed(events, projection, batch=7).run(follow=False)
    digest = await projection.digest()
    await projection.close()
    return digest


async def test_replaying_the_log_gives_the_same_digest(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    for i in range(40):
        await jetstream_log.append(uploaded(str(i), owner=f"u{i % 3}"), msg_id=f"up{i}")
        if i % 2:
            await jetstream_log.append(processed(str(i)), msg_id=f"pr{i}")
        if i % 5 == 0:
            await jetstream_log.append(MediaUpdated(at=12.0, media_id=str(i), description=f"d{i}"), msg_id=f"u{i}")
        if i % 7 == 0:
            await jetstream_log.append(MediaDeleted(at=13.0, media_id=str(i)), msg_id=f"d{i}")
    first = await fold_all(jetstream_log, tmp_path / "a.db")
    second = await fold_all(jetstream_log, tmp_path / "b.db")
    assert first == second
    assert first[0] == await jetstream_log.last_seq()
    # The fake folds the same events to the same digest as the real log.
    memory = MemoryLog()
    async for record in jetstream_log.read(1, follow=False):
        await memory.append(record.event, msg_id=str(record.seq))
    assert await fold_all(memory, tmp_path / "c.db") == first


async def test_live_feed_follows_new_events(jetstream_log: JetStreamLog, tmp_path: Path) -> None:
    projection = await open_projection(tmp_path / "p.db")
    feed = asyncio.create_task(Feed(jetstream_log, projection).run_forever())
    seq = await jetstream_log.append(uploaded("1"), msg_id="x")
    assert await projection.wait_for(seq, timeout=5)
    feed.cancel()
    await asyncio.gather(feed, return_exceptions=True)
    await projection.close()


def test_rebuild_progress_is_drawn_only_on_a_terminal() -> None:
    import io

    from mediaplex.cli import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = Progress(200, screen)
    bar(50)
    bar(200)
    bar.close()
    assert screen.getvalue() == (f"\r[{'#' * 7}{'.' * 23}] 50/200 events"
                                 f"\r[{'#' * 30}] 200/200 events\n")
    piped = io.StringIO()
    quiet = Progress(200, piped)
    quiet(50)
    quiet.close()
    assert piped.getvalue() == ""


def tangled_events() -> list[AnyEvent]:
    """Events that touch the same rows again and again, in orders a grouping could get wrong."""
    events: list[AnyEvent] = [UserAdded(at=0.5, user_id="alice", password_hash="x")]
    for round_ in range(3):
        for i in range(6):
            media = str(i)
            events.append(MediaRequested(at=1.0, media_id=media, owner_id="alice", filename="f",
                                         content_type="image/jpeg", max_bytes=10, expires_at=99.0))
            events.append(uploaded(media))
            events.append(MediaUpdated(at=2.0 + round_, media_id=media, description=f"first {round_}"))
            events.append(MediaUpdated(at=3.0 + round_, media_id=media, description=f"second {round_}",
                                       title="t"))
            if i % 2:
                events.append(processed(media))
            if (i + round_) % 3 == 0:
                events.append(MediaDeleted(at=4.0, media_id=media))
                events.append(MediaUpdated(at=5.0, media_id=media, description="after delete"))
            events.append(AvatarSet(at=6.0 + round_, user_id="alice", media_id=media))
            events.append(ActivityPosted(at=7.0, activity_id=f"a{round_}-{i}", actor="alice", verb="post",
                                         object_type="image", object_id=media, display_name=f"n{round_}"))
            events.extend(social_events(round_, i, media))
    return events


def social_events(round_: int, i: int, media: str) -> list[AnyEvent]:
    """Follows coming and going around posts that reach followers' inboxes, reactions, collections and
    the sweeps of deletes: the changes a grouping must keep in order with each other."""
    key = f"{round_}-{i}"
    follower = ("bob", "carol")[i % 2]
    follow: AnyEvent = (Followed(at=8.0, follow_id=f"f{key}", follower=follower, followee="alice") if i % 3
                        else Unfollowed(at=8.0, follow_id=f"u{key}", follower=follower, followee="alice"))
    post = f"{117 + round_}00000000000{i:04d}"
    events: list[AnyEvent] = [
        follow,
        PostCreated(at=9.0, post_id=post, author="alice", text=f"note {key}"),
        Reacted(at=9.5, reaction_id=f"r{key}", actor=follower, kind="favorite", object_type="note",
                object_id=post, object_owner="alice"),
        CollectionCreated(at=10.0, collection_id=f"k{i}", owner="alice", name=f"album {key}"),
        CollectionItemAdded(at=10.5, change_id=f"ka{key}", collection_id=f"k{i}", owner="alice",
                            object_type="image", object_id=media),
    ]
    if (i + round_) % 2:
        events.append(PostDeleted(at=11.0, post_id=post, author="alice", activity_id=f"{post}-post",
                                  note_id=post))
    if i % 4 == 1:
        events.append(Unreacted(at=11.5, reaction_id=f"x{key}", actor=follower, kind="favorite",
                                object_type="note", object_id=post, object_owner="alice"))
        events.append(CollectionDeleted(at=12.0, change_id=f"kd{key}", collection_id=f"k{i}", owner="alice"))
    return events


async def test_a_batch_folds_like_its_records_one_by_one(tmp_path: Path) -> None:
    records = [Record(seq, event) for seq, event in enumerate(tangled_events(), start=1)]
    single = await open_projection(tmp_path / "single.db")
    for record in records:
        await single.apply([record])
    batched = await open_projection(tmp_path / "batched.db")
    await batched.apply(records)
    assert await batched.digest() == await single.digest()
    await single.close()
    await batched.close()


async def test_small_statements_fold_like_big_ones(tmp_path: Path) -> None:
    """Rows split over many statements, and a key seen twice in one UPDATE's rows, change nothing."""
    changed = [changes(event, seq) for seq, event in enumerate(tangled_events(), start=1)]
    digests = []
    for name, statements in (("big", Statements()), ("small", Statements(max_params=30))):
        path = tmp_path / f"{name}.db"
        projection = await open_projection(path)
        await projection.close()
        conn = sqlite3.connect(path, isolation_level=None)
        for sql, params in statements.plan(changed):
            conn.execute(sql, params)
        conn.execute(f"UPDATE {CHECKPOINT} SET seq = 1")
        conn.close()
        projection = await open_projection(path)
        digests.append(await projection.digest())
        await projection.close()
    assert digests[0] == digests[1]


async def test_a_projection_being_built_folds_the_same_and_ends_durable(
    jetstream_log: JetStreamLog, tmp_path: Path
) -> None:
    for i in range(30):
        await jetstream_log.append(uploaded(str(i)), msg_id=f"up{i}")
        await jetstream_log.append(processed(str(i)), msg_id=f"pr{i}")
    live = await fold_all(jetstream_log, tmp_path / "live.db")
    path = tmp_path / "projection-1.db"
    marker = path.with_name(path.name + ".building")
    marker.touch()
    assert generations.building(path)
    async with projection_at(path) as projection:
        await Feed(jetstream_log, projection).run(follow=False)
        assert await projection.digest() == live
    marker.unlink()
    assert not generations.building(path)
    # Everything is in the database file itself: nothing was left behind in a WAL.
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM media WHERE status = 'ready'").fetchone() == (30,)
    # Its indexes, dropped while it was built, are back exactly as a live projection has them.
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    built = conn.execute(schema).fetchall()
    conn.close()
    conn = sqlite3.connect(tmp_path / "live.db")
    assert built == conn.execute(schema).fetchall()
    assert any(kind == "index" and sql for kind, _, _, sql in built)
    conn.close()


def test_pumpio_text_written_before_it_was_cut_to_the_whitelist_folds_safe() -> None:
    hostile = '<p onclick="x()">Heron</p><script>alert(1)</script>'
    posted = changes(ActivityPosted(at=1.0, activity_id="a1", actor="alice", verb="post", object_type="image",
                                    object_id="7", display_name="<b>Lake</b>", content=hostile,
                                    license="<i>CC</i>"), 5)
    activity = next(c for c in posted if isinstance(c, Put) and c.table == "activities")
    assert (activity.row["content"], activity.row["display_name"]) == ("<p>Heron</p>", "Lake")
    media = next(c for c in posted if isinstance(c, Patch) and c.table == "media")
    assert (media.fields["description"], media.fields["title"], media.fields["license"]) == ("<p>Heron</p>", "Lake",
                                                                                            "CC")
    comment = changes(PostCreated(at=2.0, post_id="117000000000000009", author="bob", text=hostile,
                                  via="pumpio", comment_on="7", reply_owner="alice"), 6)
    row = next(c for c in comment if isinstance(c, Put) and c.table == "comments")
    assert row.row["content"] == "<p>Heron</p>"
    # A posts-API note is plain text, shown escaped: it is kept as written.
    note = changes(ActivityPosted(at=3.0, activity_id="a2", actor="alice", verb="post", object_type="note",
                                  object_id="n1", content="1 < 2"), 7)
    assert next(c for c in note if isinstance(c, Put) and c.table == "activities").row["content"] == "1 < 2"


async def test_each_batch_tells_which_blobs_its_media_changes_name(tmp_path: Path) -> None:
    told: list[frozenset[str]] = []
    projection = Projection(tmp_path / "p.db", told=Told(blobs=told.append))
    await projection.open()
    other = MediaUploaded(at=10.0, media_id="2", owner_id="bob", blob="c" * 64, size=5,
                          content_type="image/jpeg", width=640, height=480)
    try:
        await projection.apply([Record(1, uploaded("1")), Record(2, other)])
        await projection.apply([Record(3, UserAdded(at=1.0, user_id="alice", password_hash="h"))])
        # A patch names its media by id alone, a removal too: the blob is what the row held.
        await projection.apply([Record(4, MediaUpdated(at=4.0, media_id="2", description="new"))])
        await projection.apply([Record(5, MediaDeleted(at=5.0, media_id="1"))])
        # Nothing left to change: a deleted media's row is gone, so nobody is told.
        await projection.apply([Record(6, MediaUpdated(at=6.0, media_id="1", description="late"))])
        assert told == [frozenset({"b" * 64, "c" * 64}), frozenset({"c" * 64}), frozenset({"b" * 64})]
    finally:
        await projection.close()


async def test_a_keyed_read_finds_the_row_one_finds_without_a_reader_thread(tmp_path: Path) -> None:
    projection = Projection(tmp_path / "p.db")
    await projection.open()
    try:
        await projection.apply([Record(1, uploaded("1"))])
        sql = "SELECT * FROM media WHERE media_id = ?"
        found, kept = await projection.one(sql, ("1",)), await projection.keyed(sql, ("1",))
        assert found is not None and kept is not None and tuple(found) == tuple(kept)
        assert await projection.keyed(sql, ("2",)) is None
        # With no reader thread left to take it, only a read on the calling thread still answers.
        projection._readers.shutdown(wait=True)
        with pytest.raises(RuntimeError):
            await projection.one(sql, ("1",))
        again = await projection.keyed(sql, ("1",))
        assert again is not None and again["status"] == "processing"
    finally:
        await projection.close()
