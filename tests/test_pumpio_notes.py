"""pump.io notes over real HTTP and OAuth 1.0a: posted, updated and deleted as the posts Mastodon shows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pypump import Client, PyPump
from pypump.store import DummyStore

from tests.outage import free_port
from tests.pumpclient import authorize, register_client
from tests.servers import Running, make_config, rebuilt, start
from tests.test_posts import api, media_row
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import Pump, jpeg, login


async def upload(pump: Pump, tmp_path: Path, seed: int = 0) -> dict[str, Any]:
    uploaded = await pump.upload(jpeg(tmp_path, seed=seed))
    assert uploaded.status == 200, uploaded.json
    return dict(uploaded.json)


def ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": obj["id"], "objectType": obj["objectType"]}


async def test_a_note_with_attachments_is_a_status_and_changes_everywhere(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    bob = await login(server, "bob")
    first, second = await upload(alice, tmp_path, 1), await upload(alice, tmp_path, 2)
    posted = await alice.activity("post", {"objectType": "note", "content": "Herons <b>today</b>",
                                           "displayName": "Lake", "attachments": [first, ref(second)]})
    assert posted.status == 200, posted.json
    activity = posted.json
    note = activity["object"]
    assert (activity["verb"], note["objectType"], note["content"]) == ("post", "note", "Herons <b>today</b>")
    assert note["displayName"] == "Lake"
    assert activity["generator"] == {"objectType": "client", "displayName": "alice's test client"}
    # The attachments are rendered whole, and posting the note published them.
    assert [a["id"] for a in note["attachments"]] == [first["id"], second["id"]]
    assert note["attachments"][0]["fullImage"]["width"] == 640
    note_id = local(note["id"])
    for media in (first, second):
        row = await media_row(server, local(media["id"]))
        assert row["published_at"] is not None and row["post_id"] == note_id
        seen = await bob.get(f"/api/image/{local(media['id'])}")
        assert seen.status == 200, seen.json

    # The same post through Mastodon: by id and in the account's statuses.
    mastodon = await api(server, http, "alice")
    status = await mastodon.call("GET", f"/api/v1/statuses/{note_id}")
    assert status.status == 200, status.json
    # A note keeps the safe HTML pump.io cut it to, and Mastodon shows that HTML as it is.
    assert status.json["content"] == "Herons <b>today</b>"
    assert [m["id"] for m in status.json["media_attachments"]] == [local(first["id"]), local(second["id"])]
    assert status.json["application"]["name"] == "alice's test client"
    assert status.json["visibility"] == "public"
    account = status.json["account"]["id"]
    statuses = await mastodon.call("GET", f"/api/v1/accounts/{account}/statuses")
    assert [s["id"] for s in statuses.json] == [note_id]
    outbox = (await alice.get("/api/user/alice/feed")).json["items"]
    assert (outbox[0]["verb"], outbox[0]["object"]["id"]) == ("post", note["id"])

    updated = await alice.activity("update", {"id": note["id"], "objectType": "note", "content": "Egrets"})
    assert updated.status == 200, updated.json
    assert (updated.json["verb"], updated.json["object"]["content"]) == ("update", "Egrets")
    assert [a["id"] for a in updated.json["object"]["attachments"]] == [first["id"], second["id"]]
    status = await mastodon.call("GET", f"/api/v1/statuses/{note_id}")
    assert status.json["content"] == "Egrets" and status.json["edited_at"] is not None
    assert (await alice.get(f"/api/note/{note_id}")).json["content"] == "Egrets"

    deleted = await alice.activity("delete", ref(note))
    assert deleted.status == 200, deleted.json
    assert deleted.json["verb"] == "delete" and deleted.json["object"]["id"] == note["id"]
    assert (await mastodon.call("GET", f"/api/v1/statuses/{note_id}")).status == 404
    assert (await alice.get(f"/api/note/{note_id}")).status == 404
    outbox = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in outbox[:2]] == [("delete", note["id"]), ("update", note["id"])]
    assert note["id"] not in [a["object"]["id"] for a in outbox if a["verb"] == "post"]
    # Its media is free again, and another note may attach it.
    freed = await media_row(server, local(first["id"]))
    assert (freed["published_at"], freed["post_id"]) == (None, None)
    again = await alice.activity("post", {"objectType": "note", "content": "Again", "attachments": [ref(first)]})
    assert again.status == 200, again.json


async def test_a_status_posted_through_mastodon_is_updated_and_deleted_as_a_note(
        server: Running, http: aiohttp.ClientSession) -> None:
    alice = await login(server, "alice")
    mastodon = await api(server, http, "alice")
    made = await mastodon.call("POST", "/api/v1/statuses", json={"status": "From Mastodon"})
    assert made.status == 200, made.json
    note = {"id": f"{server.url}/api/note/{made.json['id']}", "objectType": "note"}
    updated = await alice.activity("update", {**note, "content": "From pump.io"})
    assert updated.status == 200, updated.json
    assert (await mastodon.call("GET", f"/api/v1/statuses/{made.json['id']}")).json["content"] == "<p>From pump.io</p>"
    assert (await alice.activity("delete", note)).status == 200
    assert (await mastodon.call("GET", f"/api/v1/statuses/{made.json['id']}")).status == 404


async def test_every_refused_note(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    bob = await login(server, "bob")
    mine = await upload(alice, tmp_path, 1)
    bobs = await upload(bob, tmp_path, 2)
    bobs_posted = await bob.activity("post", await upload(bob, tmp_path, 3))
    assert bobs_posted.status == 200
    bobs_public = bobs_posted.json["object"]
    posted = await alice.activity("post", {"objectType": "note", "content": "Mine", "attachments": [ref(mine)]})
    assert posted.status == 200
    note = ref(posted.json["object"])
    private = await (await api(server, http, "alice")).call(
        "POST", "/api/v1/statuses", json={"status": "Only followers", "visibility": "private"})
    assert private.status == 200
    comment = await bob.activity("post", {"objectType": "comment", "content": "Nice", "inReplyTo": bobs_public})
    assert comment.status == 200
    fresh = await upload(alice, tmp_path, 4)

    def new(**fields: Any) -> dict[str, Any]:
        return {"objectType": "note", "content": "Hello", **fields}

    many = [ref(await upload(alice, tmp_path, 10 + n)) for n in range(5)]
    cases: list[tuple[Pump, str, dict[str, Any], int, str]] = [
        (alice, "post", new(content=""), 400, "A note needs content or at least one attachment."),
        (alice, "post", new(content=5), 400, "'content' must be a string"),
        (alice, "post", new(displayName=["x"]), 400, "'displayName' must be a string"),
        (alice, "post", new(displayName="x" * 256), 400, "'displayName' is too long (maximum is 255 characters)"),
        (alice, "post", new(attachments="no"), 400,
         "'attachments' must be a list of at most 4 objects, each with an 'id'."),
        (alice, "post", new(attachments=[{"objectType": "image"}]), 400,
         "'attachments' must be a list of at most 4 objects, each with an 'id'."),
        (alice, "post", new(attachments=many), 400,
         "'attachments' must be a list of at most 4 objects, each with an 'id'."),
        (alice, "post", new(attachments=[ref(fresh), ref(fresh)]), 400, "An attachment is named more than once."),
        (alice, "post", new(attachments=[{"id": f"{server.url}/api/image/nope", "objectType": "image"}]), 404,
         "No such image"),
        (alice, "post", new(attachments=[{"id": "https://elsewhere.example/api/image/x"}]), 404, "No such image"),
        (alice, "post", new(attachments=[{**ref(fresh), "objectType": "video"}]), 404, "No such image"),
        # Someone else's unposted upload is as good as absent; a posted one is theirs.
        (alice, "post", new(attachments=[ref(bobs)]), 404, "No such image"),
        (alice, "post", new(attachments=[ref(bobs_public)]), 403, "Not able to attach another user's image."),
        (alice, "post", new(attachments=[ref(mine)]), 400, "This image is already posted or attached to another note."),
        (bob, "update", {**note, "content": "Bob's"}, 403, "Only the author can update this note."),
        (bob, "delete", note, 403, "Only the author can delete this note."),
        (alice, "update", {**note, "content": ""}, 200, ""),
        (alice, "update", {"objectType": "note", "content": "x"}, 400, "Object ID has not been specified."),
        (alice, "update", {"id": f"{server.url}/api/note/nope", "objectType": "note"}, 404, "No such note"),
        (alice, "delete", {"id": f"{server.url}/api/note/{private.json['id']}", "objectType": "note"}, 404,
         "No such note"),
        (bob, "delete", {"id": comment.json["object"]["id"].replace("/comment/", "/note/"), "objectType": "note"},
         404, "No such note"),
    ]
    for pump, verb, obj, status, message in cases:
        answer = await pump.activity(verb, obj)
        if status == 200:
            # The note keeps its attachment, so emptying its content is allowed.
            assert answer.status == 200, answer.json
            continue
        assert (answer.status, answer.json) == (status, {"error": message}), (verb, obj)
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [a["verb"] for a in feed] == ["update", "post"]
    assert (await media_row(server, local(fresh["id"])))["published_at"] is None


def pypump(server: Running, client: tuple[str, str], token: tuple[str, str]) -> PyPump:
    """PyPump 0.7 as shipped, signed in with an access token from the real OAuth flow; plain HTTP on loopback."""
    store = DummyStore()
    store.update({"client-key": client[0], "client-secret": client[1], "client-expirey": 0,
                  "oauth-access-token": token[0], "oauth-access-secret": token[1]})
    pump = PyPump(client=Client(webfinger=f"alice@{urlsplit(server.url).netloc}", type="native",
                                key=client[0], secret=client[1]),
                  store=store, verifier_callback=lambda url: None)
    pump.set_http()
    pump.setup_oauth_client()
    return pump


async def test_pypump_sends_updates_and_deletes_a_note(server: Running) -> None:
    alice = await login(server, "alice")
    client = await register_client(server.url, application_name="PyPump")
    token = await authorize(server.url, client, "alice", "alice-password")
    pump = pypump(server, client, token)
    note = pump.Note(content="Hello from PyPump", display_name="Greeting")
    await asyncio.to_thread(note.send)
    # PyPump reads the note back from the activity the server answered.
    assert note.id.startswith(f"{server.url}/api/note/") and note.content == "Hello from PyPump"
    assert note.display_name == "Greeting" and note.author.username == "alice"
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert (feed[0]["object"]["id"], feed[0]["generator"]["displayName"]) == (note.id, "PyPump")
    await asyncio.to_thread(note.delete)
    assert (await alice.get(f"/api/note/{local(note.id)}")).status == 404


async def test_notes_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    alice = await login(first, "alice")
    media = await upload(alice, tmp_path, 1)
    posted = await alice.activity("post", {"objectType": "note", "content": "Kept", "displayName": "Title",
                                           "attachments": [ref(media)]})
    assert posted.status == 200
    other = await alice.activity("post", {"objectType": "note", "content": "Gone"})
    updated = await alice.activity("update", {**ref(posted.json["object"]), "content": "Kept, edited"})
    assert updated.status == 200
    assert (await alice.activity("delete", ref(other.json["object"]))).status == 200
    note_id = local(posted.json["object"]["id"])
    paths = ["/api/user/alice/feed", "/api/user/alice/inbox", f"/api/note/{note_id}",
             f"/api/image/{local(media['id'])}", "/api/user/alice/uploads"]
    before = [(await alice.get(path)).json for path in paths]
    second = (await rebuilt(first, config)).running
    try:
        again = Pump(second.url, "alice", alice.auth)
        after = [(await again.get(path)).json for path in paths]
    finally:
        await second.server.stop()
    assert after == before


async def test_mastodon_counts_the_favorites_shares_and_follows_made_through_pump_io(
        server: Running, http: aiohttp.ClientSession) -> None:
    alice = await login(server, "alice")
    bob = await login(server, "bob")
    posted = await alice.activity("post", {"objectType": "note", "content": "Herons"})
    assert posted.status == 200, posted.json
    note = ref(posted.json["object"])
    note_id = local(note["id"])
    host = urlsplit(server.url).netloc
    for verb, obj in (("follow", {"objectType": "person", "id": f"acct:alice@{host}"}), ("favorite", note),
                      ("share", note)):
        assert (await bob.activity(verb, obj)).status == 200
    as_bob = await api(server, http, "bob")
    as_alice = await api(server, http, "alice")
    seen = (await as_bob.call("GET", f"/api/v1/statuses/{note_id}")).json
    counts = (seen["favourites_count"], seen["reblogs_count"], seen["favourited"], seen["reblogged"])
    assert counts == (1, 1, True, True)
    assert (seen["account"]["followers_count"], seen["account"]["following_count"]) == (1, 0)
    own = (await as_alice.call("GET", f"/api/v1/statuses/{note_id}")).json
    assert (own["favourites_count"], own["favourited"], own["reblogged"]) == (1, False, False)
    bob_account = (await as_bob.call("GET", "/api/v1/accounts/lookup?acct=bob")).json
    assert (bob_account["followers_count"], bob_account["following_count"]) == (0, 1)

    assert (await bob.activity("unfavorite", note)).status == 200
    again = (await as_bob.call("GET", f"/api/v1/statuses/{note_id}")).json
    assert (again["favourites_count"], again["favourited"], again["reblogs_count"]) == (0, False, 1)
