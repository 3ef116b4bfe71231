"""Mastodon favourites, reblogs and follows, made by Mastodon.py unmodified over real HTTP and a real broker,
and the same favorites, shares and follows as pump.io shows and makes them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from mastodon import Mastodon

from core.events import Followed, Reacted
from tests.outage import free_port
from tests.servers import Running, bearer, make_config, rebuilt, start
from tests.test_pumpio_feed import login
from tests.test_pumpio_social import acted, host_of, inbox_ids


def client(server: Running, token: str) -> Mastodon:
    return Mastodon(access_token=token, api_base_url=server.url, request_timeout=30)


async def call(http: aiohttp.ClientSession, server: Running, method: str, path: str, token: str | None,
               **params: Any) -> tuple[int, Any]:
    headers = bearer(token) if token else {}
    sent = {"data": params} if method == "POST" else {"params": params or None}
    async with http.request(method, f"{server.url}{path}", headers=headers, **sent) as answer:
        return answer.status, await answer.json()


async def test_favourite_and_reblog_through_mastodon_py(server: Running) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")

    def flow() -> dict[str, Any]:
        author, reader = client(server, alice), client(server, bob)
        status = author.status_post("Herons at dawn")
        first = reader.status_favourite(status["id"])
        # Favouriting again is no error, and changes nothing.
        again = reader.status_favourite(status["id"])
        seen = author.status(status["id"])
        by = reader.status_favourited_by(status["id"])
        mine = reader.favourites()
        boosted = reader.status_reblog(status["id"])
        boosted_again = reader.status_reblog(status["id"])
        reblogged_by = author.status_reblogged_by(status["id"])
        counted = reader.status(status["id"])
        unfavourited = reader.status_unfavourite(status["id"])
        unfavourited_again = reader.status_unfavourite(status["id"])
        unboosted = reader.status_unreblog(status["id"])
        return {"status": status, "first": first, "again": again, "seen": seen, "by": by, "mine": mine,
                "boosted": boosted, "boosted_again": boosted_again, "reblogged_by": reblogged_by,
                "counted": counted, "unfavourited": unfavourited, "unfavourited_again": unfavourited_again,
                "unboosted": unboosted, "after": author.status(status["id"]), "mine_after": reader.favourites(),
                "bob": reader.me()}

    got = await asyncio.to_thread(flow)
    status_id = got["status"]["id"]
    for answer in (got["first"], got["again"]):
        assert answer["id"] == status_id and answer["favourited"] is True and answer["favourites_count"] == 1
    assert got["seen"]["favourites_count"] == 1 and got["seen"]["favourited"] is False
    assert [a["username"] for a in got["by"]] == ["bob"]
    assert [s["id"] for s in got["mine"]] == [status_id] and got["mine"][0]["favourited"] is True
    boosted = got["boosted"]
    assert boosted["reblog"]["id"] == status_id and boosted["reblog"]["reblogged"] is True
    assert boosted["reblog"]["reblogs_count"] == 1 and boosted["account"]["username"] == "bob"
    assert boosted["id"] != status_id and boosted["id"].isdigit() and boosted["content"] == ""
    assert got["boosted_again"]["id"] == boosted["id"]
    assert [a["username"] for a in got["reblogged_by"]] == ["bob"]
    assert (got["counted"]["favourites_count"], got["counted"]["reblogs_count"]) == (1, 1)
    assert got["counted"]["favourited"] is True and got["counted"]["reblogged"] is True
    for answer in (got["unfavourited"], got["unfavourited_again"]):
        assert answer["id"] == status_id and answer["favourited"] is False and answer["favourites_count"] == 0
    assert got["unboosted"]["reblogged"] is False and got["unboosted"]["reblogs_count"] == 0
    assert (got["after"]["favourites_count"], got["after"]["reblogs_count"]) == (0, 0)
    assert got["mine_after"] == []
    # Each change is one event; the repeats made none.
    events = [r.event async for r in server.events.read(1, follow=False)]
    reactions = [e for e in events if isinstance(e, Reacted)]
    assert [(e.kind, e.object_type, e.object_id, e.via) for e in reactions] == [
        ("favorite", "note", status_id, "mastodon"), ("share", "note", status_id, "mastodon")]
    assert len([e for e in events if type(e).__name__ == "Unreacted"]) == 2


async def test_follow_relationships_and_the_home_timeline(server: Running) -> None:
    alice, bob, carol = [await server.token(u) for u in ("alice", "bob", "carol")]

    def flow() -> dict[str, Any]:
        a, b, c = client(server, alice), client(server, bob), client(server, carol)
        me_a, me_b, me_c = a.me(), b.me(), c.me()
        public = a.status_post("public", visibility="public")
        private = a.status_post("followers only", visibility="private")
        a.status_post("direct", visibility="direct")
        own = b.status_post("bob's own", visibility="private")
        home_before = b.timeline_home()
        followed = b.account_follow(me_a["id"])
        followed_again = b.account_follow(me_a["id"])
        c.account_follow(me_a["id"])
        newer = a.status_post("after the follow", visibility="unlisted")
        home = b.timeline_home()
        first_page = b.timeline_home(limit=2)
        rest = b.fetch_next(first_page)
        relationships = b.account_relationships([me_a["id"], me_c["id"]])
        reverse = a.account_relationships(me_b["id"])
        followers = a.account_followers(me_a["id"], limit=1)
        followers_next = a.fetch_next(followers)
        following = b.account_following(me_b["id"])
        private_seen = b.status(private["id"])
        alice_statuses = b.account_statuses(me_a["id"])
        account = b.account(me_a["id"])
        unfollowed = b.account_unfollow(me_a["id"])
        unfollowed_again = b.account_unfollow(me_a["id"])
        return {"me_a": me_a, "me_b": me_b, "me_c": me_c, "public": public, "private": private, "own": own,
                "home_before": home_before, "followed": followed, "followed_again": followed_again,
                "newer": newer, "home": home, "first_page": first_page, "rest": rest,
                "relationships": relationships, "reverse": reverse, "followers": followers,
                "followers_next": followers_next, "following": following, "private_seen": private_seen,
                "alice_statuses": alice_statuses, "account": account, "unfollowed": unfollowed,
                "unfollowed_again": unfollowed_again, "home_after": b.timeline_home(),
                "followers_after": a.account_followers(me_a["id"])}

    got = await asyncio.to_thread(flow)
    ids = {name: got[name]["id"] for name in ("public", "private", "own", "newer")}
    assert [s["id"] for s in got["home_before"]] == [ids["own"]]
    for answer in (got["followed"], got["followed_again"]):
        assert answer["id"] == got["me_a"]["id"] and answer["following"] is True and answer["followed_by"] is False
        assert answer["requested"] is False and answer["blocking"] is False
    # The direct status mentions nobody, so only its author sees it.
    assert [s["id"] for s in got["home"]] == [ids["newer"], ids["own"], ids["private"], ids["public"]]
    assert [s["id"] for s in got["first_page"] + got["rest"]] == [s["id"] for s in got["home"]]
    assert [(r["id"], r["following"]) for r in got["relationships"]] == [(got["me_a"]["id"], True),
                                                                         (got["me_c"]["id"], False)]
    assert [(r["following"], r["followed_by"]) for r in got["reverse"]] == [(False, True)]
    assert [x["username"] for x in got["followers"]] == ["carol"]
    assert [x["username"] for x in got["followers_next"]] == ["bob"]
    assert [x["username"] for x in got["following"]] == ["alice"]
    assert got["private_seen"]["content"] == "<p>followers only</p>"
    assert [s["id"] for s in got["alice_statuses"]] == [ids["newer"], ids["private"], ids["public"]]
    assert (got["account"]["followers_count"], got["account"]["following_count"]) == (2, 0)
    for answer in (got["unfollowed"], got["unfollowed_again"]):
        assert answer["following"] is False
    assert [s["id"] for s in got["home_after"]] == [ids["own"]]
    assert [x["username"] for x in got["followers_after"]] == ["carol"]


async def test_every_refusal_in_mastodon_shape(server: Running, http: aiohttp.ClientSession) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    reader_only = await server.token("bob", "read")
    base = {"alice": alice, "bob": bob}

    async def status(token: str, visibility: str) -> str:
        code, body = await call(http, server, "POST", "/api/v1/statuses", token, status="x", visibility=visibility)
        assert code == 200, body
        return str(body["id"])

    direct, private = await status(alice, "direct"), await status(alice, "private")
    public = await status(alice, "public")
    _, me_a = await call(http, server, "GET", "/api/v1/accounts/verify_credentials", alice)
    # Bob follows alice, so her private status is in his sight but still not his to reblog.
    code, _ = await call(http, server, "POST", f"/api/v1/accounts/{me_a['id']}/follow", bob)
    assert code == 200
    refusals = [
        ("bob", "POST", "/api/v1/statuses/123/favourite", 404, "Record not found"),
        ("bob", "POST", "/api/v1/statuses/123/unfavourite", 404, "Record not found"),
        ("bob", "POST", "/api/v1/statuses/123/reblog", 404, "Record not found"),
        ("bob", "POST", "/api/v1/statuses/123/unreblog", 404, "Record not found"),
        ("bob", "POST", f"/api/v1/statuses/{direct}/favourite", 404, "Record not found"),
        ("bob", "POST", f"/api/v1/statuses/{direct}/reblog", 404, "Record not found"),
        ("bob", "GET", f"/api/v1/statuses/{direct}/favourited_by", 404, "Record not found"),
        ("bob", "GET", "/api/v1/statuses/123/reblogged_by", 404, "Record not found"),
        ("bob", "POST", f"/api/v1/statuses/{private}/reblog", 403, "This action is not allowed"),
        ("alice", "POST", f"/api/v1/statuses/{direct}/reblog", 403, "This action is not allowed"),
        ("alice", "POST", f"/api/v1/accounts/{me_a['id']}/follow", 403, "Following your own account is not allowed"),
        ("alice", "POST", "/api/v1/accounts/123/follow", 404, "Record not found"),
        ("alice", "POST", "/api/v1/accounts/123/unfollow", 404, "Record not found"),
        ("alice", "GET", "/api/v1/accounts/123/followers", 404, "Record not found"),
        ("alice", "GET", "/api/v1/accounts/123/following", 404, "Record not found"),
        ("reader", "POST", f"/api/v1/statuses/{public}/favourite", 403,
         "This action is outside the authorized scopes"),
        ("reader", "POST", f"/api/v1/statuses/{public}/reblog", 403, "This action is outside the authorized scopes"),
        ("reader", "POST", f"/api/v1/accounts/{me_a['id']}/follow", 403,
         "This action is outside the authorized scopes"),
        (None, "POST", f"/api/v1/statuses/{public}/favourite", 401, "The access token is invalid"),
        (None, "POST", f"/api/v1/accounts/{me_a['id']}/follow", 401, "The access token is invalid"),
        (None, "GET", "/api/v1/accounts/relationships", 401, "The access token is invalid"),
        (None, "GET", "/api/v1/favourites", 401, "The access token is invalid"),
    ]
    for who, method, path, status_code, message in refusals:
        token = reader_only if who == "reader" else base.get(who or "")
        code, body = await call(http, server, method, path, token)
        assert (code, body) == (status_code, {"error": message}), (who, method, path)
    # None of them changed anything; an own private status may be reblogged, as in Mastodon.
    code, body = await call(http, server, "POST", f"/api/v1/statuses/{private}/reblog", alice)
    assert code == 200 and body["reblog"]["id"] == private and body["visibility"] == "private"
    code, body = await call(http, server, "GET", f"/api/v1/statuses/{public}", bob)
    assert (body["favourites_count"], body["reblogs_count"]) == (0, 0)
    code, body = await call(http, server, "GET", "/api/v1/accounts/relationships", bob, **{"id[]": "123"})
    assert (code, body) == (200, [])


async def test_pumpio_and_mastodon_see_each_others_favorites_and_follows(server: Running,
                                                                        http: aiohttp.ClientSession) -> None:
    pump_alice, pump_bob, pump_carol = [await login(server, u) for u in ("alice", "bob", "carol")]
    alice, bob, carol = [await server.token(u) for u in ("alice", "bob", "carol")]
    host = host_of(server)
    _, status = await call(http, server, "POST", "/api/v1/statuses", alice, status="A heron")
    _, me_a = await call(http, server, "GET", "/api/v1/accounts/verify_credentials", alice)
    _, me_c = await call(http, server, "GET", "/api/v1/accounts/verify_credentials", carol)
    note = (await pump_bob.get(f"/api/note/{status['id']}")).json

    # pump.io's favorite and follow, seen through Mastodon.
    await acted(pump_bob, "favorite", note)
    await acted(pump_bob, "follow", {"id": f"acct:alice@{host}", "objectType": "person"})
    _, seen = await call(http, server, "GET", f"/api/v1/statuses/{status['id']}", bob)
    assert seen["favourites_count"] == 1 and seen["favourited"] is True
    _, by = await call(http, server, "GET", f"/api/v1/statuses/{status['id']}/favourited_by", alice)
    assert [a["username"] for a in by] == ["bob"]
    _, followers = await call(http, server, "GET", f"/api/v1/accounts/{me_a['id']}/followers", None)
    assert [a["username"] for a in followers] == ["bob"]
    _, favourites = await call(http, server, "GET", "/api/v1/favourites", bob)
    assert [s["id"] for s in favourites] == [status["id"]]
    # Mastodon's favourite of what pump.io favorited is the same one: no error, no second.
    code, again = await call(http, server, "POST", f"/api/v1/statuses/{status['id']}/favourite", bob)
    assert code == 200 and again["favourites_count"] == 1

    # Mastodon's favourite, reblog and follow, seen through pump.io.
    for path in (f"/api/v1/statuses/{status['id']}/favourite", f"/api/v1/statuses/{status['id']}/reblog",
                 f"/api/v1/accounts/{me_a['id']}/follow"):
        code, body = await call(http, server, "POST", path, carol)
        assert code == 200, body
    likes = (await pump_alice.get(f"{note['id']}/likes")).json
    assert likes["totalItems"] == 2
    assert [p["id"] for p in likes["items"]] == [f"acct:carol@{host}", f"acct:bob@{host}"]
    assert (await pump_alice.get(f"{note['id']}/shares")).json["totalItems"] == 1
    pump_followers = (await pump_alice.get("/api/user/alice/followers")).json
    assert [p["id"] for p in pump_followers["items"]] == [f"acct:carol@{host}", f"acct:bob@{host}"]
    assert [p["id"] for p in (await pump_carol.get("/api/user/carol/following")).json["items"]] == [
        f"acct:alice@{host}"]
    carol_feed = (await pump_carol.get("/api/user/carol/feed")).json["items"]
    assert [(a["verb"], a["object"]["id"]) for a in carol_feed] == [
        ("follow", f"acct:alice@{host}"), ("share", note["id"]), ("favorite", note["id"])]
    # The favourite reaches the author, and what alice posts after the follow reaches carol's inbox.
    assert carol_feed[2]["id"] in await inbox_ids(pump_alice)
    _, later = await call(http, server, "POST", "/api/v1/statuses", alice, status="Another heron")
    later_note = (await pump_carol.get(f"/api/note/{later['id']}")).json
    inbox = (await pump_carol.get("/api/user/carol/inbox")).json["items"]
    assert inbox[0]["verb"] == "post" and inbox[0]["object"]["id"] == later_note["id"]
    # Unfavourited through Mastodon, gone from pump.io; pump.io's own unfavorite of it is then refused.
    code, _ = await call(http, server, "POST", f"/api/v1/statuses/{status['id']}/unfavourite", bob)
    assert code == 200
    answer = await pump_bob.activity("unfavorite", {"id": note["id"], "objectType": "note"})
    assert (answer.status, answer.json) == (400, {"error": "Not favorited."})
    assert (await pump_alice.get(f"{note['id']}/likes")).json["totalItems"] == 1
    _, relationship = await call(http, server, "GET", "/api/v1/accounts/relationships", alice,
                                 **{"id[]": me_c["id"]})
    assert [(r["following"], r["followed_by"]) for r in relationship] == [(False, True)]


async def test_racing_duplicate_favourites_and_follows_land_once(server: Running,
                                                                 http: aiohttp.ClientSession) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    pump_bob = await login(server, "bob")
    _, status = await call(http, server, "POST", "/api/v1/statuses", alice, status="Race")
    _, me_a = await call(http, server, "GET", "/api/v1/accounts/verify_credentials", alice)
    note = (await pump_bob.get(f"/api/note/{status['id']}")).json
    # Mastodon and pump.io race each other as well as themselves.
    answers = await asyncio.gather(
        *(call(http, server, "POST", f"/api/v1/statuses/{status['id']}/favourite", bob) for _ in range(5)),
        *(call(http, server, "POST", f"/api/v1/accounts/{me_a['id']}/follow", bob) for _ in range(5)),
        pump_bob.activity("favorite", {"id": note["id"], "objectType": "note"}))
    assert all(code == 200 for code, _ in answers[:10]), answers
    events = [r.event async for r in server.events.read(1, follow=False)]
    assert len([e for e in events if isinstance(e, Reacted)]) == 1, events
    assert len([e for e in events if isinstance(e, Followed)]) == 1
    _, seen = await call(http, server, "GET", f"/api/v1/statuses/{status['id']}", bob)
    assert seen["favourites_count"] == 1
    _, account = await call(http, server, "GET", f"/api/v1/accounts/{me_a['id']}", bob)
    assert account["followers_count"] == 1


async def test_counts_and_lists_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path,
                                                            http: aiohttp.ClientSession) -> None:
    config = make_config(nats_url, data_dir, port=free_port())
    first = await start(config)
    alice, bob, carol = [await first.token(u) for u in ("alice", "bob", "carol")]
    _, me_a = await call(http, first, "GET", "/api/v1/accounts/verify_credentials", alice)
    _, me_b = await call(http, first, "GET", "/api/v1/accounts/verify_credentials", bob)
    _, public = await call(http, first, "POST", "/api/v1/statuses", alice, status="public")
    _, private = await call(http, first, "POST", "/api/v1/statuses", alice, status="private", visibility="private")
    for token, path in ((bob, f"/api/v1/statuses/{public['id']}/favourite"),
                        (carol, f"/api/v1/statuses/{public['id']}/favourite"),
                        (carol, f"/api/v1/statuses/{public['id']}/unfavourite"),
                        (bob, f"/api/v1/statuses/{public['id']}/reblog"),
                        (bob, f"/api/v1/accounts/{me_a['id']}/follow"),
                        (carol, f"/api/v1/accounts/{me_b['id']}/follow"),
                        (bob, f"/api/v1/statuses/{private['id']}/favourite")):
        code, body = await call(http, first, "POST", path, token)
        assert code == 200, (path, body)
    reads = [(bob, f"/api/v1/statuses/{public['id']}"), (alice, f"/api/v1/statuses/{public['id']}"),
             (bob, f"/api/v1/statuses/{private['id']}"), (bob, "/api/v1/timelines/home"),
             (bob, "/api/v1/favourites"), (alice, f"/api/v1/accounts/{me_a['id']}"),
             (alice, f"/api/v1/accounts/{me_b['id']}"), (None, f"/api/v1/accounts/{me_a['id']}/followers"),
             (None, f"/api/v1/accounts/{me_b['id']}/following"),
             (None, f"/api/v1/statuses/{public['id']}/reblogged_by"),
             (alice, "/api/v1/accounts/relationships?id[]=" + me_b["id"])]

    async def snapshot(running: Running) -> list[tuple[int, Any]]:
        return [await call(http, running, "GET", path, token) for token, path in reads]

    before = await snapshot(first)
    assert before[0][1]["favourites_count"] == 1 and before[0][1]["reblogs_count"] == 1
    assert before[5][1]["followers_count"] == 1 and before[6][1]["following_count"] == 1
    second = (await rebuilt(first, config)).running
    try:
        after = await snapshot(second)
    finally:
        await second.server.stop()
    assert after == before
