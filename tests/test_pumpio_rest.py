"""REST on pump.io objects, OPTIONS, the major and minor feeds and the uploads listing, over signed HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.servers import Running
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image, walk


def path(obj: dict[str, Any]) -> str:
    return f"/api/{obj['objectType']}/{local(obj['id'])}"


async def note(pump: Pump, content: str) -> dict[str, Any]:
    posted = await pump.activity("post", {"objectType": "note", "content": content})
    assert posted.status == 200, posted.json
    return dict(posted.json["object"])


async def test_put_and_delete_are_the_feeds_update_and_delete(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path)
    said = await bob.activity("post", {"objectType": "comment", "content": "Nice", "inReplyTo": image})
    comment = said.json["object"]
    mine = await note(alice, "First")

    put = await alice.call("PUT", path(image), json={"displayName": "Heron", "content": "Grey",
                                                     "id": "ignored", "objectType": "note"})
    assert put.status == 200, put.json
    # The object answers, as it now is; the path names the object whatever the body says.
    assert (put.json["id"], put.json["displayName"], put.json["content"]) == (image["id"], "Heron", "Grey")
    assert (await alice.get(path(image))).json["displayName"] == "Heron"
    put = await bob.call("PUT", path(comment), json={"content": "Very nice"})
    assert (put.status, put.json["content"]) == (200, "Very nice")
    put = await alice.call("PUT", path(mine), json={"content": "Second"})
    assert (put.status, put.json["objectType"], put.json["content"]) == (200, "note", "Second")
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in feed[:2]] == [("update", mine["id"]), ("update", image["id"])]
    assert feed[0]["generator"] == {"objectType": "client", "displayName": "alice's test client"}

    for pump, obj in ((bob, comment), (alice, mine), (alice, image)):
        deleted = await pump.call("DELETE", path(obj))
        assert (deleted.status, deleted.json) == (200, "Deleted"), obj
        assert (await pump.get(path(obj))).status == 404
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in feed[:2]] == [("delete", image["id"]), ("delete", mine["id"])]
    assert (await bob.get("/api/user/bob/feed")).json["items"][0]["verb"] == "delete"


async def test_every_refused_put_and_delete(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path)
    unposted = (await alice.upload(jpeg(tmp_path, seed=5))).json
    mine = await note(alice, "Mine")
    said = await bob.activity("post", {"objectType": "comment", "content": "Nice", "inReplyTo": image})
    comment = said.json["object"]
    cases: list[tuple[Pump, str, str, Any, int, str]] = [
        (bob, "PUT", path(image), {"content": "x"}, 403, "Only the author can update this image."),
        (bob, "DELETE", path(image), None, 403, "Only the author can delete this image."),
        (bob, "PUT", path(mine), {"content": "x"}, 403, "Only the author can update this note."),
        (bob, "DELETE", path(mine), None, 403, "Only the author can delete this note."),
        (alice, "PUT", path(comment), {"content": "x"}, 403, "Only the author can update this comment."),
        (alice, "DELETE", path(comment), None, 403, "Only the author can delete this comment."),
        (bob, "DELETE", path(unposted), None, 404, "No such image"),
        (alice, "PUT", path(unposted), {"content": "x"}, 400, "Post the image before updating it."),
        (alice, "PUT", "/api/image/nope", {"content": "x"}, 404, "No such image"),
        (alice, "DELETE", "/api/video/" + local(image["id"]), None, 404, "No such image"),
        (alice, "DELETE", "/api/note/nope", None, 404, "No such note"),
        (alice, "DELETE", "/api/comment/nope", None, 404, "No such comment"),
        (alice, "PUT", path(mine), ["content"], 400, "The body must be a JSON object."),
        (alice, "PUT", path(mine), {"content": 5}, 400, "'content' must be a string"),
        (alice, "PUT", path(image), "not json", 400, "Could not decode the JSON body"),
    ]
    for pump, method, where, body, status, message in cases:
        if isinstance(body, str):
            answer = await pump.call(method, where, data=body, headers={"Content-Type": "application/json"})
        else:
            answer = await pump.call(method, where, json=body)
        assert (answer.status, answer.json) == (status, {"error": message}), (method, where, body)
    unsigned = await Pump(server.url, "alice", None).call("DELETE", path(mine))
    assert unsigned.status == 401 and "error" in unsigned.json
    # Nothing refused changed anything.
    assert (await alice.get(path(mine))).json["content"] == "Mine"
    assert [a["verb"] for a in (await alice.get("/api/user/alice/feed")).json["items"]] == ["post", "post"]


async def test_options_names_each_paths_methods_and_405_carries_allow(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = await posted_image(alice, tmp_path)
    anonymous = Pump(server.url, "alice", None)
    expected = {
        path(image): "DELETE, GET, HEAD, OPTIONS, PUT",
        "/api/note/anything": "DELETE, GET, HEAD, OPTIONS, PUT",
        "/api/comment/anything/": "DELETE, GET, HEAD, OPTIONS, PUT",
        f"{path(image)}/replies": "GET, HEAD, OPTIONS",
        "/api/user/alice/feed": "GET, HEAD, OPTIONS, POST",
        "/api/user/alice/feed/major": "GET, HEAD, OPTIONS, POST",
        "/api/user/alice/inbox": "GET, HEAD, OPTIONS",
        "/api/user/alice/uploads": "GET, HEAD, OPTIONS, POST",
    }
    for where, allow in expected.items():
        answer = await anonymous.call("OPTIONS", where)
        assert (answer.status, answer.headers["Allow"]) == (200, allow), where
    wrong = await alice.call("PATCH", path(image), json={})
    assert wrong.status == 405 and wrong.json == {"error": "Method Not Allowed"}
    assert set(wrong.headers["Allow"].split(",")) >= {"GET", "PUT", "DELETE", "OPTIONS"}
    inbox = await alice.post("/api/user/alice/inbox", {"verb": "post"})
    assert inbox.status == 405 and inbox.json == {"error": "Method Not Allowed"} and "GET" in inbox.headers["Allow"]


async def test_major_and_minor_feeds_take_their_own_activities(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    posted = await alice.post("/api/user/alice/feed/major", {"verb": "post", "object": {"objectType": "note",
                                                                                       "content": "Major"}})
    assert (posted.status, posted.json["verb"], posted.json["object"]["content"]) == (200, "post", "Major")
    note_ = posted.json["object"]
    update = {"verb": "update", "object": {"id": note_["id"], "objectType": "note", "content": "Minor"}}
    updated = await alice.post("/api/user/alice/feed/minor/", update)
    assert (updated.status, updated.json["verb"]) == (200, "update")
    image = await posted_image(alice, tmp_path)
    comment = {"verb": "post", "object": {"objectType": "comment", "content": "Hi", "inReplyTo": image}}
    assert (await bob.post("/api/user/bob/feed/minor", comment)).status == 200
    refusals = [
        (alice, "/api/user/alice/feed/major", update, 400, "Only major activities to this feed."),
        (alice, "/api/user/alice/feed/minor", {"verb": "post", "object": {"objectType": "note", "content": "x"}},
         400, "Only minor activities to this feed."),
        (bob, "/api/user/bob/feed/major", comment, 400, "Only major activities to this feed."),
        (bob, "/api/user/alice/feed/major", {"verb": "post", "object": {"objectType": "note"}}, 403,
         "Not able to post to another users feed."),
        (alice, "/api/user/nobody/feed/minor", update, 404, "No such user: nobody"),
        (alice, "/api/user/alice/feed/major", {"verb": "post"}, 400, "Invalid activity provided."),
    ]
    for pump, where, body, status, message in refusals:
        answer = await pump.post(where, body)
        assert (answer.status, answer.json) == (status, {"error": message}), (where, body)
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [a["verb"] for a in feed] == ["post", "update", "post"]


async def test_the_uploads_listing_pages_to_the_end_for_its_owner_only(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    ids = []
    for seed in range(5):
        uploaded = await alice.upload(jpeg(tmp_path, seed=seed))
        assert uploaded.status == 200
        ids.append(uploaded.json["id"])
    posted = await alice.activity("post", {"id": ids[1], "objectType": "image"})
    assert posted.status == 200
    await bob.upload(jpeg(tmp_path, seed=9))

    first = await alice.get("/api/user/alice/uploads", count=2)
    assert first.status == 200, first.json
    assert (first.json["totalItems"], first.json["objectTypes"]) == (5, ["image"])
    assert first.json["author"]["preferredUsername"] == "alice"
    assert first.json["items"][0]["fullImage"]["width"] == 640
    pages = await walk(alice, f"{server.url}/api/user/alice/uploads?count=2", "next")
    # Newest first, unposted ones too, each once.
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    last = await alice.get("/api/user/alice/uploads", count=2, offset=4)
    assert "next" not in last.json["links"] and "prev" in last.json["links"]

    refused = [
        (bob, "/api/user/alice/uploads", {}, 403, "Only the owner can list their uploads."),
        (alice, "/api/user/nobody/uploads", {}, 404, "No such user: nobody"),
        (alice, "/api/user/alice/uploads", {"count": "x"}, 400, "Count must be between 0 and 200"),
        (alice, "/api/user/alice/uploads", {"offset": "-1"}, 400, "Offset must be a whole number, 0 or more"),
    ]
    for pump, where, params, status, message in refused:
        answer = await pump.get(where, **params)
        assert (answer.status, answer.json) == (status, {"error": message}), (where, params)
    assert (await Pump(server.url, "alice", None).get("/api/user/alice/uploads")).status == 401
