"""Statuses, accounts and timelines over real HTTP: refusals, encodings, paging, idempotency, other protocols."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pyvips

from core.events import ActivityPosted
from gateways.mastodon.errors import UNAVAILABLE
from gateways.registry import swept_vias
from mediaplex.sweeper import Sweeper, SweepSettings
from tests.outage import KillableBroker, free_port
from tests.servers import Running, Servers, make_config, rebuilt, start
from tests.test_posts import Answer, Api, api, media_row
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import login
from tests.test_reconnect import _is, eventually, readiness

DAY = 24 * 3600.0


async def status(alice: Api, text: str = "", media: list[str] | None = None, **fields: Any) -> Answer:
    return await alice.call("POST", "/api/v1/statuses", json={"status": text, "media_ids": media or [], **fields})


async def form_post(alice: Api, pairs: list[tuple[str, str]], headers: dict[str, str] | None = None) -> Answer:
    async with alice.http.post(f"{alice.server.url}/api/v1/statuses", data=pairs,
                               headers={**alice.headers(), **(headers or {})}) as response:
        return Answer(response.status, dict(response.headers), await response.json())


async def test_every_refusal_is_mastodons_and_writes_nothing(server: Running, http: aiohttp.ClientSession,
                                                             tmp_path: Path) -> None:
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    mine = [await alice.uploaded(tmp_path, seed=n) for n in range(5)]
    theirs = await bob.uploaded(tmp_path, seed=9)
    seq = await server.events.last_seq()
    cases = [
        (await status(alice, "   "), "Validation failed: Text can't be blank"),
        (await status(alice, "x" * 501), "Validation failed: Text character limit of 500 exceeded"),
        (await status(alice, "five", mine), "Cannot attach more than 4 files"),
        (await status(alice, "theirs", [theirs]), f"Validation failed: Media attachments {theirs} not found"),
        (await status(alice, "nothing", ["123"]), "Validation failed: Media attachments 123 not found"),
        (await status(alice, "where", visibility="everywhere"),
         "Validation failed: Visibility is not included in the list"),
    ]
    for answer, message in cases:
        assert (answer.status, answer.json) == (422, {"error": message})
    reply = await status(alice, "to nothing", in_reply_to_id="999")
    assert (reply.status, reply.json) == (404, {"error": "Record not found"})
    broken = await alice.call("POST", "/api/v1/statuses", data=b"{not json")
    assert (broken.status, broken.json) == (400, {"error": "Invalid JSON body"})
    assert await server.events.last_seq() == seq

    posted = await status(alice, "mine", [mine[0]])
    assert posted.status == 200
    twice = await status(alice, "again", [mine[0]])
    assert (twice.status, twice.json) == (
        422, {"error": f"Validation failed: Media attachments {mine[0]} are already attached to a status"})
    # Attached media is the status's: its own endpoints no longer find it, and it cannot be deleted.
    assert (await alice.call("GET", f"/api/v1/media/{mine[0]}")).status == 404
    assert (await alice.call("PUT", f"/api/v1/media/{mine[0]}", json={"description": "x"})).status == 404
    in_use = await alice.call("DELETE", f"/api/v1/media/{mine[0]}")
    assert (in_use.status, in_use.json) == (422, {"error": "Media attachment is currently used by a status"})

    reader = await api(server, http, "alice", "read")
    seq = await server.events.last_seq()
    status_id = posted.json["id"]
    for method, path in (("PUT", f"/api/v1/statuses/{status_id}"), ("DELETE", f"/api/v1/statuses/{status_id}"),
                         ("GET", f"/api/v1/statuses/{status_id}/source"),
                         ("GET", "/api/v1/statuses/1"), ("DELETE", "/api/v1/statuses/1"),
                         ("GET", "/api/v1/statuses/nope"), ("GET", "/api/v1/accounts/1"),
                         ("GET", "/api/v1/accounts/1/statuses"), ("GET", "/api/v1/accounts/lookup?acct=nobody")):
        answer = await (bob if method != "GET" or "source" in path else alice).call(
            method, path, json={"status": "hijacked"} if method == "PUT" else None)
        assert (answer.status, answer.json) == (404, {"error": "Record not found"}), (method, path)
    blank = await alice.call("PUT", f"/api/v1/statuses/{status_id}", json={"status": "", "media_ids": []})
    assert (blank.status, blank.json) == (422, {"error": "Validation failed: Text can't be blank"})
    no_token = await Api(http, server, None).call("POST", "/api/v1/statuses", json={"status": "hi"})
    assert (no_token.status, no_token.json) == (401, {"error": "The access token is invalid"})
    out_of_scope = await status(reader, "hi")
    assert (out_of_scope.status, out_of_scope.json) == (403, {"error": "This action is outside the authorized scopes"})
    assert await server.events.last_seq() == seq
    assert (await alice.call("GET", f"/api/v1/statuses/{status_id}")).json["content"] == "<p>mine</p>"


@pytest.mark.server(processor=False)
async def test_media_still_processing_cannot_be_attached(server: Running, http: aiohttp.ClientSession,
                                                         tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    pending = await alice.uploaded(tmp_path)
    answer = await status(alice, "too soon", [pending])
    assert (answer.status, answer.json) == (
        422, {"error": "Cannot attach files that have not finished processing. Try again in a moment!"})


async def test_form_encoding_idempotency_and_visibility(server: Running, http: aiohttp.ClientSession,
                                                        tmp_path: Path) -> None:
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    media = [await alice.uploaded(tmp_path, seed=n) for n in range(2)]
    pairs = [("status", "Two herons"), ("media_ids[]", media[0]), ("media_ids[]", media[1]), ("sensitive", "true"),
             ("visibility", "unlisted"), ("language", "de")]
    key = {"Idempotency-Key": "abc-1"}
    first = await form_post(alice, pairs, key)
    assert first.status == 200, first.json
    assert [m["id"] for m in first.json["media_attachments"]] == media
    assert (first.json["sensitive"], first.json["visibility"], first.json["language"]) == (True, "unlisted", "de")
    seq = await server.events.last_seq()
    again = await form_post(alice, pairs, key)
    assert (again.status, again.json) == (200, first.json)
    changed = await form_post(alice, [("status", "Other text")], key)
    assert (changed.status, changed.json) == (
        422, {"error": "Validation failed: Idempotency-Key was already used for another status"})
    # Keys are the caller's own: bob's same key makes his own status.
    assert (await form_post(bob, [("status", "Bob's")], key)).status == 200
    assert await server.events.last_seq() == seq + 1

    private = await status(alice, "Just for me", visibility="private")
    assert private.status == 200
    shown = await bob.call("GET", f"/api/v1/statuses/{private.json['id']}")
    assert (shown.status, shown.json) == (404, {"error": "Record not found"})
    assert (await alice.call("GET", f"/api/v1/statuses/{private.json['id']}")).status == 200
    public = (await Api(http, server, None).call("GET", "/api/v1/timelines/public")).json
    assert [s["account"]["username"] for s in public] == ["bob"]
    home = (await alice.call("GET", "/api/v1/timelines/home")).json
    assert [s["id"] for s in home] == [private.json["id"], first.json["id"]]
    account_id = first.json["account"]["id"]
    by_bob = (await bob.call("GET", f"/api/v1/accounts/{account_id}/statuses")).json
    assert [s["id"] for s in by_bob] == [first.json["id"]]
    assert (await bob.call("GET", f"/api/v1/accounts/{account_id}")).json["statuses_count"] == 1
    assert (await alice.call("GET", "/api/v1/accounts/verify_credentials")).json["statuses_count"] == 2


async def test_timelines_page_by_id_with_link_headers(server: Running, http: aiohttp.ClientSession,
                                                      tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    ids = [(await status(alice, f"post {n}")).json["id"] for n in range(5)]
    assert ids == sorted(ids, key=int)
    anonymous = Api(http, server, None)
    page = await anonymous.call("GET", "/api/v1/timelines/public?limit=2")
    assert [s["id"] for s in page.json] == ids[:2:-1][:2] == [ids[4], ids[3]]
    link = page.headers["Link"]
    assert f"max_id={ids[3]}" in link and 'rel="next"' in link and f"min_id={ids[4]}" in link
    older = await anonymous.call("GET", f"/api/v1/timelines/public?limit=2&max_id={ids[3]}")
    assert [s["id"] for s in older.json] == [ids[2], ids[1]]
    newer = await anonymous.call("GET", f"/api/v1/timelines/public?limit=2&min_id={ids[1]}")
    assert [s["id"] for s in newer.json] == [ids[3], ids[2]]
    since = await anonymous.call("GET", f"/api/v1/timelines/public?limit=2&since_id={ids[1]}")
    assert [s["id"] for s in since.json] == [ids[4], ids[3]]
    account = page.json[0]["account"]["id"]
    mine = await anonymous.call("GET", f"/api/v1/accounts/{account}/statuses?limit=1&max_id={ids[1]}")
    assert [s["id"] for s in mine.json] == [ids[0]]
    assert (await anonymous.call("GET", f"/api/v1/accounts/{account}/statuses?pinned=true")).json == []
    # Replies name the status and the account they reply to; `exclude_replies` leaves them out.
    bob = await api(server, http, "bob")
    reply = await status(bob, "Nice", in_reply_to_id=ids[0])
    assert (reply.json["in_reply_to_id"], reply.json["in_reply_to_account_id"]) == (ids[0], account)
    bobs = reply.json["account"]["id"]
    assert (await anonymous.call("GET", f"/api/v1/accounts/{bobs}/statuses?exclude_replies=true")).json == []
    local = await anonymous.call("GET", "/api/v1/timelines/public?local=true&limit=1")
    assert [s["id"] for s in local.json] == [reply.json["id"]]
    assert (await anonymous.call("GET", "/api/v1/timelines/public?remote=true")).json == []
    # Ids and limits that are not numbers bound nothing, as Mastodon ignores them.
    odd = await anonymous.call("GET", "/api/v1/timelines/public?max_id=abc&limit=-5&since_id=" + "9" * 400)
    assert odd.status == 200 and len(odd.json) == 6
    last = await anonymous.call("GET", f"/api/v1/timelines/public?max_id={ids[0]}")
    assert (last.json, "Link" in last.headers) == ([], False)
    # The default avatar resolves to an image.
    async with http.get(page.json[0]["account"]["avatar"]) as response:
        assert response.status == 200
        image = pyvips.Image.new_from_buffer(await response.read(), "")
        assert image.width == image.height == 120
    # A profile picture set through /identity/current is the account's avatar.
    picture = await alice.uploaded(tmp_path, seed=7)
    assert (await alice.call("PUT", "/identity/current", json={"avatarId": picture})).status == 200
    avatar = (await anonymous.call("GET", f"/api/v1/accounts/{account}")).json["avatar"]
    assert picture in avatar or "/media/" in avatar
    async with http.get(avatar) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"


async def test_a_status_is_a_pumpio_note_and_a_post_and_deletes_everywhere(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    pump = await login(server, "alice")
    alice = await api(server, http, "alice")
    media = await alice.uploaded(tmp_path, seed=1)
    posted = (await status(alice, "Herons & <egrets>", [media])).json

    outbox = (await pump.get("/api/user/alice/feed")).json
    activity = outbox["items"][0]
    note = activity["object"]
    # A status is plain text; pump.io's content is HTML, so the text shows escaped there.
    assert (activity["verb"], note["objectType"], note["content"]) == ("post", "note",
                                                                       "<p>Herons &amp; &lt;egrets&gt;</p>")
    assert note["id"] == f"{server.url}/api/note/{posted['id']}"
    assert [local(image["id"]) for image in note["attachments"]] == [media]
    through_posts = await alice.call("GET", f"/posts/{posted['id']}")
    assert through_posts.status == 200 and through_posts.json["body"] == "Herons & <egrets>"
    assert through_posts.json["attachmentIds"] == [media]

    # A post through /posts reads as a status, and an edit shows on every side.
    other = await alice.uploaded(tmp_path, seed=2)
    made = (await alice.post("Through posts", [other])).json
    read = await alice.call("GET", f"/api/v1/statuses/{made['id']}")
    assert read.status == 200 and read.json["content"] == "<p>Through posts</p>"
    assert [m["id"] for m in read.json["media_attachments"]] == [other]
    edited = await alice.call("PUT", f"/api/v1/statuses/{posted['id']}", json={"status": "Only herons"})
    assert edited.status == 200
    assert (await pump.get(f"/api/note/{posted['id']}")).json["content"] == "<p>Only herons</p>"
    assert (await alice.call("GET", f"/posts/{posted['id']}")).json["body"] == "Only herons"

    deleted = await alice.call("DELETE", f"/api/v1/statuses/{posted['id']}")
    assert deleted.status == 200 and deleted.json["text"] == "Only herons"
    assert (await alice.call("GET", f"/posts/{posted['id']}")).status == 404
    assert (await pump.get(f"/api/note/{posted['id']}")).status == 404
    feed = (await pump.get("/api/user/alice/feed")).json["items"]
    assert (feed[0]["verb"], feed[0]["object"]["id"]) == ("delete", note["id"])
    assert note["id"] not in [a["object"]["id"] for a in feed if a["verb"] == "post"]
    inbox = (await pump.get("/api/user/alice/inbox")).json
    # The edit is an update activity of the note, as pump.io records one.
    assert inbox["totalItems"] == len(inbox["items"]) == 3
    assert [a["verb"] for a in inbox["items"]] == ["delete", "update", "post"]
    # Its media is free again: unattached, to be swept as any other upload.
    freed = await media_row(server, media)
    assert (freed["published_at"], freed["post_id"]) == (None, None)


async def test_a_private_status_keeps_its_media_attached_but_unpublished(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    media = await alice.uploaded(tmp_path)
    posted = (await status(alice, "For followers", [media], visibility="private")).json
    row = await media_row(server, media)
    assert (row["post_id"], row["published_at"]) == (posted["id"], None)
    # Not in anyone's pump.io view, yet attached: in use, and refused for another post.
    pump_bob = await login(server, "bob")
    assert (await pump_bob.get(f"/api/image/{media}")).status == 404
    assert (await pump_bob.get("/api/user/alice/feed")).json["totalItems"] == 0
    assert (await alice.call("DELETE", f"/api/v1/media/{media}")).status == 422
    assert (await alice.post("Again", [media])).json["code"] == "media_attached"
    later = time.time() + 2 * DAY
    sweeper = Sweeper(server.events, server.projection, server.server.blobs, server.config.renditions,
                      SweepSettings(via=swept_vias()), clock=lambda: later)
    assert (await sweeper.sweep_once()).expired == 0


async def test_a_note_from_before_post_events_reads_as_a_status(server: Running, http: aiohttp.ClientSession,
                                                               tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    media = await alice.uploaded(tmp_path)
    event = ActivityPosted(at=time.time(), activity_id="0a1b2c3d", actor="alice", verb="post", object_type="note",
                           object_id="cafe01", content="Written long ago", attachments=(media,),
                           generator="Mediaplex posts API", space="did:dfos:k2x9f7qa4zm3")
    seq = await server.events.append(event, msg_id="activity.0a1b2c3d")
    assert await server.projection.wait_for(seq, timeout=10.0)
    (shown,) = (await alice.call("GET", "/api/v1/timelines/home")).json
    assert shown["id"].isdigit() and shown["content"] == "<p>Written long ago</p>"
    assert [m["id"] for m in shown["media_attachments"]] == [media]
    assert (await alice.call("GET", f"/api/v1/statuses/{shown['id']}")).json == shown
    pump = await login(server, "alice")
    assert (await pump.get("/api/note/cafe01")).json["content"] == "<p>Written long ago</p>"
    assert (await alice.call("DELETE", f"/api/v1/statuses/{shown['id']}")).status == 200
    assert (await pump.get("/api/note/cafe01")).status == 404
    assert (await alice.call("GET", "/posts/cafe01")).status == 404


async def test_unattached_mastodon_uploads_are_swept_after_a_day(server: Running, http: aiohttp.ClientSession,
                                                                tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    attached, loose = await alice.uploaded(tmp_path, seed=1), await alice.uploaded(tmp_path, seed=2)
    assert (await status(alice, "kept", [attached])).status == 200
    later = time.time() + DAY + 60
    sweeper = Sweeper(server.events, server.projection, server.server.blobs, server.config.renditions,
                      SweepSettings(via=swept_vias()), clock=lambda: later)
    assert (await sweeper.sweep_once()).expired == 1
    left = await server.projection.read(lambda conn: {row[0] for row in conn.execute("SELECT media_id FROM media")})
    assert attached in left and loose not in left


async def test_statuses_accounts_and_timelines_survive_a_rebuild(nats_url: str, data_dir: Path, tmp_path: Path,
                                                                 http: aiohttp.ClientSession) -> None:
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    alice = await api(first, http, "alice")
    media = [await alice.uploaded(tmp_path, seed=n) for n in range(3)]
    one = (await status(alice, "One", media[:2], spoiler_text="cw")).json
    two = (await status(alice, "Two", visibility="private")).json
    await alice.call("PUT", f"/api/v1/statuses/{one['id']}", json={"status": "One, edited", "media_ids": [media[0]]})
    three = (await status(alice, "Three", [media[2]])).json
    await alice.call("DELETE", f"/api/v1/statuses/{three['id']}")
    await alice.post("Through posts")
    account = one["account"]["id"]
    reads = [f"/api/v1/statuses/{one['id']}", f"/api/v1/statuses/{two['id']}",
             f"/api/v1/statuses/{one['id']}/history", f"/api/v1/statuses/{one['id']}/source",
             f"/api/v1/accounts/{account}", f"/api/v1/accounts/{account}/statuses",
             f"/api/v1/accounts/{account}/statuses?only_media=true", "/api/v1/accounts/lookup?acct=alice",
             "/api/v1/accounts/verify_credentials", "/api/v1/timelines/public", "/api/v1/timelines/home"]
    before = [(await alice.call("GET", path)).json for path in reads]
    assert all(isinstance(b, dict | list) and b for b in before)
    live = await first.projection.digest()
    second = (await rebuilt(first, config)).running
    try:
        assert await second.projection.digest() == live
        after = [(await Api(http, second, alice.token).call("GET", path)).json for path in reads]
    finally:
        await second.server.stop()
    assert after == before


async def test_racing_statuses_attach_a_media_once_and_a_redraft_gets_it_back(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    media = await alice.uploaded(tmp_path)
    answers = await asyncio.gather(*(status(alice, f"race {n}", [media]) for n in range(4)),
                                   alice.post("race through posts", [media]))
    # Whichever wins, through either API, is the one post attaching it; the others are refused.
    (won,) = [a.json for a in answers if a.status in (200, 201)]
    assert [a.status for a in answers].count(422) == 4
    rows = await server.projection.read(lambda conn: conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    assert rows == 1
    # Delete and redraft: the media is free for the new status at once.
    deleted = await alice.call("DELETE", f"/api/v1/statuses/{won['id']}")
    redraft = await status(alice, deleted.json["text"], [m["id"] for m in deleted.json["media_attachments"]])
    assert redraft.status == 200 and [m["id"] for m in redraft.json["media_attachments"]] == [media]


async def test_an_edit_changes_media_descriptions_and_focus(server: Running, http: aiohttp.ClientSession,
                                                            tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    first, second = await alice.uploaded(tmp_path, seed=1), await alice.uploaded(tmp_path, seed=2)
    posted = (await status(alice, "Two", [first])).json
    edited = await alice.call("PUT", f"/api/v1/statuses/{posted['id']}", json={
        "status": "Two, described", "media_ids": [first, second],
        "media_attributes": [{"id": first, "description": "a heron", "focus": "0.5,-0.5"}]})
    assert edited.status == 200, edited.json
    shown = edited.json["media_attachments"]
    assert [m["id"] for m in shown] == [first, second]
    assert shown[0]["description"] == "a heron" and shown[0]["meta"]["focus"] == {"x": 0.5, "y": -0.5}
    # The same through a form, Rails-style.
    async with http.put(f"{server.url}/api/v1/statuses/{posted['id']}", headers=alice.headers(), data=[
            ("media_ids[]", first), ("media_ids[]", second), ("media_attributes[][id]", second),
            ("media_attributes[][description]", "an egret")]) as response:
        assert response.status == 200
        body = await response.json()
    assert [m["description"] for m in body["media_attachments"]] == ["a heron", "an egret"]
    assert body["content"] == "<p>Two, described</p>"
    seq = await server.events.last_seq()
    bad = await alice.call("PUT", f"/api/v1/statuses/{posted['id']}", json={
        "media_attributes": [{"id": first, "description": "fine"}, {"id": second, "focus": "9,9"}]})
    assert (bad.status, bad.json) == (422, {"error": "Validation failed: Focus must be two numbers between -1.0 and"
                                                     " 1.0, as \"x,y\""})
    assert await server.events.last_seq() == seq
    history = (await alice.call("GET", f"/api/v1/statuses/{posted['id']}/history")).json
    assert [len(v["media_attachments"]) for v in history] == [1, 2, 2]


async def test_deleting_through_posts_deletes_the_status_and_the_note(server: Running, http: aiohttp.ClientSession,
                                                                      tmp_path: Path) -> None:
    pump = await login(server, "alice")
    alice, bob = await api(server, http, "alice"), await api(server, http, "bob")
    media = await alice.uploaded(tmp_path)
    made = (await alice.post("Short-lived", [media])).json
    assert (await alice.call("GET", f"/api/v1/statuses/{made['id']}")).status == 200
    seq = await server.events.last_seq()
    for who, post_id in ((bob, made["id"]), (alice, "nope")):
        refused = await who.call("DELETE", f"/posts/{post_id}")
        assert (refused.status, refused.json) == (404, {"error": "No such post", "code": "not_found"})
    assert await server.events.last_seq() == seq
    assert (await alice.call("DELETE", f"/posts/{made['id']}")).status == 204
    assert (await alice.call("GET", f"/api/v1/statuses/{made['id']}")).status == 404
    assert (await alice.call("GET", f"/posts/{made['id']}")).status == 404
    assert (await pump.get(f"/api/note/{made['id']}")).status == 404
    # The media is free again, for a status this time.
    assert (await status(alice, "Again", [media])).status == 200


async def test_a_status_refused_while_the_broker_is_away_can_be_sent_again(
        broker: KillableBroker, make_server: Servers, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    running = await make_server(nats_url=broker.url)
    alice = await api(running, http, "alice")
    media = await alice.uploaded(tmp_path)
    pairs = [("status", "Despite the outage"), ("media_ids[]", media)]
    key = {"Idempotency-Key": "outage-1"}
    await broker.kill()
    refused = await form_post(alice, pairs, key)
    assert refused.status == 503 and refused.json == {"error": UNAVAILABLE}
    await broker.start()
    await eventually(lambda: _is(readiness(http, running), 200), "ready again")
    for _ in range(2):
        sent = await form_post(alice, pairs, key)
        assert sent.status == 200, sent.json
        assert [m["id"] for m in sent.json["media_attachments"]] == [media]
    rows = await running.projection.read(lambda conn: conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    assert rows == 1


async def test_following_and_followers_are_empty_lists_of_known_accounts(server: Running,
                                                                          http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    async with http.get(f"{server.url}/api/v1/accounts/verify_credentials",
                        headers={"Authorization": f"Bearer {token}"}) as r:
        account_id = (await r.json())["id"]
    for which in ("following", "followers"):
        async with http.get(f"{server.url}/api/v1/accounts/{account_id}/{which}") as r:
            assert (r.status, await r.json()) == (200, [])
        async with http.get(f"{server.url}/api/v1/accounts/404404/{which}") as r:
            assert (r.status, await r.json()) == (404, {"error": "Record not found"})
