"""pump.io favorites, shares and follows over real HTTP with real OAuth 1.0a signatures and a real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.outage import free_port
from tests.servers import Running, make_config, rebuilt, start
from tests.test_posts import api
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image, walk


def host_of(server: Running) -> str:
    """The host in `acct:` ids: the public URL's, port and all."""
    return urlsplit(server.url).netloc


def local(object_id: str) -> str:
    return object_id.rsplit("/", 1)[1]


def path_of(object_id: str) -> str:
    return "/api/" + object_id.split("/api/", 1)[1]


async def acted(pump: Pump, verb: str, obj: dict[str, Any]) -> dict[str, Any]:
    answer = await pump.activity(verb, {"id": obj["id"], "objectType": obj["objectType"]})
    assert answer.status == 200, (verb, answer.json)
    # `like` and `unlike` are pump.io's other names for favoriting, and shown as that.
    assert answer.json["verb"] == {"like": "favorite", "unlike": "unfavorite"}.get(verb, verb)
    return dict(answer.json)


async def every(pump: Pump, url: str) -> list[str]:
    pages = await walk(pump, url, "next")
    return [item for page in pages for item in page]


async def inbox_ids(pump: Pump, path: str = "inbox") -> list[str]:
    return await every(pump, f"{pump.base}/api/user/{pump.user}/{path}?count=5")


async def test_favorites_of_images_comments_and_notes(server: Running, http: aiohttp.ClientSession,
                                                      tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path, displayName="Heron")
    said = await alice.activity("post", {"objectType": "comment", "content": "Mine", "inReplyTo": image})
    comment = said.json["object"]
    post = (await (await api(server, http, "alice")).post("A note")).json
    note = (await bob.get(f"/api/note/{post['id']}")).json
    assert note["likes"] == {"totalItems": 0, "url": f"{note['id']}/likes"} and note["liked"] is False

    favorited = await acted(bob, "favorite", image)
    assert favorited["content"] == "bob favorited Heron"
    assert favorited["object"]["likes"] == {"totalItems": 1, "url": f"{image['id']}/likes"}
    assert favorited["object"]["liked"] is True
    liked = await acted(bob, "like", comment)
    assert liked["object"]["likes"]["totalItems"] == 1 and liked["content"] == "bob favorited a comment"
    await acted(bob, "favorite", note)

    # Each reader sees the count, and whether they are among it.
    for pump, mine in ((alice, False), (bob, True)):
        for obj in (image, comment, note):
            seen = await pump.get(path_of(obj["id"]))
            assert seen.status == 200
            assert seen.json["likes"] == {"totalItems": 1, "url": f"{obj['id']}/likes"}
            assert seen.json["liked"] is mine, (pump.user, obj["objectType"])
            assert seen.json["shares"] == {"totalItems": 0, "url": f"{obj['id']}/shares"}
            likers = await pump.get(seen.json["likes"]["url"])
            assert likers.status == 200 and likers.json["totalItems"] == 1
            assert [p["id"] for p in likers.json["items"]] == [f"acct:bob@{host_of(server)}"]
    # The image as its comment shows it counts too.
    shown = (await bob.get(path_of(comment["id"]))).json["inReplyTo"]
    assert shown["likes"]["totalItems"] == 1 and shown["liked"] is True

    favorites = await alice.get("/api/user/bob/favorites")
    assert favorites.status == 200 and favorites.json["totalItems"] == 3
    assert [o["id"] for o in favorites.json["items"]] == [note["id"], comment["id"], image["id"]]
    assert [o["liked"] for o in favorites.json["items"]] == [False, False, False]
    assert (await bob.get("/api/user/bob/favorites")).json["items"][0]["liked"] is True

    # The owner hears of each favorite directly; bob's outbox holds them.
    direct = await alice.get("/api/user/alice/inbox/direct")
    assert [a["verb"] for a in direct.json["items"]][:3] == ["favorite", "favorite", "favorite"]
    assert direct.json["items"][2]["id"] == favorited["id"]
    outbox = await bob.get("/api/user/bob/feed")
    assert [a["id"] for a in outbox.json["items"]][2] == favorited["id"]

    unliked = await acted(bob, "unlike", image)
    assert unliked["content"] == "bob unfavorited Heron" and unliked["object"]["likes"]["totalItems"] == 0
    assert unliked["object"]["liked"] is False
    assert (await alice.get(f"{image['id']}/likes")).json == {
        "displayName": f"People who favorited {image['id']}", "objectTypes": ["person"], "url": f"{image['id']}/likes",
        "links": {"first": {"href": f"{image['id']}/likes?count=20"},
                  "self": {"href": f"{image['id']}/likes?count=20"}},
        "items": [], "totalItems": 0}
    # Favorited again after taking it back: a new activity, not the first one again.
    again = await acted(bob, "favorite", image)
    assert again["id"] != favorited["id"]
    assert (await bob.get("/api/user/bob/favorites")).json["items"][0]["id"] == image["id"]


