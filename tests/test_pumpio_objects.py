"""Reading pump.io objects: images, comments, activities and replies, with real OAuth signatures."""

from __future__ import annotations

from pathlib import Path

from requests_oauthlib import OAuth1

from tests.servers import Running
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image


async def test_an_unposted_image_is_seen_by_its_owner_only(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    uploaded = (await alice.upload(jpeg(tmp_path))).json
    url = uploaded["id"]
    assert (await alice.get(url)).json == uploaded
    for path in (url, url + "/", url + "/replies"):
        hidden = await bob.get(path)
        assert (hidden.status, hidden.json) == (404, {"error": "No such image"}), path
    posted = await alice.activity("post", {**uploaded, "tags": ["heron", "bird"]})
    shown = await bob.get(url + "/")
    assert shown.status == 200 and shown.json == posted.json["object"]
    assert shown.json["tags"] == ["heron", "bird"]
    assert shown.json["published"].endswith("Z") and shown.json["updated"] >= shown.json["published"]
    assert (await bob.get(url + "/replies")).json["totalItems"] == 0


async def test_objects_activities_and_replies(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path, displayName="Heron", license="CC0")
    said = []
    for n in range(6):
        answer = await bob.activity("post", {"objectType": "comment", "content": f"<p>{n}</p>",
                                             "inReplyTo": image["id"]})
        assert answer.status == 200
        said.append(answer.json)

    comment = said[0]["object"]
    got = await alice.get(comment["id"])
    assert got.status == 200
    # The embedded image has gathered replies since; the comment itself is unchanged.
    assert {**got.json, "inReplyTo": None} == {**comment, "inReplyTo": None}
    assert got.json["objectType"] == "comment" and got.json["content"] == "<p>0</p>"
    assert got.json["inReplyTo"]["id"] == image["id"] and got.json["inReplyTo"]["displayName"] == "Heron"

    activity = await alice.get(said[0]["id"] + "/")
    assert activity.status == 200
    assert activity.json["verb"] == "post" and activity.json["actor"]["preferredUsername"] == "bob"
    assert activity.json["object"]["id"] == comment["id"]

    current = (await alice.get(image["id"])).json
    assert current["replies"]["totalItems"] == 6
    # The image embeds its newest replies; each names the image by id only.
    assert [c["id"] for c in current["replies"]["items"]] == [s["object"]["id"] for s in said[::-1][:4]]
    assert current["replies"]["items"][0]["inReplyTo"] == {"id": image["id"], "objectType": "image"}
    first = await alice.get(current["replies"]["url"], count=4)
    assert first.status == 200 and first.json["objectTypes"] == ["comment"]
    assert [c["id"] for c in first.json["items"]] == [c["id"] for c in current["replies"]["items"]]
    rest = await alice.get(first.json["links"]["next"]["href"])
    assert [c["id"] for c in rest.json["items"]] == [s["object"]["id"] for s in said[1::-1]]
    assert "next" not in rest.json["links"]

    for path in ("/api/image/123", "/api/image/123/replies", "/api/comment/nope", "/api/activity/nope/"):
        missing = await alice.get(path)
        assert missing.status == 404 and set(missing.json) == {"error"}, path

    deleted = await alice.activity("delete", {"id": image["id"], "objectType": "image"})
    assert deleted.status == 200
    assert deleted.json["content"] == "alice deleted an image"
    assert set(deleted.json["object"]) == {"id", "objectType", "deleted"}
    assert (await bob.get(image["id"])).status == 404
    old_post = await bob.get("/api/user/alice/feed/major")
    assert old_post.json["items"][0]["object"] == {"id": image["id"], "objectType": "image"}
    orphan = await bob.get(comment["id"])
    assert orphan.status == 200 and orphan.json["inReplyTo"] == {"id": image["id"], "objectType": "image"}


async def test_reading_needs_a_valid_signature(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = await posted_image(alice, tmp_path)
    assert alice.auth is not None
    forged = OAuth1(alice.auth.client.client_key, "wrong-secret", alice.auth.client.resource_owner_key,
                    alice.auth.client.resource_owner_secret)
    for auth in (None, forged):
        for path in (image["id"], image["replies"]["url"], "/api/user/alice", "/api/user/alice/profile",
                     "/api/user/alice/feed", "/api/user/alice/inbox"):
            refused = await Pump(server.url, "alice", auth).get(path)
            assert refused.status == 401 and set(refused.json) == {"error"}, path


async def test_an_offset_past_what_sqlite_counts_is_refused_and_the_server_keeps_serving(
    server: Running, tmp_path: Path
) -> None:
    # 2**64 once reached SQLite as LIMIT/OFFSET and failed with a 500.
    alice = await login(server, "alice")
    image = (await alice.upload(jpeg(tmp_path))).json
    for path in (image["id"] + "/replies", "/api/user/alice/feed", "/api/user/alice/inbox/direct"):
        for offset in (2**64, 10**30, 1_000_000_001):
            refused = await alice.get(path, offset=offset)
            assert (refused.status, refused.json) == (400, {"error": "Offset must be at most 1000000000"}), path
        edge = await alice.get(path, offset=1_000_000_000)
        assert edge.status == 200 and edge.json["items"] == [], path
