"""The read model's named questions (store/queries), asked of a real SQLite projection folded from events."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from core.events import (
    AccessGranted,
    ActivityPosted,
    AnyEvent,
    AvatarSet,
    ClientRegistered,
    Focus,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaRequested,
    MediaUpdated,
    MediaUploaded,
    PostCreated,
    PostDeleted,
    PostEdited,
    RenditionInfo,
    TokenIssued,
    UserAdded,
)
from core.ids import account_number
from core.log import Record
from gateways.kit.media import PENDING, media_view, requested_view
from store.projection import Projection
from store.queries import activities, clients, comments, feeds, media, posts, requests, tokens, users

BLOB = "b" * 64
OTHER_BLOB = "c" * 64
BASE = "https://media.example"


def uploaded(media_id: str, owner: str = "alice", blob: str = BLOB, at: float = 10.0) -> MediaUploaded:
    return MediaUploaded(at=at, media_id=media_id, owner_id=owner, blob=blob, size=5, content_type="image/jpeg",
                         width=640, height=480, filename="cat.jpg", via="mastodon")


def processed(media_id: str, version: int = 1, blob: str = BLOB, thumb: bool = True) -> MediaProcessed:
    styles = [RenditionInfo("original", 640, 480, "image/jpeg", 1000),
              RenditionInfo("small", 554, 416, "image/png", 500)]
    if thumb:
        styles.append(RenditionInfo("thumb", 320, 240, "image/webp", 200))
    return MediaProcessed(at=11.0, media_id=media_id, blob=blob, version=version, renditions=tuple(styles),
                          blurhash="H" * 36)


def post(activity_id: str, actor: str, verb: str, object_type: str, object_id: str, at: float, **fields: object
         ) -> ActivityPosted:
    return ActivityPosted(at=at, activity_id=activity_id, actor=actor, verb=verb, object_type=object_type,
                          object_id=object_id, **fields)  # type: ignore[arg-type]


async def fold(projection: Projection, events: list[AnyEvent]) -> None:
    start = projection.applied + 1
    await projection.apply([Record(seq, event) for seq, event in enumerate(events, start=start)])


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    opened = Projection(tmp_path / "p.db")
    await opened.open()
    await fold(opened, [UserAdded(at=1.0, user_id="alice", password_hash="h"),
                        UserAdded(at=2.0, user_id="bob", password_hash="h")])
    yield opened
    await opened.close()


async def test_media_by_id_and_by_ids(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), uploaded("2", owner="bob"), processed("1")])
    row = await media.media_by_id(projection, "1")
    assert row is not None and (row["owner_id"], row["status"]) == ("alice", "ready")
    assert await media.media_by_id(projection, "404") is None
    found = await projection.read(lambda conn: media.media_by_ids(conn, ["2", "1", "1", "404"]))
    assert sorted(found) == ["1", "2"] and found["2"]["owner_id"] == "bob"
    assert await projection.read(lambda conn: media.media_by_ids(conn, [])) == {}
    second = await projection.read(lambda conn: media.media_row(conn, "2"))
    assert second is not None and second["media_id"] == "2"


async def test_many_ids_are_read_in_batches(projection: Projection) -> None:
    await fold(projection, [uploaded(str(n)) for n in range(1200)])
    found = await projection.read(lambda conn: media.media_by_ids(conn, [str(n) for n in range(1300)]))
    assert len(found) == 1200


async def test_in_use_while_attached_or_the_owners_current_avatar(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), uploaded("2"), uploaded("3"), uploaded("4"), uploaded("5")])
    assert [await media.in_use(projection, m) for m in "12345"] == [False] * 5
    await fold(projection, [
        # A note posted through the posts API attaching 1; 2 posted as a pump.io image, a post of its own.
        post("a1", "alice", "post", "note", "n1", 20.0, attachments=("1",)),
        post("a2", "alice", "post", "image", "2", 21.0),
        AvatarSet(at=22.0, user_id="alice", media_id="3"),
        # A comment naming 5 in its text attaches nothing.
        post("a3", "bob", "post", "comment", "c1", 23.0, content='"5"', in_reply_to="2", reply_owner="alice"),
    ])
    assert [await media.in_use(projection, m) for m in "12345"] == [True, False, True, False, False]
    # A replaced profile picture is free again; the new one is in use.
    await fold(projection, [AvatarSet(at=24.0, user_id="alice", media_id="4")])
    assert [await media.in_use(projection, m) for m in "34"] == [False, True]
    assert await media.in_use(projection, "404") is False


async def test_rendered_media_of_blob_newest_version_first(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), uploaded("2"), uploaded("3"), uploaded("4", blob=OTHER_BLOB),
                            processed("1", version=1), processed("2", version=3),
                            MediaFailed(at=12.0, media_id="3", reason="x")])
    rows = await media.rendered_media_of_blob(projection, BLOB)
    assert [(r["status"], r["version"]) for r in rows] == [("ready", 3), ("ready", 1)]
    # Being processed again keeps the renditions listed, with the status saying so.
    await fold(projection, [MediaReprocessRequested(at=13.0, media_id="2", blob=BLOB, after=1)])
    rows = await media.rendered_media_of_blob(projection, BLOB)
    assert [(r["status"], r["version"]) for r in rows] == [("processing", 3), ("ready", 1)]
    assert await media.rendered_media_of_blob(projection, OTHER_BLOB) == []


async def test_rendered_media_of_blob_says_whose_and_whether_an_unposted_pumpio_upload(projection: Projection) -> None:
    pumpio = [msgspec.structs.replace(uploaded(str(n), owner="bob"), via="pumpio") for n in (5, 6, 7, 8)]
    await fold(projection, [uploaded("1"), *pumpio, *(processed(str(n)) for n in (1, 5, 6, 7, 8))])

    async def unposted() -> list[tuple[str, int]]:
        return sorted((r["owner_id"], r["unposted"]) for r in await media.rendered_media_of_blob(projection, BLOB))

    assert await unposted() == [("alice", 0), *[("bob", 1)] * 4]
    # Published by a post, attached to a status, made a profile picture: each is shown, no longer unposted.
    await fold(projection, [post("a1", "bob", "post", "image", "5", 20.0),
                            PostCreated(at=21.0, post_id="900", author="bob", attachments=("6",), visibility="direct"),
                            AvatarSet(at=22.0, user_id="bob", media_id="7")])
    assert await unposted() == [("alice", 0), *[("bob", 0)] * 3, ("bob", 1)]


async def test_focus_of_blob_is_the_most_recently_updated(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), uploaded("2"), uploaded("3")])
    assert await media.focus_of_blob(projection, BLOB) is None
    await fold(projection, [MediaUpdated(at=20.0, media_id="2", focus=Focus(0.5, -0.5)),
                            MediaUpdated(at=21.0, media_id="1", focus=Focus(0.1, 0.2)),
                            MediaUpdated(at=22.0, media_id="3", description="no focus")])
    row = await media.focus_of_blob(projection, BLOB)
    assert row is not None and tuple(row) == (0.1, 0.2)


async def test_requests_until_their_bytes_arrive(projection: Projection) -> None:
    await fold(projection, [MediaRequested(at=3.0, media_id="9", owner_id="alice", filename="cat.png",
                                           content_type="image/png", max_bytes=100, expires_at=900.0)])
    row = await requests.request_by_id(projection, "9")
    assert row is not None and row["max_bytes"] == 100
    assert sorted(await projection.read(lambda conn: requests.requests_by_ids(conn, ["9", "8"]))) == ["9"]
    await fold(projection, [uploaded("9")])
    assert await requests.request_by_id(projection, "9") is None


async def test_users_count_and_avatars(projection: Projection) -> None:
    assert await users.user_count(projection) == 2
    alice = await users.user_by_id(projection, "alice")
    assert alice is not None and alice["password_hash"] == "h"
    assert await users.user_by_id(projection, "carol") is None
    assert sorted(await projection.read(lambda conn: users.users_by_ids(conn, ["bob", "carol"]))) == ["bob"]
    assert await users.avatar_id(projection, "alice") is None
    assert await users.avatar_id(projection, "carol") is None
    assert await projection.read(lambda conn: users.avatar(conn, "alice")) == (None, None)
    await fold(projection, [uploaded("1"), AvatarSet(at=20.0, user_id="alice", media_id="1")])
    assert await users.avatar_id(projection, "alice") == "1"
    avatar_id, row = await projection.read(lambda conn: users.avatar(conn, "alice"))
    assert avatar_id == "1" and row is not None and row["media_id"] == "1"
    # The profile still names a deleted picture; its media row is gone.
    await fold(projection, [MediaDeleted(at=21.0, media_id="1")])
    assert await projection.read(lambda conn: users.avatar(conn, "alice")) == ("1", None)


async def test_tokens_and_clients(projection: Projection) -> None:
    await fold(projection, [
        TokenIssued(at=3.0, token_id="t1", user_id="alice", token_hash="hash1", scopes=("read", "write")),
        ClientRegistered(at=4.0, client_id="c1", client_secret="s", application_name="Pumpy"),
        AccessGranted(at=5.0, token="tok", secret="sec", client_id="c1", user_id="bob"),
    ])
    bearer = await tokens.bearer_token(projection, "hash1")
    assert bearer is not None and tuple(bearer) == ("alice", "read write", "", 0)
    assert await tokens.bearer_token(projection, "hash2") is None
    access = await tokens.oauth_access_token(projection, "tok")
    assert access is not None and tuple(access) == ("tok", "sec", "c1", "bob")
    assert await tokens.oauth_access_token(projection, "nope") is None
    client = await clients.client_by_id(projection, "c1")
    assert client is not None and (client["client_secret"], client["application_name"]) == ("s", "Pumpy")
    assert await clients.client_by_id(projection, "c2") is None


async def test_comments_newest_first(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), post("p", "alice", "post", "image", "1", 20.0)]
               + [post(f"a{n}", "bob", "post", "comment", f"c{n}", 30.0 + n, content=f"#{n}", in_reply_to="1",
                       reply_owner="alice") for n in range(6)])
    comment = await comments.comment_by_id(projection, "c2")
    assert comment is not None and comment["content"] == "#2"
    assert await comments.comment_by_id(projection, "c9") is None

    def read(conn: sqlite3.Connection) -> tuple[int, list[str], list[str], list[str]]:
        newest = [r["comment_id"] for r in comments.newest_replies(conn, "1", 4)]
        return (comments.reply_count(conn, "1"), newest,
                comments.reply_ids(conn, "1", 2, 3), sorted(comments.comments_by_ids(conn, ["c0", "c7"])))

    assert await projection.read(read) == (6, ["c5", "c4", "c3", "c2"], ["c2", "c1"], ["c0"])


async def test_activities_and_notes(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), post("a1", "alice", "post", "note", "n1", 20.0, content="Hi",
                                                attachments=("1",)),
                            post("a2", "alice", "update", "note", "n1", 21.0),
                            post("a3", "alice", "post", "image", "1", 22.0)])
    assert await activities.activity_seq(projection, "a3") == 6
    assert await activities.activity_seq(projection, "zz") is None

    def read(conn: sqlite3.Connection) -> tuple[object, ...]:
        note = activities.posted_note(conn, "n1")
        return (note["activity_id"] if note else None, activities.posted_note(conn, "n2"),
                sorted(activities.posted_notes(conn, ["n1", "n2"])),
                [r["activity_id"] for r in activities.activities_in_order(conn, ["a3", "zz", "a1"])],
                activities.activity_by_id(conn, "a2"))

    note, missing, notes, in_order, update = await projection.read(read)
    assert (note, missing, notes, in_order) == ("a1", None, ["n1"], ["a3", "a1"])
    assert isinstance(update, sqlite3.Row) and update["verb"] == "update"


async def test_feed_pages_by_sequence(projection: Projection) -> None:
    await fold(projection, [uploaded(str(n)) for n in range(5)]
               + [post(f"a{n}", "alice", "post", "image", str(n), 20.0 + n) for n in range(5)]
               + [post("c", "bob", "post", "comment", "c1", 30.0, in_reply_to="1", reply_owner="alice")])
    outbox = feeds.Stream(inbox=False)

    async def page(cursor: feeds.Cursor, stream: feeds.Stream = outbox, owner: str = "alice") -> feeds.Page:
        return await projection.read(lambda conn: feeds.read_page(conn, stream, owner, cursor))

    first = await page(feeds.Cursor(count=2))
    assert first == feeds.Page(entries=[(12, "a4"), (11, "a3")], older=True, total=5)
    last = await page(feeds.Cursor(count=2, before=9))
    assert last == feeds.Page(entries=[(8, "a0")], older=False, total=5)
    assert await page(feeds.Cursor(count=2, since=9)) == feeds.Page(entries=[(11, "a3"), (10, "a2")], older=True,
                                                                     total=5)
    # Bob's comment on alice's image reaches her inbox as a direct minor entry.
    direct = await page(feeds.Cursor(count=5), feeds.Stream(inbox=True, direct=True))
    assert direct == feeds.Page(entries=[(13, "c")], older=False, total=1)


async def test_a_media_view_holds_what_renderers_show(projection: Projection) -> None:
    await fold(projection, [uploaded("1"), MediaUpdated(at=12.0, media_id="1", focus=Focus(0.25, -1.0),
                                                        title="Heron", tags=("bird", "lake")),
                            uploaded("2"), processed("2", version=4, thumb=False),
                            MediaRequested(at=3.0, media_id="9", owner_id="bob", filename="x.png",
                                           content_type="image/png", max_bytes=9, expires_at=900.0)])
    row = await media.media_by_id(projection, "1")
    assert row is not None
    view = media_view(row, BASE)
    assert (view.id, view.owner, view.status, view.via, view.blob, view.renditions) == (
        "1", "alice", "processing", "mastodon", BLOB, {})
    assert (view.focus, view.title, view.tags, view.updated_at, view.pending) == (
        Focus(0.25, -1.0), "Heron", ("bird", "lake"), 12.0, False)
    assert view.canonical_url == f"{BASE}/media/sha256/{BLOB}"
    ready = await media.media_by_id(projection, "2")
    assert ready is not None
    view = media_view(ready, BASE)
    assert sorted(view.renditions) == ["original", "small"]
    assert view.url("original") == f"{BASE}/media/files/{BLOB}/v4/original.jpg"
    assert view.url("small") == f"{BASE}/media/files/{BLOB}/v4/small.png"
    assert view.url("thumb") is None
    assert view.renditions["small"].info.width == 554 and view.blurhash == "H" * 36
    granted = await requests.request_by_id(projection, "9")
    assert granted is not None
    pending = requested_view(granted)
    assert (pending.status, pending.pending, pending.owner, pending.filename, pending.size) == (
        PENDING, True, "bob", "x.png", None)


def created(post_id: int, author: str = "alice", at: float = 20.0, **fields: object) -> PostCreated:
    return PostCreated(at=at, post_id=str(post_id), author=author, **fields)  # type: ignore[arg-type]


async def test_posts_by_id_by_note_and_their_versions(projection: Projection) -> None:
    await fold(projection, [
        uploaded("m1"), created(100, text="first", attachments=("m1",)),
        PostEdited(at=30.0, post_id="100", author="alice", text="second", activity_id="100-post",
                   detached=("m1",)),
        post("a1", "alice", "post", "note", "n1", 40.0, content="old note"),
    ])
    row = await projection.read(lambda conn: posts.post_by_id(conn, "100"))
    assert row is not None and (row["text"], row["has_media"], row["edited_at"]) == ("second", 0, 30.0)
    history = await projection.read(lambda conn: posts.versions(conn, "100"))
    assert [v["text"] for v in history] == ["first", "second"]
    older = await projection.read(lambda conn: posts.post_by_note(conn, "n1"))
    assert older is not None and older["text"] == "old note" and older["post_id"].isdigit()
    assert older["activity_id"] == "a1"
    found = await projection.read(lambda conn: posts.posts_by_ids(conn, ["100", older["post_id"], "404"]))
    assert sorted(found) == sorted(["100", older["post_id"]])
    # The edit dropped the media: it is free again.
    assert (await media.media_by_id(projection, "m1"))["published_at"] is None  # type: ignore[index]
    await fold(projection, [PostDeleted(at=50.0, post_id="100", author="alice", activity_id="100-post",
                                        note_id="100")])
    assert await projection.read(lambda conn: posts.post_by_id(conn, "100")) is None


async def test_timelines_page_by_post_id(projection: Projection) -> None:
    await fold(projection, [
        uploaded("m1"),
        created(1), created(2, author="bob"), created(3, attachments=("m1",)), created(4, visibility="private"),
        created(5, in_reply_to="1"), created(6, visibility="unlisted"),
    ])

    public = posts.Timeline(visibilities=("public",))
    alice_all = posts.Timeline(visibilities=("public", "unlisted", "private", "direct"), author="alice")

    async def page(timeline: posts.Timeline, limit: int = 10, **bounds: int) -> list[str]:
        window = posts.Window(limit=limit, **bounds)
        rows = await projection.read(lambda conn: posts.page(conn, timeline, window))
        return [row["post_id"] for row in rows]

    assert await page(public) == ["5", "3", "2", "1"]
    assert await page(public, limit=2) == ["5", "3"]
    assert await page(public, limit=2, max_id=3) == ["2", "1"]
    assert await page(public, limit=2, since_id=1) == ["5", "3"]
    assert await page(public, limit=2, min_id=1) == ["3", "2"]
    assert await page(alice_all) == ["6", "5", "4", "3", "1"]
    assert await page(msgspec.structs.replace(alice_all, only_media=True)) == ["3"]
    assert await page(msgspec.structs.replace(alice_all, exclude_replies=True)) == ["6", "4", "3", "1"]
    counted = await projection.read(lambda conn: (posts.post_count(conn, "alice", ("public", "unlisted")),
                                                  posts.last_post_at(conn, "alice"), posts.last_post_at(conn, "x")))
    assert counted == (4, 20.0, None)


async def test_a_user_by_account_id(projection: Projection) -> None:
    found = await projection.read(lambda conn: users.user_by_account(conn, account_number("bob")))
    assert found is not None and found["user_id"] == "bob"
    assert await projection.read(lambda conn: users.user_by_account(conn, "1")) is None
    assert (await projection.read(lambda conn: users.user_row(conn, "alice")))["user_id"] == "alice"  # type: ignore[index]
