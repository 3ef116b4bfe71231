"""PyPump 0.7, unmodified, following against a real server over loopback HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from pypump import Client, PyPump
from pypump.store import DummyStore

from tests.pumpclient import register_client, walk
from tests.servers import Running
from tests.test_pumpio_feed import login, posted_image


def pypump(server: Running, user: str, client: tuple[str, str], token: tuple[str, str]) -> PyPump:
    """PyPump signed in with tokens from the real OAuth flow; it tries https first and falls back to http."""
    host = urlsplit(server.url).netloc
    store = DummyStore({"client-key": client[0], "client-secret": client[1], "client-expirey": 0,
                        "oauth-access-token": token[0], "oauth-access-secret": token[1]})
    return PyPump(client=Client(webfinger=f"{user}@{host}", type="native", name="PyPump"),
                  verifier_callback=lambda url: "", store=store, verify_requests=False)


async def test_pypump_follows_and_reads_followers_and_following(server: Running, tmp_path: Path) -> None:
    bob = await login(server, "bob")
    await posted_image(bob, tmp_path)
    await login(server, "alice")
    client = await register_client(server.url, application_name="PyPump")
    token = await asyncio.to_thread(walk, server.url, client, "alice", "alice-password")
    host = urlsplit(server.url).netloc

    def drive() -> tuple[list[str], list[str]]:
        pump = pypump(server, "alice", client, token)
        person = pump.Person(f"bob@{host}")
        person.follow()
        following = [p.id for p in pump.me.following]
        followers = [p.id for p in person.followers]
        person.unfollow()
        return following, followers

    following, followers = await asyncio.to_thread(drive)
    assert following == [f"acct:bob@{host}"]
    assert followers == [f"acct:alice@{host}"]
    assert (await bob.get("/api/user/bob/followers")).json["totalItems"] == 0
    assert [a["verb"] for a in (await bob.get("/api/user/alice/feed")).json["items"]] == ["stop-following", "follow"]


async def test_pypump_favorites_and_shares_an_image_it_found_in_an_outbox(server: Running, tmp_path: Path) -> None:
    bob = await login(server, "bob")
    image = await posted_image(bob, tmp_path)
    await login(server, "alice")
    client = await register_client(server.url, application_name="PyPump")
    token = await asyncio.to_thread(walk, server.url, client, "alice", "alice-password")
    host = urlsplit(server.url).netloc

    def drive() -> tuple[str, list[str], list[str], list[str]]:
        pump = pypump(server, "alice", client, token)
        found = next(iter(pump.Person(f"bob@{host}").outbox)).obj
        found.like()
        found.share()
        likers = [p.id for p in found.likes]
        sharers = [p.id for p in found.shares]
        found.unlike()
        favorites = [o.id for o in pump.me.favorites]
        return found.id, likers, sharers, favorites

    found, likers, sharers, favorites = await asyncio.to_thread(drive)
    assert found == image["id"]
    assert likers == sharers == [f"acct:alice@{host}"]
    assert favorites == []
    verbs = [a["verb"] for a in (await bob.get("/api/user/bob/inbox/direct")).json["items"]]
    assert verbs == ["unfavorite", "share", "favorite"]
    seen = (await bob.get(image["id"].removeprefix(server.url))).json
    assert (seen["likes"]["totalItems"], seen["shares"]["totalItems"]) == (0, 1)
