"""pump.io collections (MediaGoblin albums) over real HTTP with real OAuth 1.0a signatures and a real broker:
made, filled, emptied, read page by page, refused, swept when their media goes, and rebuilt unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pypump import Client, PyPump

from mediaplex.admin import add_user
from tests.outage import free_port
from tests.pumpclient import authorize, register_client, signer
from tests.servers import Running, make_config, rebuilt, start
from tests.test_posts import api
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image, query, walk


def local(object_id: str) -> str:
    return object_id.rsplit("/", 1)[1]


def ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"objectType": obj["objectType"], "id": obj["id"]}


async def album(pump: Pump, name: str, *types: str, **extra: Any) -> dict[str, Any]:
    made = await pump.activity("post", {"objectType": "collection", "displayName": name,
                                        "content": f"{name}, described", "objectTypes": list(types) or ["image"],
                                        **extra})
    assert made.status == 200, made.json
    return dict(made.json["object"])


async def add(pump: Pump, obj: dict[str, Any], collection: dict[str, Any], verb: str = "add") -> Any:
    answer = await pump.activity(verb, ref(obj), target=ref(collection))
    assert answer.status == 200, answer.json
    return answer.json


async def member_ids(pump: Pump, collection: dict[str, Any], **params: Any) -> list[str]:
    answer = await pump.get(collection["members"]["url"], **params)
    assert answer.status == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


async def test_an_album_is_made_filled_read_page_by_page_and_emptied(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    host = urlsplit(server.url).netloc
    birds = await album(alice, "Birds")
    assert birds["objectType"] == "collection" and birds["displayName"] == "Birds"
    assert birds["content"] == "Birds, described" and birds["objectTypes"] == ["image"]
    assert birds["author"]["id"] == f"acct:alice@{host}"
    assert birds["members"] == {"url": f"{birds['id']}/members", "totalItems": 0}
    assert birds["links"] == {"self": {"href": birds["id"]}, "members": {"href": f"{birds['id']}/members"}}
    assert birds["id"].startswith(f"{server.url}/api/collection/") and birds["url"] == birds["id"]

    images = [await posted_image(alice, tmp_path, seed=n, displayName=f"Bird {n}") for n in range(7)]
    for image in images:
        added = await add(alice, image, birds)
        assert added["verb"] == "add" and added["object"]["id"] == image["id"]
        # PyPump reads the collection back out of `target`, and its members through links.members.
        assert added["target"]["id"] == birds["id"] and added["target"]["links"]["members"]["href"]
    assert added["target"]["members"]["totalItems"] == 7
    assert added["content"] == "alice added Bird 6"

    # Any signed-in user reads a collection and its members, newest first, page by page to the end.
    read = await bob.get(f"/api/collection/{local(birds['id'])}")
    assert read.status == 200 and read.json["members"]["totalItems"] == 7 and read.json["displayName"] == "Birds"
    newest_first = [image["id"] for image in reversed(images)]
    first = await bob.get(birds["members"]["url"])
    assert first.json["totalItems"] == 7 and [i["id"] for i in first.json["items"]] == newest_first
    assert first.json["items"][0]["fullImage"] == images[-1]["fullImage"]
    assert first.json["author"]["preferredUsername"] == "alice" and "next" not in first.json["links"]
    pages = await walk(bob, f"{birds['members']['url']}?count=3", "next")
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    upwards = await walk(bob, f"{birds['members']['url']}?count=3&since={newest_first[-1]}", "prev")
    assert [i for p in reversed(upwards) for i in p] == newest_first[:-1]
    offset = await member_ids(bob, birds, offset=5, count=10)
    assert offset == newest_first[5:]
    last = await bob.get(birds["members"]["url"], before=newest_first[3], count=2)
    assert query(last.json["links"]["next"]["href"]) == {"before": newest_first[5], "count": "2"}

    # An image is in as many albums as its owner likes; taking it out of one leaves it in the others.
    herons = await album(alice, "Herons")
    await add(alice, images[0], herons)
    removed = await add(alice, images[0], birds, verb="remove")
    assert removed["verb"] == "remove" and removed["target"]["members"]["totalItems"] == 6
    assert images[0]["id"] not in await member_ids(alice, birds)
    assert await member_ids(alice, herons) == [images[0]["id"]]
    # Added again, it is the newest member.
    await add(alice, images[0], birds)
    assert (await member_ids(alice, birds))[0] == images[0]["id"]

    # Collections hold notes' and comments' authors' work, people and other collections too.
    said = await bob.activity("post", {"objectType": "comment", "content": "Lovely!", "inReplyTo": ref(images[1])})
    assert said.status == 200
    people = await album(alice, "Friends", "person")
    await add(alice, {"objectType": "person", "id": f"acct:bob@{host}"}, people)
    await add(alice, said.json["object"], herons)
    await add(alice, people, herons)
    members = (await alice.get(herons["members"]["url"])).json["items"]
    assert [m["objectType"] for m in members] == ["collection", "comment", "image"]
    assert members[0]["displayName"] == "Friends" and members[0]["members"]["totalItems"] == 1
    assert (await alice.get(people["members"]["url"])).json["items"][0]["preferredUsername"] == "bob"

    # The user's lists of a type: their collections meant for it, paged the same way.
    for n in range(3):
        await album(alice, f"More {n}")
    lists = await walk(bob, f"{server.url}/api/user/alice/lists/image?count=2", "next")
    names = [i for p in lists for i in p]
    assert len(names) == 5 and names[-2:] == [herons["id"], birds["id"]] and people["id"] not in names
    listed = await bob.get("/api/user/alice/lists/person")
    assert [c["id"] for c in listed.json["items"]] == [people["id"]] and listed.json["totalItems"] == 1
    assert (await bob.get("/api/user/bob/lists/image")).json["totalItems"] == 0
    assert (await bob.get("/api/user/nobody/lists/image")).status == 404

    # Renamed by its owner; the feed tells of every change.
    updated = await alice.activity("update", {"objectType": "collection", "id": birds["id"], "displayName": "Aves"})
    assert updated.status == 200 and updated.json["object"]["displayName"] == "Aves"
    assert updated.json["object"]["content"] == "Birds, described"
    again = await alice.activity("update", {"objectType": "collection", "id": birds["id"], "content": "All of them"})
    assert again.status == 200 and again.json["id"] != updated.json["id"]
    assert again.json["object"]["displayName"] == "Aves" and again.json["object"]["content"] == "All of them"
    feed = (await bob.get("/api/user/alice/feed", count=3)).json["items"]
    assert [a["verb"] for a in feed] == ["update", "update", "post"]
    assert feed[0]["object"]["content"] == "All of them"

    # Deleting the image takes it out of every album; deleting an album leaves its members be.
    gone = await alice.activity("delete", ref(images[0]))
    assert gone.status == 200
    assert images[0]["id"] not in await member_ids(bob, birds)
    assert await member_ids(bob, herons) == [people["id"], said.json["object"]["id"]]
    deleted = await alice.activity("delete", ref(herons))
    assert deleted.status == 200 and deleted.json["object"]["deleted"]
    assert (await bob.get(f"/api/collection/{local(herons['id'])}")).status == 404
    assert (await bob.get(herons["members"]["url"])).status == 404
    assert (await bob.get(f"/api/collection/{local(people['id'])}")).json["members"]["totalItems"] == 1


async def test_every_refused_collection_activity(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    host = urlsplit(server.url).netloc
    mine, theirs = await album(alice, "Mine"), await album(bob, "Theirs")
    inner = await album(alice, "Inner")
    image = await posted_image(alice, tmp_path)
    await add(alice, image, mine)
    await add(alice, inner, mine)
    unposted = (await alice.upload(jpeg(tmp_path, seed=3))).json
    nowhere = {"objectType": "collection", "id": f"{server.url}/api/collection/nope"}
    before = await server.events.last_seq()

    cases: list[tuple[Pump, dict[str, Any], int, str]] = [
        (alice, {"verb": "add", "object": ref(image)}, 400, "An add or remove activity needs a target object."),
        (alice, {"verb": "remove", "object": ref(image), "target": "x"}, 400,
         "An add or remove activity needs a target object."),
        (alice, {"verb": "add", "object": ref(image), "target": ref(image)}, 400,
         "The target of an add or remove must be a collection."),
        (alice, {"verb": "add", "object": ref(image), "target": {"id": mine["id"]}}, 400,
         "The target of an add or remove must be a collection."),
        (alice, {"verb": "add", "object": ref(image), "target": {"objectType": "collection"}}, 400,
         "Object ID has not been specified."),
        (alice, {"verb": "add", "object": ref(image), "target": nowhere}, 404, "No such collection"),
        (alice, {"verb": "add", "object": ref(image), "target": {
            "objectType": "collection", "id": "https://elsewhere.example/api/collection/1"}}, 404,
         "No such collection"),
        (alice, {"verb": "add", "object": ref(image), "target": ref(theirs)}, 403,
         "Only the owner of a collection can add to it or remove from it."),
        (alice, {"verb": "remove", "object": ref(image), "target": ref(theirs)}, 403,
         "Only the owner of a collection can add to it or remove from it."),
        (alice, {"verb": "add", "object": {"objectType": "image", "id": f"{server.url}/api/image/1"},
                 "target": ref(mine)}, 404, "No such image"),
        (alice, {"verb": "add", "object": {"objectType": "video", "id": image["id"]}, "target": ref(mine)}, 404,
         "No such image"),
        (alice, {"verb": "add", "object": {"objectType": "note", "id": f"{server.url}/api/note/1"},
                 "target": ref(mine)}, 404, "No such note"),
        (alice, {"verb": "add", "object": {"objectType": "comment", "id": f"{server.url}/api/comment/1"},
                 "target": ref(mine)}, 404, "No such comment"),
        (alice, {"verb": "add", "object": {"objectType": "person", "id": f"acct:nobody@{host}"},
                 "target": ref(mine)}, 404, "No such person"),
        (alice, {"verb": "add", "object": {"objectType": "person", "id": "acct:bob@elsewhere.example"},
                 "target": ref(mine)}, 404, "No such person"),
        (alice, {"verb": "add", "object": nowhere, "target": ref(mine)}, 404, "No such collection"),
        (alice, {"verb": "add", "object": {"objectType": "image"}, "target": ref(mine)}, 400,
         "Object ID has not been specified."),
        (alice, {"verb": "add", "object": ref(unposted), "target": ref(mine)}, 400,
         "Post the image before adding it to a collection."),
        (alice, {"verb": "add", "object": ref(image), "target": ref(mine)}, 400,
         "That object is already in this collection."),
        (alice, {"verb": "remove", "object": ref(image), "target": ref(inner)}, 400,
         "That object is not in this collection."),
        (alice, {"verb": "add", "object": ref(mine), "target": ref(mine)}, 400,
         "A collection cannot end up inside itself."),
        (alice, {"verb": "add", "object": ref(mine), "target": ref(inner)}, 400,
         "A collection cannot end up inside itself."),
        (alice, {"verb": "update", "object": nowhere}, 404, "No such collection"),
        (alice, {"verb": "delete", "object": {"objectType": "collection"}}, 400, "Object ID has not been specified."),
        (alice, {"verb": "update", "object": {**ref(theirs), "displayName": "x"}}, 403,
         "Only the author can update this collection."),
        (alice, {"verb": "delete", "object": ref(theirs)}, 403, "Only the author can delete this collection."),
        (alice, {"verb": "post", "object": {"objectType": "collection", "displayName": 3}}, 400,
         "'displayName' must be a string"),
        (alice, {"verb": "post", "object": {"objectType": "collection", "objectTypes": "image"}}, 400,
         "'objectTypes' must be a list of at most 20 strings of at most 100 characters"),
        (alice, {"verb": "post", "object": {"objectType": "collection", "objectTypes": [1]}}, 400,
         "'objectTypes' must be a list of at most 20 strings of at most 100 characters"),
        (bob, {"verb": "add", "object": ref(unposted), "target": ref(theirs)}, 404, "No such image"),
    ]
    for pump, body, status, message in cases:
        answer = await pump.post(f"/api/user/{pump.user}/feed", body)
        assert (answer.status, answer.json) == (status, {"error": message}), body
    # A deeper cycle: Inner holds Deep, so Mine (which holds Inner) cannot go into Deep.
    deep = await album(alice, "Deep")
    await add(alice, deep, inner)
    before = await server.events.last_seq()
    answer = await alice.activity("add", ref(mine), target=ref(deep))
    assert (answer.status, answer.json) == (400, {"error": "A collection cannot end up inside itself."})
    assert await server.events.last_seq() == before

    for path, params, status, message in (
        ("/api/collection/nope", {}, 404, "No such collection"),
        ("/api/collection/nope/members", {}, 404, "No such collection"),
        (mine["members"]["url"], {"count": 201}, 400, "Count must be between 0 and 200"),
        (mine["members"]["url"], {"offset": "x"}, 400, "Offset must be a whole number, 0 or more"),
        (mine["members"]["url"], {"before": image["id"], "since": image["id"]}, 400,
         "Use either 'before' or 'since', not both."),
        (mine["members"]["url"], {"before": image["id"], "offset": 1}, 400,
         "'offset' cannot be combined with 'before' or 'since'."),
        (mine["members"]["url"], {"before": f"{server.url}/api/image/nope"}, 400,
         f"Unknown member in 'before': {server.url}/api/image/nope"),
        ("/api/user/alice/lists/image", {"since": theirs["id"]}, 400,
         f"Unknown collection in 'since': {theirs['id']}"),
    ):
        answer = await bob.get(path, **params)
        assert (answer.status, answer.json) == (status, {"error": message}), (path, params)
    unsigned = await Pump(server.url, "bob", None).get(mine["members"]["url"])
    assert unsigned.status == 401 and "error" in unsigned.json


async def test_racing_identical_adds_make_one_member(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    birds = await album(alice, "Birds")
    image = await posted_image(alice, tmp_path)
    answers = await asyncio.gather(*(alice.activity("add", ref(image), target=ref(birds)) for _ in range(4)))
    assert all(a.status in (200, 400) for a in answers)
    ids = {a.json["id"] for a in answers if a.status == 200}
    assert len(ids) == 1
    assert all(a.json == {"error": "That object is already in this collection."} for a in answers if a.status == 400)
    feed = (await alice.get("/api/user/alice/feed")).json["items"]
    assert [a["verb"] for a in feed].count("add") == 1
    assert await member_ids(alice, birds) == [image["id"]]


async def test_media_deleted_through_mastodon_leaves_every_album(server: Running, http: aiohttp.ClientSession,
                                                                 tmp_path: Path) -> None:
    pump, bob = await login(server, "alice"), await login(server, "bob")
    alice = await api(server, http, "alice")
    media_id = await alice.uploaded(tmp_path, seed=9)
    status = await alice.call("POST", "/api/v1/statuses", json={"status": "Heron", "media_ids": [media_id]})
    assert status.status == 200, status.json
    image = {"objectType": "image", "id": f"{server.url}/api/image/{media_id}"}
    one, two = await album(pump, "One"), await album(pump, "Two")
    await add(pump, image, one)
    await add(pump, image, two)
    # The status goes and its media is an upload nobody posted again: only its owner sees it in an album.
    deleted = await alice.call("DELETE", f"/api/v1/statuses/{status.json['id']}")
    assert deleted.status == 200
    assert await member_ids(pump, one) == [image["id"]]
    assert await member_ids(bob, one) == []
    assert (await bob.get(f"/api/collection/{local(one['id'])}")).json["members"]["totalItems"] == 0
    gone = await alice.call("DELETE", f"/api/v1/media/{media_id}")
    assert (gone.status, gone.json) == (200, {})
    for collection in (one, two):
        assert await member_ids(pump, collection) == []
        assert (await pump.get(f"/api/collection/{local(collection['id'])}")).json["members"]["totalItems"] == 0


async def test_collections_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    alice, bob = await login(first, "alice"), await login(first, "bob")
    host = urlsplit(first.url).netloc
    birds, people = await album(alice, "Birds"), await album(alice, "Friends", "person")
    images = [await posted_image(alice, tmp_path, seed=n) for n in range(4)]
    for image in images:
        await add(alice, image, birds)
    await add(alice, images[1], birds, verb="remove")
    await add(alice, {"objectType": "person", "id": f"acct:bob@{host}"}, people)
    await add(alice, people, birds)
    assert (await alice.activity("update", {**ref(birds), "displayName": "Aves"})).status == 200
    assert (await alice.activity("delete", ref(images[2]))).status == 200
    await album(bob, "Bob's")
    paths = [f"/api/collection/{local(birds['id'])}", birds["members"]["url"], people["members"]["url"],
             f"/api/collection/{local(people['id'])}", "/api/user/alice/lists/image", "/api/user/alice/lists/person",
             "/api/user/bob/lists/image", "/api/user/alice/feed"]
    before = [(await alice.get(path)).json for path in paths]
    paged = await walk(alice, f"{birds['members']['url']}?count=1", "next")
    assert [i for p in paged for i in p] == [people["id"], images[3]["id"], images[0]["id"]]
    second = (await rebuilt(first, config)).running
    try:
        again = Pump(second.url, "alice", alice.auth)
        after = [(await again.get(path)).json for path in paths]
        assert await walk(again, f"{birds['members']['url']}?count=1", "next") == paged
    finally:
        await second.server.stop()
    assert after == before
    assert before[0]["members"]["totalItems"] == 3 and before[0]["displayName"] == "Aves"


def _pypump_adds_and_removes(url: str, client: tuple[str, str], token: tuple[str, str], collection_id: str,
                             image: dict[str, Any]) -> tuple[list[str], list[str], str]:
    """PyPump's own Collection.add and remove, unmodified, signing with the access token the flow gave."""
    store = {"client-key": client[0], "client-secret": client[1], "client-expirey": 0,
             "oauth-access-token": token[0], "oauth-access-secret": token[1]}
    pump = PyPump(client=Client(webfinger=f"alice@{urlsplit(url).netloc}", type="native", name="PyPump",
                                key=client[0], secret=client[1]), verifier_callback=lambda _: None, store=store)
    # PyPump speaks https only; the test server is plain HTTP on loopback.
    pump.protocol = "http"
    collection = pump.Collection(id=collection_id)
    # As PyPump reads any object it was sent.
    photo = pump.Image().unserialize(image)
    collection.add(photo)
    added = [member.id for member in collection.members]
    name = str(collection.display_name)
    collection.remove(photo)
    return added, [member.id for member in collection.members], name


async def test_pypump_collection_adds_and_removes(server: Running, tmp_path: Path) -> None:
    await add_user(server.events, "alice", "alice-password")
    client = await register_client(server.url, application_name="PyPump")
    token = await authorize(server.url, client, "alice", "alice-password")
    alice = Pump(server.url, "alice", signer(client, token))
    birds = await album(alice, "Birds")
    image = await posted_image(alice, tmp_path)
    added, left, name = await asyncio.to_thread(_pypump_adds_and_removes, server.url, client, token, birds["id"],
                                                image)
    assert added == [image["id"]] and left == [] and name == "Birds"
    assert [a["verb"] for a in (await alice.get("/api/user/alice/feed", count=2)).json["items"]] == ["remove", "add"]
