"""pump.io comments on notes over real HTTP and OAuth 1.0a: in the note's `replies`, paged at
`/api/note/ID/replies`, in the author's direct inbox, changed and deleted as comments on images are, and
replies to the note's status in Mastodon."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from gateways.pumpio.objects import REPLIES_SHOWN
from tests.outage import free_port
from tests.pumpclient import authorize, register_client
from tests.servers import Running, make_config, rebuilt, start
from tests.test_mastodon_statuses import status
from tests.test_posts import api
from tests.test_posts_comments import account_id
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import Pump, login, posted_image, query, walk
from tests.test_pumpio_notes import pypump


async def note(pump: Pump, content: str = "Herons at dawn") -> dict[str, Any]:
    posted = await pump.activity("post", {"objectType": "note", "content": content})
    assert posted.status == 200, posted.json
    return dict(posted.json["object"])


async def comment(pump: Pump, in_reply_to: Any, content: str) -> dict[str, Any]:
    said = await pump.activity("post", {"objectType": "comment", "content": content, "inReplyTo": in_reply_to})
    assert said.status == 200, said.json
    return dict(said.json)


def ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": obj["id"], "objectType": obj["objectType"]}


async def test_a_comment_on_a_note_is_in_its_replies_and_its_authors_direct_inbox(server: Running) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    posted = await note(alice)
    # A new note has no comments yet, and says where they will be.
    assert posted["replies"] == {"totalItems": 0, "items": [], "url": f"{posted['id']}/replies"}

    said = await comment(bob, ref(posted), "Lovely <b>herons</b>")
    assert said["content"] == "bob posted a comment"
    shown = said["object"]
    assert (shown["objectType"], shown["content"]) == ("comment", "Lovely <b>herons</b>")
    # The comment names the note whole, its replies and all, as a comment on an image names the image.
    assert (shown["inReplyTo"]["id"], shown["inReplyTo"]["objectType"]) == (posted["id"], "note")
    assert shown["inReplyTo"]["content"] == "Herons at dawn"
    assert shown["inReplyTo"]["replies"]["totalItems"] == 1
    # A bare id names the note too, as pump.io clients may send it.
    second = await comment(bob, posted["id"], "Again")
    assert second["object"]["inReplyTo"]["id"] == posted["id"]

    read = (await alice.get(f"/api/note/{local(posted['id'])}")).json
    replies = read["replies"]
    assert (replies["totalItems"], replies["url"]) == (2, f"{posted['id']}/replies")
    assert [c["id"] for c in replies["items"]] == [second["object"]["id"], shown["id"]]
    # A comment inside the note's replies names the note by id and type only.
    assert replies["items"][1]["inReplyTo"] == ref(posted)
    assert replies["items"][1]["author"]["preferredUsername"] == "bob"
    got = (await alice.get(f"/api/comment/{local(shown['id'])}")).json
    assert (got["inReplyTo"]["id"], got["inReplyTo"]["objectType"]) == (posted["id"], "note")

    direct = (await alice.get("/api/user/alice/inbox/direct")).json
    assert [a["id"] for a in direct["items"]] == [second["id"], said["id"]]
    assert direct["items"][1]["object"]["inReplyTo"]["id"] == posted["id"]
    assert (await bob.get("/api/user/bob/inbox/direct")).json["totalItems"] == 0
    assert [a["object"]["objectType"] for a in (await bob.get("/api/user/bob/feed")).json["items"]] == ["comment"] * 2

    # Only the author changes a comment; the change reaches the note's author, as a comment's on an image does.
    for verb in ("update", "delete"):
        refused = await alice.activity(verb, {"id": shown["id"], "objectType": "comment", "content": "no"})
        assert (refused.status, refused.json) == (403, {"error": f"Only the author can {verb} this comment."})
    edited = await bob.activity("update", {"id": shown["id"], "objectType": "comment", "content": "Lovelier"})
    assert edited.status == 200, edited.json
    assert edited.json["object"]["content"] == "Lovelier"
    assert (await alice.get(f"/api/comment/{local(shown['id'])}")).json["content"] == "Lovelier"
    gone = await bob.activity("delete", {"id": shown["id"], "objectType": "comment"})
    assert gone.status == 200 and "deleted" in gone.json["object"]
    assert (await alice.get(f"/api/comment/{local(shown['id'])}")).status == 404
    after = (await alice.get(f"/api/note/{local(posted['id'])}")).json["replies"]
    assert (after["totalItems"], [c["id"] for c in after["items"]]) == (1, [second["object"]["id"]])
    minor = (await alice.get("/api/user/alice/inbox/direct/minor")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in minor] == [("delete", shown["id"]), ("update", shown["id"])]
    # Through REST too: a DELETE of the comment is its delete activity.
    assert (await bob.call("DELETE", f"/api/comment/{local(second['object']['id'])}")).status == 200
    assert (await alice.get(f"{posted['id']}/replies")).json["totalItems"] == 0


async def test_a_notes_replies_page_to_the_end_by_links_next(server: Running) -> None:
    alice, bob, carol = await login(server, "alice"), await login(server, "bob"), await login(server, "carol")
    posted = await note(alice)
    made = [await comment(bob if n % 2 else carol, ref(posted), f"Comment {n}") for n in range(7)]
    newest_first = [c["object"]["id"] for c in reversed(made)]

    url = f"/api/note/{local(posted['id'])}/replies"
    first = (await alice.get(url, count=3)).json
    assert (first["totalItems"], first["url"], first["objectTypes"]) == (7, f"{posted['id']}/replies", ["comment"])
    assert first["displayName"] == f"Replies to {posted['id']}"
    assert "prev" not in first["links"]
    assert query(first["links"]["next"]["href"]) == {"count": "3", "offset": "3"}
    pages = await walk(alice, f"{url}?count=3", "next")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == newest_first
    last = (await alice.get(url, count=3, offset=6)).json
    assert "next" not in last["links"] and query(last["links"]["prev"]["href"]) == {"count": "3", "offset": "3"}
    # Each comment on the page names its note; the note embeds only the newest few.
    assert {c["inReplyTo"]["id"] for c in first["items"]} == {posted["id"]}
    embedded = (await bob.get(f"/api/note/{local(posted['id'])}")).json["replies"]
    assert [c["id"] for c in embedded["items"]] == newest_first[:REPLIES_SHOWN]
    # The trailing slash reads the same page.
    assert (await alice.get(f"{url}/", count=3)).json["items"] == first["items"]


async def test_mastodon_sees_a_comment_on_a_note_as_a_reply_to_its_status(
        server: Running, http: aiohttp.ClientSession) -> None:
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    posted = (await status(alice, "Herons at dawn")).json
    note_url = f"{server.url}/api/note/{posted['id']}"
    # A Mastodon status is a note in pump.io, and is commented on as one.
    said = await comment(pump_bob, {"id": note_url, "objectType": "note"}, "Lovely!")
    reply = local(said["object"]["id"])
    shown = await bob.call("GET", f"/api/v1/statuses/{reply}")
    assert shown.status == 200, shown.json
    assert (shown.json["in_reply_to_id"], shown.json["in_reply_to_account_id"]) == (posted["id"],
                                                                                   await account_id(alice))
    assert shown.json["content"] == "Lovely!" and shown.json["account"]["username"] == "bob"
    assert (await pump_alice.get(f"/api/note/{posted['id']}")).json["replies"]["totalItems"] == 1

    # A note posted through pump.io is a status too: the comment replies to it.
    pumped = await note(pump_alice, "From pump.io")
    other = await comment(pump_bob, pumped["id"], "Seen")
    answer = await bob.call("GET", f"/api/v1/statuses/{local(other['object']['id'])}")
    assert answer.json["in_reply_to_id"] == local(pumped["id"])

    # An edit and a delete through Mastodon are the comment's, and still reach the note's author.
    edited = await bob.call("PUT", f"/api/v1/statuses/{reply}", json={"status": "Lovelier"})
    assert edited.status == 200, edited.json
    assert (await pump_alice.get(f"/api/comment/{reply}")).json["content"] == "<p>Lovelier</p>"
    assert (await bob.call("DELETE", f"/api/v1/statuses/{reply}")).status == 200
    assert (await pump_alice.get(f"/api/note/{posted['id']}")).json["replies"]["totalItems"] == 0
    direct = (await pump_alice.get("/api/user/alice/inbox/direct")).json["items"]
    assert [(a["verb"], a["object"]["objectType"], a["object"]["id"]) for a in direct] == [
        ("delete", "comment", said["object"]["id"]), ("update", "comment", said["object"]["id"]),
        ("post", "comment", other["object"]["id"]), ("post", "comment", said["object"]["id"])]


async def test_pypump_comments_on_a_note_and_reads_its_comments(server: Running) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    posted = await note(bob, "Bob's herons")
    client = await register_client(server.url, application_name="PyPump")
    token = await authorize(server.url, client, "alice", "alice-password")
    host = urlsplit(server.url).netloc

    def drive() -> tuple[str, str, list[tuple[str, str]]]:
        pump = pypump(server, client, token)
        found = next(iter(pump.Person(f"bob@{host}").outbox)).obj
        found.comment("Nice herons")
        # Read afresh: PyPump keeps the feed it made the first time.
        again = next(iter(pump.Person(f"bob@{host}").outbox)).obj
        return found.id, found.object_type, [(c.content, c.author.username) for c in again.comments]

    found, object_type, comments = await asyncio.to_thread(drive)
    assert (found, object_type) == (posted["id"], "note")
    assert comments == [("Nice herons", "alice")]
    direct = (await bob.get("/api/user/bob/inbox/direct")).json["items"]
    assert [(a["verb"], a["actor"]["preferredUsername"], a["generator"]["displayName"]) for a in direct] == [
        ("post", "alice", "PyPump")]
    assert (await alice.get(f"{posted['id']}/replies")).json["items"][0]["content"] == "Nice herons"


async def test_every_refused_comment_on_a_note(server: Running, http: aiohttp.ClientSession,
                                              tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    mastodon = await api(server, http, "alice")
    posted = await note(alice)
    said = await comment(bob, ref(posted), "First")
    image = await posted_image(alice, tmp_path)
    # Statuses pump.io does not show are no notes to comment on: followers-only and direct ones.
    hidden = [(await status(mastodon, f"Only some {v}", visibility=v)).json["id"] for v in ("private", "direct")]
    deleted = await note(alice, "Soon gone")
    assert (await alice.activity("delete", ref(deleted))).status == 200
    base = server.url
    cases: list[tuple[Any, int, str]] = [
        ({"id": f"{base}/api/note/nope", "objectType": "note"}, 404, "No such note"),
        (f"{base}/api/note/nope", 404, "No such note"),
        ({"id": f"{base}/api/note/{hidden[0]}", "objectType": "note"}, 404, "No such note"),
        (f"{base}/api/note/{hidden[1]}", 404, "No such note"),
        (ref(deleted), 404, "No such note"),
        ({"id": f"https://elsewhere.example/api/note/{local(posted['id'])}", "objectType": "note"}, 404,
         "No such note"),
        # A note's id under another type, and another type's id as a note's, name nothing.
        ({"id": image["id"], "objectType": "note"}, 404, "No such note"),
        ({"id": posted["id"], "objectType": "image"}, 404, "No such image"),
        # Comments on comments stay refused: pump.io clients show comments one level deep.
        (ref(said["object"]), 400, "Comments can only reply to images and notes."),
        (said["object"]["id"], 400, "Comments can only reply to images and notes."),
        ({"id": said["object"]["id"], "objectType": "note"}, 400, "Comments can only reply to images and notes."),
        ({"id": posted["id"], "objectType": "collection"}, 400, "Comments can only reply to images and notes."),
        ({"objectType": "note"}, 400, "A comment must be in reply to an image or a note (inReplyTo)."),
    ]
    before = await server.events.last_seq()
    for in_reply_to, code, message in cases:
        answer = await bob.activity("post", {"objectType": "comment", "content": "hi", "inReplyTo": in_reply_to})
        assert (answer.status, answer.json) == (code, {"error": message}), in_reply_to
    too_long = await bob.activity("post", {"objectType": "comment", "content": "c" * 1501, "inReplyTo": ref(posted)})
    assert (too_long.status, too_long.json) == (400, {"error": "'content' is too long (maximum is 1500 characters)"})

    reads: list[tuple[Pump, str, dict[str, str], int, str]] = [
        (bob, "/api/note/nope/replies", {}, 404, "No such note"),
        (bob, f"/api/note/{hidden[0]}/replies", {}, 404, "No such note"),
        (bob, f"/api/note/{local(deleted['id'])}/replies", {}, 404, "No such note"),
        (bob, f"/api/note/{local(image['id'])}/replies", {}, 404, "No such note"),
        (bob, f"/api/note/{local(posted['id'])}/replies", {"count": "201"}, 400, "Count must be between 0 and 200"),
        (bob, f"/api/note/{local(posted['id'])}/replies", {"offset": "-1"}, 400,
         "Offset must be a whole number, 0 or more"),
    ]
    for pump, path, params, code, message in reads:
        answer = await pump.get(path, **params)
        assert (answer.status, answer.json) == (code, {"error": message}), path
    unsigned = await Pump(server.url, "bob", None).get(f"/api/note/{local(posted['id'])}/replies")
    assert unsigned.status == 401 and "error" in unsigned.json
    assert await server.events.last_seq() == before


async def test_comments_on_notes_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path,
                                                             http: aiohttp.ClientSession) -> None:
    config = make_config(nats_url, data_dir, port=free_port())
    first = await start(config)
    alice, bob = await login(first, "alice"), await login(first, "bob")
    kept, doomed = await note(alice, "Kept"), await note(alice, "Doomed")
    said = await comment(bob, ref(kept), "One")
    await comment(bob, kept["id"], "Two")
    orphan = await comment(bob, ref(doomed), "Orphan")
    edited = await bob.activity("update", {"id": said["object"]["id"], "objectType": "comment", "content": "Uno"})
    assert edited.status == 200
    assert (await alice.activity("delete", ref(doomed))).status == 200
    # A comment whose note is gone still names it as the note it was.
    left = (await alice.get(f"/api/comment/{local(orphan['object']['id'])}")).json
    assert left["inReplyTo"] == ref(doomed)
    mastodon = await api(first, http, "bob")
    reply = (await mastodon.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}")).json
    assert reply["in_reply_to_id"] == local(kept["id"])
    paths = [f"/api/note/{local(kept['id'])}", f"/api/note/{local(kept['id'])}/replies?count=1",
             f"/api/comment/{local(said['object']['id'])}", f"/api/comment/{local(orphan['object']['id'])}",
             "/api/user/alice/inbox/direct", "/api/user/bob/feed"]
    before = [(await alice.get(path)).json for path in paths]
    live = await first.projection.digest()
    second = (await rebuilt(first, config)).running
    try:
        assert await second.projection.digest() == live
        again = Pump(second.url, "alice", alice.auth)
        after = [(await again.get(path)).json for path in paths]
        token = await second.token("bob")
        async with http.get(f"{second.url}/api/v1/statuses/{local(said['object']['id'])}",
                            headers={"Authorization": f"Bearer {token}"}) as response:
            reread = await response.json()
    finally:
        await second.server.stop()
    assert after == before
    assert reread["in_reply_to_id"] == reply["in_reply_to_id"]
