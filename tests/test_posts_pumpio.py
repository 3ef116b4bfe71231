"""Posts as pump.io clients see them: `post` activities of notes in outboxes and inboxes, surviving a rebuild."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.outage import free_port
from tests.servers import Running, make_config, rebuilt, start
from tests.test_posts import Api, api, delete_in_log
from tests.test_pumpio_feed import Pump, login, posted_image


def local(object_id: str) -> str:
    return object_id.rsplit("/", 1)[1]


async def test_a_post_is_a_note_activity_in_the_pumpio_feeds(server: Running, http: aiohttp.ClientSession,
                                                            tmp_path: Path) -> None:
    pump_alice, pump_bob = await login(server, "alice"), await login(server, "bob")
    alice = await api(server, http, "alice")
    first, second = await alice.uploaded(tmp_path, seed=1), await alice.uploaded(tmp_path, seed=2)
    await posted_image(pump_alice, tmp_path, seed=3)
    post = (await alice.post("Herons at dawn", [first, second])).json

    outbox = await pump_alice.get("/api/user/alice/feed")
    assert outbox.status == 200 and outbox.json["totalItems"] == 2
    activity = outbox.json["items"][0]
    assert (activity["verb"], activity["content"]) == ("post", "alice posted a note")
    assert activity["generator"] == {"objectType": "client", "displayName": "Mediaplex posts API"}
    note = activity["object"]
    assert note["id"] == f"{server.url}/api/note/{post['id']}"
    assert (note["objectType"], note["content"], note["url"]) == ("note", "<p>Herons at dawn</p>", note["id"])
    assert note["author"]["preferredUsername"] == "alice"
    assert [local(image["id"]) for image in note["attachments"]] == [first, second]
    for image in note["attachments"]:
        # Each attachment is the same image object pump.io serves for it on its own.
        alone = await pump_bob.get(f"/api/image/{local(image['id'])}")
        assert (alone.status, alone.json) == (200, image)
        assert image["objectType"] == "image"
        assert (image["fullImage"]["width"], image["image"]["width"]) == (640, 320)

    for path in ("/api/user/alice/feed/major", "/api/user/alice/inbox", "/api/user/alice/inbox/major"):
        answer = await pump_alice.get(path)
        assert answer.status == 200 and answer.json["items"][0] == activity, path
    for path in ("/api/user/alice/feed/minor", "/api/user/alice/inbox/minor", "/api/user/alice/inbox/direct"):
        answer = await pump_alice.get(path)
        assert answer.status == 200 and activity["id"] not in [a["id"] for a in answer.json["items"]], path
    # The outbox is public to users; the note and its activity are objects of their own.
    assert (await pump_bob.get("/api/user/alice/feed")).json["items"][0] == activity
    assert (await pump_bob.get(activity["id"])).json == activity
    alone = await pump_bob.get(f"/api/note/{post['id']}/")
    assert (alone.status, alone.json) == (200, note)
    unknown = await pump_bob.get("/api/note/nope")
    assert (unknown.status, unknown.json) == (404, {"error": "No such note"})
    assert (await Pump(server.url, "bob", None).get(f"/api/note/{post['id']}")).status == 401

    # Attached images are posted: commenting on them works, posting them again through pump.io does not.
    said = await pump_bob.activity("post", {"objectType": "comment", "content": "Lovely",
                                            "inReplyTo": {"id": note["attachments"][0]["id"]}})
    assert said.status == 200
    again = await pump_alice.activity("post", note["attachments"][1])
    assert (again.status, again.json) == (400, {"error": "This image has already been posted."})
    # A note posted through pump.io is a post the posts API reads too.
    through_pump = await pump_alice.activity("post", {"objectType": "note", "content": "hi"})
    assert through_pump.status == 200, through_pump.json
    read = await alice.call("GET", f"/posts/{local(through_pump.json['object']['id'])}")
    assert (read.status, read.json["body"], read.json["author"]) == (200, "hi", "alice")

    # A deleted attachment leaves a reference to the image, not an error.
    await delete_in_log(server, second)
    later = (await pump_alice.get(f"/api/note/{post['id']}")).json
    assert later["attachments"][1] == {"id": note["attachments"][1]["id"], "objectType": "image"}
    assert (await pump_alice.get("/api/user/alice/feed")).status == 200


async def test_posts_and_feeds_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path, tmp_path: Path,
                                                           http: aiohttp.ClientSession) -> None:
    # One port for both starts: every URL in the JSON carries it.
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    pump = await login(first, "alice")
    alice = await api(first, http, "alice")
    media = [await alice.uploaded(tmp_path, seed=n) for n in range(3)]
    posts = [(await alice.post("One", media[:2])).json, (await alice.post("Two", [media[2]], "did:plc:x1")).json]
    assert (await alice.call("PUT", "/identity/current", json={"avatarId": media[2]})).status == 200
    await delete_in_log(first, media[1])
    paths = ["/api/user/alice/feed", "/api/user/alice/feed/major", "/api/user/alice/inbox",
             *(f"/api/note/{p['id']}" for p in posts)]
    before = [(await pump.get(path)).json for path in paths]
    reads = [f"/posts/{p['id']}" for p in posts] + ["/identity/current"]
    before_api = [(await alice.call("GET", path)).json for path in reads]
    live = await first.projection.digest()
    done = await rebuilt(first, config)
    assert done.digest == live[1]
    second = done.running
    try:
        assert await second.projection.digest() == live
        assert second.projection.path != first.projection.path
        again = Pump(second.url, "alice", pump.auth)
        after = [(await again.get(path)).json for path in paths]
        after_api = [(await Api(http, second, alice.token).call("GET", path)).json for path in reads]
    finally:
        await second.server.stop()
    assert after == before
    assert after_api == before_api


async def test_deleting_through_mastodon_an_image_pumpio_posted_tells_the_pumpio_feeds(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    pump = await login(server, "alice")
    bob = await login(server, "bob")
    host = server.url.split("//", 1)[1]
    assert (await bob.activity("follow", {"objectType": "person", "id": f"acct:alice@{host}"})).status == 200
    alice = await api(server, http, "alice")
    image = await posted_image(pump, tmp_path, seed=5)
    shown = local(image["id"])
    unposted = await pump.upload((tmp_path / "p-640x480-5.jpg").read_bytes())
    assert unposted.status == 200
    # An image posted on its own in pump.io is attached to no status: Mastodon may delete it.
    answer = await alice.call("DELETE", f"/api/v1/media/{shown}")
    assert (answer.status, answer.json) == (200, {})
    outbox = (await pump.get("/api/user/alice/feed")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in outbox] == [("delete", image["id"]), ("post", image["id"])]
    assert outbox[0]["object"]["deleted"] and outbox[0]["object"]["objectType"] == "image"
    # The owner's followers hear of it as they heard of the post.
    inbox = (await bob.get("/api/user/bob/inbox")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in inbox[:2]] == [("delete", image["id"]), ("post", image["id"])]
    assert (await pump.get(f"/api/image/{shown}")).status == 404
    # An upload nothing posted leaves nothing in the feeds.
    answer = await alice.call("DELETE", f"/api/v1/media/{local(unposted.json['id'])}")
    assert (answer.status, answer.json) == (200, {})
    assert len((await pump.get("/api/user/alice/feed")).json["items"]) == 2