async def test_every_refused_reaction(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path)
    unposted = (await alice.upload(jpeg(tmp_path, seed=5))).json
    await acted(bob, "favorite", image)
    await acted(bob, "share", image)
    feed = "/api/user/bob/feed"
    cases = [
        ({"verb": "favorite", "object": {"id": image["id"], "objectType": "image"}}, 400, "Already favorited."),
        ({"verb": "like", "object": {"id": image["id"], "objectType": "image"}}, 400, "Already favorited."),
        ({"verb": "share", "object": {"id": image["id"], "objectType": "image"}}, 400, "Already shared."),
        ({"verb": "favorite", "object": {"id": f"{server.url}/api/image/nope", "objectType": "image"}}, 404,
         "No such image"),
        ({"verb": "favorite", "object": {"id": image["id"], "objectType": "video"}}, 404, "No such image"),
        ({"verb": "share", "object": {"id": "https://elsewhere.example/api/image/1", "objectType": "image"}}, 404,
         "No such image"),
        # Someone else's upload nobody posted is as absent as any image.
        ({"verb": "favorite", "object": {"id": unposted["id"], "objectType": "image"}}, 404, "No such image"),
        ({"verb": "favorite", "object": {"id": f"{server.url}/api/note/123", "objectType": "note"}}, 404,
         "No such note"),
        ({"verb": "unlike", "object": {"id": f"{server.url}/api/comment/123", "objectType": "comment"}}, 404,
         "No such comment"),
        ({"verb": "favorite", "object": {"objectType": "image"}}, 400, "Object ID has not been specified."),
        ({"verb": "favorite", "object": {"id": f"acct:alice@{host_of(server)}", "objectType": "person"}}, 400,
         "Cannot favorite a person."),
    ]
    for body, status, message in cases:
        answer = await bob.post(feed, body)
        assert (answer.status, answer.json) == (status, {"error": message}), body
    for verb, message in (("unfavorite", "Not favorited."), ("unshare", "Not shared.")):
        answer = await alice.activity(verb, {"id": image["id"], "objectType": "image"})
        assert (answer.status, answer.json) == (400, {"error": message})
    own = await alice.activity("favorite", {"id": unposted["id"], "objectType": "image"})
    assert (own.status, own.json) == (400, {"error": "Only posted images can be favorited."})
    own = await alice.activity("share", {"id": unposted["id"], "objectType": "image"})
    assert (own.status, own.json) == (400, {"error": "Only posted images can be shared."})
    for path in ("/api/image/nope/likes", "/api/note/nope/shares", "/api/comment/nope/likes"):
        answer = await bob.get(path)
        assert answer.status == 404 and "error" in answer.json
    assert (await bob.get(f"{path_of(unposted['id'])}/likes")).status == 404
    assert (await bob.get(f"{path_of(image['id'])}/likes", count=201)).json == {
        "error": "Count must be between 0 and 200"}
    assert (await bob.get("/api/user/nobody/favorites")).status == 404
    # Nothing refused reached the log: one favorite and one share.
    outbox = await bob.get(feed)
    assert [a["verb"] for a in outbox.json["items"]] == ["share", "favorite"]


