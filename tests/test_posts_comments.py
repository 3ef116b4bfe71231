"""pump.io comments are posts and edits of posts are pump.io updates: both sides over real HTTP, surviving a rebuild."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp

from core.events import ActivityPosted
from tests.outage import free_port
from tests.servers import Running, make_config, rebuilt, start
from tests.test_mastodon_statuses import status
from tests.test_posts import Api, api
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import Pump, login, posted_image


async def account_id(user: Api) -> str:
    answer = await user.call("GET", "/api/v1/accounts/verify_credentials")
    assert answer.status == 200
    return str(answer.json["id"])


def image_url(server: Running, media_id: str) -> str:
    return f"{server.url}/api/image/{media_id}"


async def comment(pump: Pump, image: str, content: str) -> dict[str, Any]:
    said = await pump.activity("post", {"objectType": "comment", "content": content,
                                        "inReplyTo": {"id": image, "objectType": "image"}})
    assert said.status == 200, said.json
    return said.json


async def test_a_comment_on_a_statuses_image_is_a_reply_to_that_status(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    media = await alice.uploaded(tmp_path, seed=1)
    posted = (await status(alice, "Herons at dawn", [media])).json

    said = await comment(pump_bob, image_url(server, media), "Lovely!")
    assert said["content"] == "bob posted a comment"
    shown = said["object"]
    assert (shown["objectType"], shown["content"]) == ("comment", "Lovely!")
    assert shown["inReplyTo"]["id"] == image_url(server, media)
    reply = await bob.call("GET", f"/api/v1/statuses/{local(shown['id'])}")
    assert reply.status == 200
    assert (reply.json["in_reply_to_id"], reply.json["in_reply_to_account_id"]) == (posted["id"],
                                                                                   posted["account"]["id"])
    # The comment's content is pump.io HTML, which the status shows as it is.
    assert reply.json["content"] == "Lovely!" and reply.json["account"]["username"] == "bob"
    assert reply.json["media_attachments"] == []
    account = reply.json["account"]["id"]
    listed = await alice.call("GET", f"/api/v1/accounts/{account}/statuses")
    assert [s["id"] for s in listed.json] == [reply.json["id"]]
    assert (await alice.call("GET", f"/api/v1/accounts/{account}/statuses?exclude_replies=true")).json == []
    # pump.io sees a comment as it always has: in the image's replies and the owner's direct inbox.
    replies = await pump_alice.get(f"/api/image/{media}/replies")
    assert [c["id"] for c in replies.json["items"]] == [shown["id"]]
    direct = await pump_alice.get("/api/user/alice/inbox/direct")
    assert [a["id"] for a in direct.json["items"]] == [said["id"]]

    # Changes through pump.io show as the status, and a deleted comment is no status any more.
    edited = await pump_bob.activity("update", {"id": shown["id"], "objectType": "comment", "content": "Lovelier"})
    assert edited.status == 200
    again = await bob.call("GET", f"/api/v1/statuses/{reply.json['id']}")
    assert again.json["content"] == "Lovelier" and again.json["edited_at"] is not None
    history = await bob.call("GET", f"/api/v1/statuses/{reply.json['id']}/history")
    assert [v["content"] for v in history.json] == ["Lovely!", "Lovelier"]
    gone = await pump_bob.activity("delete", {"id": shown["id"], "objectType": "comment"})
    assert gone.status == 200
    assert (await bob.call("GET", f"/api/v1/statuses/{reply.json['id']}")).status == 404
    assert (await pump_alice.get(f"/api/image/{media}/replies")).json["totalItems"] == 0


async def test_a_comment_on_an_image_posted_alone_is_a_post_replying_to_none(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    bob = await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(pump_alice, tmp_path, seed=2)
    said = await comment(pump_bob, image["id"], "Nice one")
    read = await bob.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}")
    assert read.status == 200 and read.json["content"] == "Nice one"
    assert (read.json["in_reply_to_id"], read.json["in_reply_to_account_id"]) == (None, None)


async def test_a_comment_from_before_post_events_stays_a_pumpio_comment(server: Running, http: aiohttp.ClientSession,
                                                                     tmp_path: Path) -> None:
    """An older comment event is no status: its later deletes, written before comments were posts, could not
    name a post to remove, and a deleted comment must never come back as a status after a rebuild."""
    bob = await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(pump_alice, tmp_path, seed=3)
    event = ActivityPosted(at=time.time(), activity_id="0b1c2d3e", actor="bob", verb="post", object_type="comment",
                           object_id="c0ffee01", content="Said long ago", in_reply_to=local(image["id"]),
                           reply_owner="alice", generator="PyPump")
    seq = await server.events.append(event, msg_id="activity.0b1c2d3e")
    assert await server.projection.wait_for(seq, timeout=10.0)
    assert (await bob.call("GET", f"/api/v1/accounts/{await account_id(bob)}/statuses")).json == []
    alone = await pump_bob.get("/api/comment/c0ffee01")
    assert (alone.status, alone.json["content"]) == (200, "Said long ago")

    # Changed through pump.io now, pump.io sees what it always did.
    url = f"{server.url}/api/comment/c0ffee01"
    edited = await pump_bob.activity("update", {"id": url, "objectType": "comment", "content": "Said again"})
    assert edited.status == 200 and edited.json["verb"] == "update"
    assert edited.json["object"]["content"] == "Said again"
    assert (await pump_bob.get(edited.json["id"])).json == edited.json
    gone = await pump_bob.activity("delete", {"id": url, "objectType": "comment"})
    assert gone.status == 200 and gone.json["verb"] == "delete"
    assert (await pump_bob.get("/api/comment/c0ffee01")).status == 404
    assert [a["verb"] for a in (await pump_alice.get("/api/user/alice/inbox/direct")).json["items"]] == [
        "delete", "update", "post"]
    assert (await bob.call("GET", f"/api/v1/accounts/{await account_id(bob)}/statuses")).json == []


async def test_an_edit_is_an_update_activity_of_the_note(server: Running, http: aiohttp.ClientSession,
                                                         tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    posted = (await status(alice, "Herons")).json
    private = (await status(alice, "Just us", visibility="private")).json
    assert (await alice.call("PUT", f"/api/v1/statuses/{posted['id']}", json={"status": "Egrets"})).status == 200
    assert (await alice.call("PUT", f"/api/v1/statuses/{private['id']}", json={"status": "Us"})).status == 200

    outbox = (await pump_bob.get("/api/user/alice/feed")).json
    assert [a["verb"] for a in outbox["items"]] == ["update", "post"]
    update, post = outbox["items"]
    assert update["content"] == "alice updated a note"
    assert update["object"] == post["object"]
    assert (update["object"]["id"], update["object"]["content"]) == (f"{server.url}/api/note/{posted['id']}",
                                                                     "<p>Egrets</p>")
    assert (await pump_bob.get(update["id"])).json == update
    # An update is a minor activity; the private status's edit is nowhere in pump.io.
    minor = (await pump_alice.get("/api/user/alice/feed/minor")).json
    assert [a["id"] for a in minor["items"]] == [update["id"]]
    inbox = (await pump_alice.get("/api/user/alice/inbox")).json
    assert [a["id"] for a in inbox["items"]] == [update["id"], post["id"]]
    assert [a["id"] for a in (await pump_alice.get("/api/user/alice/inbox/major")).json["items"]] == [post["id"]]


async def test_comments_and_updates_survive_a_rebuild(nats_url: str, data_dir: Path, tmp_path: Path,
                                                      http: aiohttp.ClientSession) -> None:
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    alice, bob = await api(first, http, "alice"), await api(first, http, "bob")
    pump_alice, pump_bob = await login(first, "alice"), await login(first, "bob")
    media = await alice.uploaded(tmp_path, seed=1)
    posted = (await status(alice, "Herons", [media])).json
    await alice.call("PUT", f"/api/v1/statuses/{posted['id']}", json={"status": "Egrets", "media_ids": [media]})
    said = await comment(pump_bob, image_url(first, media), "Lovely")
    alone = await posted_image(pump_alice, tmp_path, seed=4)
    other = await comment(pump_bob, alone["id"], "Fine")
    await pump_bob.activity("update", {"id": other["object"]["id"], "objectType": "comment", "content": "Finer"})
    reply = local(said["object"]["id"])
    account = await account_id(bob)
    reads = [f"/api/v1/statuses/{reply}", f"/api/v1/statuses/{local(other['object']['id'])}/history",
             f"/api/v1/accounts/{account}/statuses", "/api/v1/timelines/public"]
    pump_reads = ["/api/user/alice/feed", "/api/user/alice/inbox", "/api/user/alice/inbox/direct",
                  "/api/user/bob/feed", f"/api/image/{media}/replies", f"/api/comment/{reply}"]
    before = [(await bob.call("GET", path)).json for path in reads]
    pump_before = [(await pump_alice.get(path)).json for path in pump_reads]
    assert all(before) and all(pump_before)
    live = await first.projection.digest()
    second = (await rebuilt(first, config)).running
    try:
        assert await second.projection.digest() == live
        after = [(await Api(http, second, bob.token).call("GET", path)).json for path in reads]
        again = Pump(second.url, "alice", pump_alice.auth)
        pump_after = [(await again.get(path)).json for path in pump_reads]
    finally:
        await second.server.stop()
    assert after == before
    assert pump_after == pump_before


async def test_a_comment_changed_through_mastodon_changes_as_a_comment_in_pumpio(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    media = await alice.uploaded(tmp_path, seed=1)
    await status(alice, "Herons", [media])
    said = await comment(pump_bob, image_url(server, media), "Lovely")
    url = said["object"]["id"]
    reply = local(url)

    extra = await bob.uploaded(tmp_path, seed=2)
    seq = await server.events.last_seq()
    refused = await bob.call("PUT", f"/api/v1/statuses/{reply}", json={"status": "With a photo", "media_ids": [extra]})
    assert (refused.status, refused.json) == (422, {"error": "Validation failed: A comment on an image cannot have "
                                                             "media attached"})
    assert await server.events.last_seq() == seq

    edited = await bob.call("PUT", f"/api/v1/statuses/{reply}", json={"status": "Lovelier"})
    # Mastodon's plain text becomes the comment's pump.io HTML; its source reads as plain text again.
    assert edited.status == 200 and edited.json["content"] == "<p>Lovelier</p>"
    assert (await pump_alice.get(f"/api/comment/{reply}")).json["content"] == "<p>Lovelier</p>"
    assert (await bob.call("GET", f"/api/v1/statuses/{reply}/source")).json["text"] == "Lovelier"
    feed = (await pump_bob.get("/api/user/bob/feed")).json["items"]
    assert [(a["verb"], a["object"]["objectType"]) for a in feed] == [("update", "comment"), ("post", "comment")]
    direct = (await pump_alice.get("/api/user/alice/inbox/direct")).json["items"]
    assert [a["id"] for a in direct] == [feed[0]["id"], said["id"]]

    assert (await bob.call("DELETE", f"/api/v1/statuses/{reply}")).status == 200
    assert (await pump_alice.get(f"/api/comment/{reply}")).status == 404
    assert (await pump_alice.get(f"/api/image/{media}/replies")).json["totalItems"] == 0
    direct = (await pump_alice.get("/api/user/alice/inbox/direct")).json["items"]
    assert (direct[0]["verb"], direct[0]["object"]["id"]) == ("delete", url)


async def test_a_comment_deleted_through_posts_is_a_comment_delete_in_pumpio(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    bob = await api(server, http, "bob")
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(pump_alice, tmp_path, seed=5)
    said = await comment(pump_bob, image["id"], "Bye")
    assert (await bob.call("DELETE", f"/posts/{local(said['object']['id'])}")).status == 204
    assert (await pump_alice.get(f"/api/comment/{local(said['object']['id'])}")).status == 404
    direct = (await pump_alice.get("/api/user/alice/inbox/direct")).json["items"]
    assert [(a["verb"], a["object"]["objectType"]) for a in direct] == [("delete", "comment"), ("post", "comment")]
    assert direct[0]["object"]["id"] == said["object"]["id"]