async def test_likes_page_to_the_end_newest_first(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = await posted_image(alice, tmp_path)
    fans = [await login(server, f"fan{n}") for n in range(5)]
    for fan in fans:
        await acted(fan, "favorite", image)
    pages = await walk(alice, f"{image['id']}/likes?count=2", "next")
    assert [len(p) for p in pages] == [2, 2, 1]
    host = host_of(server)
    assert [i for p in pages for i in p] == [f"acct:{fan.user}@{host}" for fan in reversed(fans)]
    first = await alice.get(f"{image['id']}/likes", count=2)
    assert first.json["totalItems"] == 5
    # Her own favorites, paged the same way.
    images = [await posted_image(fans[0], tmp_path, seed=n) for n in range(1, 4)]
    for obj in images:
        await acted(alice, "favorite", obj)
    assert await every(alice, f"{server.url}/api/user/alice/favorites?count=2") == [o["id"] for o in images[::-1]]


async def test_shares_reach_the_sharers_followers(server: Running, tmp_path: Path) -> None:
    alice, bob, carol = await login(server, "alice"), await login(server, "bob"), await login(server, "carol")
    await acted(carol, "follow", {"id": f"acct:bob@{host_of(server)}", "objectType": "person"})
    image = await posted_image(alice, tmp_path, displayName="Heron")
    shared = await acted(bob, "share", image)
    assert shared["content"] == "bob shared Heron"
    assert shared["object"]["pump_io"] == {"shared": True}
    assert shared["object"]["shares"] == {"totalItems": 1, "url": f"{image['id']}/shares"}
    assert (await alice.get(path_of(image["id"]))).json["pump_io"] == {"shared": False}
    assert (await bob.get(path_of(image["id"]))).json["pump_io"] == {"shared": True}
    sharers = await carol.get(f"{image['id']}/shares")
    assert sharers.json["totalItems"] == 1 and [p["preferredUsername"] for p in sharers.json["items"]] == ["bob"]

    # A share is a major activity: in bob's outbox, carol's inbox, and alice's direct inbox.
    assert shared["id"] in await every(bob, f"{server.url}/api/user/bob/feed/major")
    assert shared["id"] in await inbox_ids(carol)
    assert shared["id"] in await inbox_ids(carol, "inbox/major")
    assert shared["id"] in await inbox_ids(alice, "inbox/direct")
    # carol sees whether she shared it herself: she did not.
    item = next(a for a in (await carol.get("/api/user/carol/inbox")).json["items"] if a["id"] == shared["id"])
    assert item["object"]["pump_io"] == {"shared": False} and item["object"]["shares"]["totalItems"] == 1

    # pump.io lets a person share their own object; so does this server.
    own = await acted(alice, "share", image)
    assert own["object"]["shares"]["totalItems"] == 2
    unshared = await acted(bob, "unshare", image)
    assert unshared["content"] == "bob unshared Heron"
    assert unshared["object"]["shares"]["totalItems"] == 1 and unshared["object"]["pump_io"]["shared"] is False
    assert unshared["id"] in await inbox_ids(carol)
    assert [p["preferredUsername"] for p in (await carol.get(f"{image['id']}/shares")).json["items"]] == ["alice"]


async def test_follows_fill_the_inbox_from_then_on(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    host = host_of(server)
    before = await posted_image(alice, tmp_path, seed=1)
    followed = await acted(bob, "follow", {"id": f"acct:alice@{host}", "objectType": "person"})
    assert followed["content"] == "bob followed alice"
    assert followed["object"]["id"] == f"acct:alice@{host}"
    # The profile URL names a person as well.
    back = await acted(alice, "follow", {"id": f"{server.url}/api/user/bob/profile", "objectType": "person"})
    after = await posted_image(alice, tmp_path, seed=2)

    posts = [a for a in (await bob.get("/api/user/bob/inbox", count=50)).json["items"] if a["verb"] == "post"]
    # What alice posts from the follow on reaches bob; what she posted before does not.
    assert [a["object"]["id"] for a in posts] == [after["id"]]
    assert before["id"] not in [a["object"]["id"] for a in posts]
    assert followed["id"] in await inbox_ids(alice, "inbox/direct")
    assert back["id"] in await inbox_ids(bob, "inbox/direct")

    profile = (await bob.get("/api/user/alice/profile")).json
    for name in ("followers", "following", "favorites"):
        assert profile[name] == {"url": f"{server.url}/api/user/alice/{name}"}
    followers = await bob.get(profile["followers"]["url"])
    assert followers.status == 200 and followers.json["totalItems"] == 1
    assert [p["id"] for p in followers.json["items"]] == [f"acct:bob@{host}"]
    assert followers.json["author"]["preferredUsername"] == "alice"
    following = await bob.get(profile["following"]["url"])
    assert [p["preferredUsername"] for p in following.json["items"]] == ["bob"]

    stopped = await acted(bob, "stop-following", {"id": f"acct:alice@{host}", "objectType": "person"})
    assert stopped["content"] == "bob stopped following alice"
    assert (await bob.get("/api/user/alice/followers")).json["totalItems"] == 0
    await posted_image(alice, tmp_path, seed=3)
    posts = [a for a in (await bob.get("/api/user/bob/inbox", count=50)).json["items"] if a["verb"] == "post"]
    assert [a["object"]["id"] for a in posts] == [after["id"]]


async def test_followers_and_following_page_to_the_end(server: Running) -> None:
    alice = await login(server, "alice")
    host = host_of(server)
    fans = [await login(server, f"fan{n}") for n in range(5)]
    for fan in fans:
        await acted(fan, "follow", {"id": f"acct:alice@{host}", "objectType": "person"})
        await acted(alice, "follow", {"id": f"acct:{fan.user}@{host}", "objectType": "person"})
    newest_first = [f"acct:{fan.user}@{host}" for fan in reversed(fans)]
    for name in ("followers", "following"):
        pages = await walk(alice, f"{server.url}/api/user/alice/{name}?count=2", "next")
        assert [len(p) for p in pages] == [2, 2, 1], name
        assert [i for p in pages for i in p] == newest_first
        assert (await alice.get(f"/api/user/alice/{name}")).json["totalItems"] == 5
    assert (await alice.get("/api/user/fan0/following")).json["totalItems"] == 1


async def test_every_refused_follow(server: Running) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    host = host_of(server)
    await acted(bob, "follow", {"id": f"acct:alice@{host}", "objectType": "person"})
    cases = [
        ({"id": f"acct:bob@{host}"}, "follow", 400, "You cannot follow yourself."),
        ({"id": f"acct:alice@{host}"}, "follow", 400, "Already following."),
        ({"id": f"{server.url}/api/user/alice/profile"}, "follow", 400, "Already following."),
        ({"id": f"acct:nobody@{host}"}, "follow", 404, "No such user: nobody"),
        ({"id": f"{server.url}/api/user/nobody/profile"}, "stop-following", 404, "No such user: nobody"),
        ({"id": "acct:alice@elsewhere.example"}, "follow", 400,
         "Only people on this server can be followed: it does not federate."),
        ({"id": "https://elsewhere.example/api/user/alice/profile"}, "follow", 400,
         "Only people on this server can be followed: it does not federate."),
        ({"id": "alice"}, "follow", 400, "The person's id must be acct:<user>@<host> or their profile URL."),
        ({"id": f"{server.url}/api/user/alice/feed"}, "follow", 400,
         "The person's id must be acct:<user>@<host> or their profile URL."),
        ({"id": 7}, "follow", 400, "The person's id must be acct:<user>@<host> or their profile URL."),
        ({}, "follow", 400, "Object ID has not been specified."),
        ({"id": f"acct:bob@{host}"}, "stop-following", 400, "Not following."),
    ]
    for obj, verb, status, message in cases:
        answer = await bob.activity(verb, {"objectType": "person", **obj})
        assert (answer.status, answer.json) == (status, {"error": message}), obj
    answer = await bob.activity("follow", {"objectType": "image", "id": f"{server.url}/api/image/1"})
    assert (answer.status, answer.json) == (400, {"error": "Only people can be followed."})
    answer = await alice.activity("stop-following", {"objectType": "person", "id": f"acct:bob@{host}"})
    assert (answer.status, answer.json) == (400, {"error": "Not following."})
    assert (await bob.get("/api/user/nobody/followers")).status == 404
    assert (await bob.get("/api/user/alice/following", offset=-1)).status == 400
    assert [a["verb"] for a in (await bob.get("/api/user/bob/feed")).json["items"]] == ["follow"]


async def test_racing_duplicate_reactions_and_follows_land_once(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path)
    obj = {"id": image["id"], "objectType": "image"}
    person = {"id": f"acct:alice@{host_of(server)}", "objectType": "person"}
    for verb, target in (("favorite", obj), ("share", obj), ("follow", person), ("unfavorite", obj)):
        answers = await asyncio.gather(*(bob.activity(verb, target) for _ in range(4)))
        assert {a.status for a in answers} <= {200, 400}, [a.json for a in answers]
        # Whichever raced past the checks got the one activity the log kept; the rest were refused.
        accepted = {a.json["id"] for a in answers if a.status == 200}
        assert len(accepted) == 1, verb
    assert (await bob.get(f"{image['id']}/likes")).json["totalItems"] == 0
    assert (await bob.get(f"{image['id']}/shares")).json["totalItems"] == 1
    assert (await bob.get("/api/user/alice/followers")).json["totalItems"] == 1
    verbs = [a["verb"] for a in (await bob.get("/api/user/bob/feed")).json["items"]]
    assert verbs == ["unfavorite", "follow", "share", "favorite"]


async def test_likes_shares_and_follows_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path,
                                                                   tmp_path: Path) -> None:
    # One port for both starts: every URL in the JSON carries it.
    config = make_config(nats_url, data_dir, port=free_port())
    first = await start(config)
    alice, bob = await login(first, "alice"), await login(first, "bob")
    host = host_of(first)
    image = await posted_image(alice, tmp_path, displayName="Heron")
    await acted(bob, "follow", {"id": f"acct:alice@{host}", "objectType": "person"})
    await acted(alice, "follow", {"id": f"acct:bob@{host}", "objectType": "person"})
    await acted(bob, "favorite", image)
    await acted(bob, "share", image)
    await acted(alice, "like", image)
    await acted(alice, "unlike", image)
    said = await bob.activity("post", {"objectType": "comment", "content": "Lovely!", "inReplyTo": image})
    await acted(alice, "favorite", said.json["object"])
    paths = [f"/api/image/{local(image['id'])}", f"/api/image/{local(image['id'])}/likes",
             f"/api/image/{local(image['id'])}/shares", "/api/user/alice/followers", "/api/user/alice/following",
             "/api/user/bob/favorites", "/api/user/alice/favorites", "/api/user/alice/inbox",
             "/api/user/alice/inbox/direct", "/api/user/bob/feed", f"/api/comment/{local(said.json['object']['id'])}"]
    readers = (alice, bob)
    before = [(await pump.get(path)).json for path in paths for pump in readers]
    assert before[0]["likes"]["totalItems"] == 1 and (before[0]["liked"], before[1]["liked"]) == (False, True)
    second = (await rebuilt(first, config)).running
    try:
        after = [(await Pump(second.url, pump.user, pump.auth).get(path)).json for path in paths for pump in readers]
    finally:
        await second.server.stop()
    assert after == before
