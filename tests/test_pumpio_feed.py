"""pump.io activities and feeds over real HTTP with real OAuth 1.0a signatures, a real broker and libvips.

Also holds the signed client the other pump.io test modules use.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests_oauthlib import OAuth1

from core.events import ActivityPosted
from gateways.pumpio.feed import STREAMS, Cursor, Stream, page_sql, read_page
from mediaplex.admin import add_user
from store.projection import Projection
from store.readmodel import TABLES, Put, changes
from tests import images
from tests.outage import free_port
from tests.pumpclient import authorize, register_client, signer
from tests.servers import Running, make_config, rebuilt, start

TIMEOUT = 10


class Answer:
    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        self.json: Any = response.json() if is_json else None


class Pump:
    """One user's signed pump.io client: requests + requests-oauthlib, run on a thread."""

    def __init__(self, base: str, user: str, auth: OAuth1 | None) -> None:
        self.base = base
        self.user = user
        self.auth = auth

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def _call(self, method: str, path: str, **options: Any) -> Answer:
        response = requests.request(method, self.url(path), auth=self.auth, allow_redirects=False,
                                    timeout=TIMEOUT, **options)
        return Answer(response)

    async def call(self, method: str, path: str, **options: Any) -> Answer:
        return await asyncio.to_thread(self._call, method, path, **options)

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, body: Any) -> Answer:
        return await self.call("POST", path, json=body)

    async def upload(self, data: bytes, content_type: str | None = "image/jpeg", **headers: str) -> Answer:
        if content_type is not None:
            headers["Content-Type"] = content_type
        return await self.call("POST", f"/api/user/{self.user}/uploads", data=data, headers=headers)

    async def activity(self, verb: str, obj: dict[str, Any], **extra: Any) -> Answer:
        return await self.post(f"/api/user/{self.user}/feed", {"verb": verb, "object": obj, **extra})


async def login(server: Running, user: str) -> Pump:
    """A user (created when new) with an access token from the real registration and OAuth flow."""
    if not await server.events.last_on(f"mx.user.{user}.added"):
        await add_user(server.events, user, f"{user}-password")
    client = await register_client(server.url, application_name=f"{user}'s test client")
    token = await authorize(server.url, client, user, f"{user}-password")
    return Pump(server.url, user, signer(client, token))


def jpeg(tmp_path: Path, width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    return images.jpeg(tmp_path / f"p-{width}x{height}-{seed}.jpg", width, height, seed=seed).read_bytes()


async def posted_image(pump: Pump, tmp_path: Path, seed: int = 0, **fields: Any) -> dict[str, Any]:
    uploaded = await pump.upload(jpeg(tmp_path, seed=seed))
    assert uploaded.status == 200, uploaded.json
    posted = await pump.activity("post", {**uploaded.json, **fields}, to=[], cc=[])
    assert posted.status == 200, posted.json
    return dict(posted.json["object"])


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def walk(pump: Pump, url: str, link: str) -> list[list[str]]:
    """Follows `links[link]` from `url` until it is missing or a page is empty; the ids of each page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url:
        page = await pump.get(next_url)
        assert page.status == 200, page.json
        ids = [item["id"] for item in page.json["items"]]
        if not ids:
            break
        pages.append(ids)
        next_url = page.json["links"].get(link, {}).get("href")
        assert len(pages) < 50
    return pages


async def test_pypump_flow_upload_post_update_and_whoami(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    uploaded = await alice.upload(jpeg(tmp_path), **{"X-File-Name": "heron.jpg"})
    assert uploaded.status == 200
    image = uploaded.json
    assert image["objectType"] == "image"
    assert image["fullImage"]["width"] == 640 and image["fullImage"]["height"] == 480
    # `image` is the thumbnail that fits 320x320.
    assert image["image"]["width"] == 320 and image["image"]["height"] == 240
    assert image["image"]["url"].endswith("/thumb.jpg")
    assert image["author"]["id"] == f"acct:alice@{urlsplit(server.url).netloc}"

    posted = await alice.activity("post", image, to=[], cc=[])
    assert posted.status == 200
    activity = posted.json
    assert activity["verb"] == "post" and activity["objectType"] == "activity"
    assert activity["object"]["id"] == image["id"]
    # MediaGoblin titles an upload by its X-File-Name until a title is given.
    assert image["displayName"] == "heron.jpg"
    assert activity["content"] == "alice posted heron.jpg"
    assert activity["generator"] == {"objectType": "client", "displayName": "alice's test client"}
    assert activity["links"]["self"]["href"] == activity["id"]

    update = {"id": image["id"], "objectType": "image", "displayName": "Heron",
              "content": "A grey heron", "license": "http://creativecommons.org/licenses/by-sa/3.0/"}
    updated = await alice.activity("update", update)
    assert updated.status == 200
    assert updated.json["content"] == "alice updated Heron"
    assert {k: updated.json["object"][k] for k in update} == update
    # Read-your-writes: the image and the feed reflect each POST as soon as it is answered.
    again = await alice.get(f"/api/image/{image['id'].rsplit('/', 1)[1]}")
    assert again.status == 200 and again.json["displayName"] == "Heron"
    assert again.json["fullImage"] == image["fullImage"]
    outbox = await alice.get("/api/user/alice/feed")
    assert [a["id"] for a in outbox.json["items"]] == [updated.json["id"], activity["id"]]
    assert outbox.json["items"][1]["content"] == "alice posted heron.jpg"

    for path in ("/api/whoami", "/api/whoami/"):
        whoami = await alice.get(path)
        assert whoami.status == 302
        assert whoami.headers["Location"] == f"{server.url}/api/user/alice/profile"
    profile = await alice.get(whoami.headers["Location"])
    assert profile.status == 200
    assert profile.json["preferredUsername"] == "alice" and profile.json["objectType"] == "person"
    assert profile.json["links"]["activity-outbox"]["href"] == f"{server.url}/api/user/alice/feed"
    user = await alice.get("/api/user/alice/")
    assert user.json["nickname"] == "alice" and user.json["profile"] == profile.json
    assert (await alice.get("/api/user/nobody/profile")).status == 404
    anonymous = Pump(server.url, "alice", None)
    whoami = await anonymous.get("/api/whoami")
    assert whoami.status == 401 and "error" in whoami.json


async def test_paging_reaches_every_activity_once_both_ways(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = await posted_image(alice, tmp_path)
    ids: list[str] = []
    comments = []
    for n in range(40):
        answer = await alice.activity("post", {"objectType": "comment", "content": f"note {n}",
                                               "inReplyTo": {"id": image["id"], "objectType": "image"}})
        assert answer.status == 200
        ids.append(answer.json["id"])
        comments.append(answer.json["object"])
    for comment in comments[:4]:
        answer = await alice.activity("update", {"id": comment["id"], "objectType": "comment", "content": "edited"})
        assert answer.status == 200 and answer.json["object"]["content"] == "edited"
        ids.append(answer.json["id"])
    outbox = await alice.get("/api/user/alice/feed")
    first = await alice.get("/api/user/alice/feed", count=45)
    everything = [item["id"] for item in first.json["items"]]
    assert everything[:44] == ids[::-1] and len(everything) == 45
    assert first.json["totalItems"] == 45 and "next" not in first.json["links"]
    assert outbox.json["totalItems"] == 45 and len(outbox.json["items"]) == 20

    pages = await walk(alice, f"{server.url}/api/user/alice/feed?count=10", "next")
    assert [len(p) for p in pages] == [10, 10, 10, 10, 5]
    assert [i for p in pages for i in p] == everything
    last = await alice.get(f"{server.url}/api/user/alice/feed", before=pages[-2][-1], count=10)
    assert "next" not in last.json["links"] and last.json["links"]["prev"]["href"]
    assert query(last.json["links"]["prev"]["href"]) == {"since": pages[-1][0], "count": "10"}

    # Back up from the oldest page through `prev` (since=<newest on the page>), as PyPump does.
    upwards = await walk(alice, last.json["links"]["prev"]["href"], "prev")
    assert [i for p in reversed(upwards) for i in p] + pages[-1] == everything
    newest = await alice.get("/api/user/alice/feed", since=everything[0])
    assert newest.json["items"] == [] and "next" not in newest.json["links"]

    offset = await alice.get("/api/user/alice/feed", offset=40, count=10)
    assert [a["id"] for a in offset.json["items"]] == everything[40:]
    bare = await alice.get("/api/user/alice/feed", before=everything[9].rsplit("/", 1)[1], count=3)
    assert [a["id"] for a in bare.json["items"]] == everything[10:13]

    major = await walk(alice, f"{server.url}/api/user/alice/feed/major?count=7", "next")
    assert [i for p in major for i in p] == everything[4:]
    minor = await alice.get("/api/user/alice/feed/minor/")
    assert [a["id"] for a in minor.json["items"]] == everything[:4]
    assert minor.json["totalItems"] == 4 and minor.json["displayName"] == "Minor activities by alice"
    inbox = await walk(alice, f"{server.url}/api/user/alice/inbox?count=20", "next")
    assert [i for p in inbox for i in p] == everything

    for params, message in (
        ({"count": 201}, "Count must be between 0 and 200"),
        ({"count": -1}, "Count must be between 0 and 200"),
        ({"count": "ten"}, "Count must be between 0 and 200"),
        ({"offset": -1}, "Offset must be a whole number, 0 or more"),
        ({"before": everything[3], "since": everything[1]}, "Use either 'before' or 'since', not both."),
        ({"before": everything[3], "offset": 2}, "'offset' cannot be combined with 'before' or 'since'."),
        ({"since": everything[3], "offset": 0}, "'offset' cannot be combined with 'before' or 'since'."),
        ({"before": f"{server.url}/api/activity/nope"},
         f"Unknown activity in 'before': {server.url}/api/activity/nope"),
    ):
        refused = await alice.get("/api/user/alice/feed", **params)
        assert (refused.status, refused.json) == (400, {"error": message}), params
    empty = await alice.get("/api/user/alice/feed", count=0)
    assert empty.json["items"] == [] and empty.json["totalItems"] == 45


async def test_comments_reach_the_image_owners_direct_inbox(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path, displayName="Heron")
    said = await bob.activity("post", {"objectType": "comment", "content": "Lovely!",
                                       "inReplyTo": {"id": image["id"], "objectType": "image"}})
    assert said.status == 200
    assert said.json["content"] == "bob posted a comment"
    comment = said.json["object"]
    assert comment["author"]["preferredUsername"] == "bob"
    assert comment["inReplyTo"]["id"] == image["id"] and comment["inReplyTo"]["replies"]["totalItems"] == 1
    edited = await bob.activity("update", {"id": comment["id"], "objectType": "comment", "content": "Lovely heron!"})
    assert edited.status == 200

    direct = await alice.get("/api/user/alice/inbox/direct")
    assert [a["id"] for a in direct.json["items"]] == [edited.json["id"], said.json["id"]]
    assert direct.json["items"][1]["object"]["content"] == "Lovely heron!"
    assert direct.json["author"]["preferredUsername"] == "alice"
    major = await alice.get("/api/user/alice/inbox/direct/major")
    assert [a["id"] for a in major.json["items"]] == [said.json["id"]]
    minor = await alice.get("/api/user/alice/inbox/direct/minor/")
    assert [a["id"] for a in minor.json["items"]] == [edited.json["id"]]
    inbox = await alice.get("/api/user/alice/inbox")
    assert len(inbox.json["items"]) == 3 and inbox.json["totalItems"] == 3
    assert (await alice.get("/api/user/alice/inbox/major")).json["totalItems"] == 2
    assert (await bob.get("/api/user/bob/inbox/direct")).json["totalItems"] == 0
    assert (await bob.get("/api/user/bob/feed")).json["totalItems"] == 2

    for stream in STREAMS:
        path = f"/api/user/alice/{stream.path()}"
        answer = await bob.get(path)
        if stream.inbox:
            assert (answer.status, answer.json) == (403, {"error": "Only the owner can read an inbox."}), path
        else:
            assert answer.status == 200, path
    assert (await bob.get("/api/user/nobody/feed")).status == 404

    replies = await bob.get(image["replies"]["url"])
    assert replies.status == 200 and [c["id"] for c in replies.json["items"]] == [comment["id"]]

    # Only the author may change or delete a comment; a deleted one is gone from its image's replies.
    for verb in ("update", "delete"):
        refused = await alice.activity(verb, {"id": comment["id"], "objectType": "comment", "content": "no"})
        assert (refused.status, refused.json) == (403, {"error": f"Only the author can {verb} this comment."})
    gone = await bob.activity("delete", {"id": comment["id"], "objectType": "comment"})
    assert gone.status == 200 and "deleted" in gone.json["object"]
    assert (await alice.get(image["replies"]["url"])).json["totalItems"] == 0
    assert (await alice.get("/api/user/alice/inbox/direct/minor")).json["totalItems"] == 2


async def test_every_refused_activity(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = await posted_image(alice, tmp_path)
    unposted = (await alice.upload(jpeg(tmp_path, seed=1))).json
    before = await server.events.last_seq()
    feed = "/api/user/alice/feed"
    cases: list[tuple[Pump, Any, int, str]] = [
        (alice, {"object": image}, 400, "Invalid activity provided."),
        (alice, {"verb": "post"}, 400, "Invalid activity provided."),
        (alice, {"verb": "post", "object": "x"}, 400, "Invalid activity provided."),
        (alice, ["post"], 400, "Invalid activity provided."),
        (alice, {"verb": "join", "object": image}, 400, "Verb not yet implemented"),
        (alice, {"verb": "checkin", "object": {"id": image["id"]}}, 400, "Verb not yet implemented"),
        (alice, {"verb": "post", "object": {"id": image["id"]}}, 400, "No objectType specified."),
        (alice, {"verb": "post", "object": {"objectType": "article", "content": "hi"}}, 400,
         "Unknown object type 'article'."),
        (alice, {"verb": "post", "object": {"objectType": "image"}}, 400, "Object ID has not been specified."),
        (alice, {"verb": "update", "object": {"objectType": "comment"}}, 400, "Object ID has not been specified."),
        (alice, {"verb": "delete", "object": {"objectType": "image"}}, 400, "Object ID has not been specified."),
        (alice, {"verb": "post", "object": image}, 400, "This image has already been posted."),
        (alice, {"verb": "post", "object": {"objectType": "image", "id": f"{server.url}/api/image/123"}}, 404,
         "No such image"),
        (alice, {"verb": "post", "object": {"objectType": "image", "id": "https://elsewhere.example/api/image/1"}},
         404, "No such image"),
        (alice, {"verb": "update", "object": {"objectType": "image", "id": unposted["id"], "displayName": "x"}},
         400, "Post the image before updating it."),
        (alice, {"verb": "update", "object": {"objectType": "image", "id": image["id"], "displayName": 7}},
         400, "'displayName' must be a string"),
        (alice, {"verb": "update", "object": {"objectType": "image", "id": image["id"], "tags": "a,b"}},
         400, "'tags' must be a list of at most 100 strings of at most 100 characters"),
        (alice, {"verb": "update", "object": {"objectType": "image", "id": image["id"], "content": "x" * 1501}},
         400, "'content' is too long (maximum is 1500 characters)"),
        (alice, {"verb": "post", "object": {"objectType": "comment", "content": "hi"}}, 400,
         "A comment must be in reply to an image or a note (inReplyTo)."),
        (alice, {"verb": "post", "object": {"objectType": "comment", "inReplyTo": {"id": unposted["id"]}}}, 400,
         "Only posted images can be commented on."),
        (alice, {"verb": "update", "object": {"objectType": "comment", "id": f"{server.url}/api/comment/x"}},
         404, "No such comment"),
    ]
    for pump, body, status, message in cases:
        answer = await pump.post(feed, body)
        assert (answer.status, answer.json) == (status, {"error": message}), body
    bob_cases: list[tuple[str, Any, int, str]] = [
        ("/api/user/alice/feed", {"verb": "post", "object": image}, 403, "Not able to post to another users feed."),
        # Another's upload, even one only they see, is refused as theirs when posted, as in MediaGoblin; any
        # other change to it does not find it.
        ("/api/user/bob/feed", {"verb": "post", "object": unposted}, 403, "Not able to post another user's image."),
        ("/api/user/bob/feed", {"verb": "post", "object": {"objectType": "image", "id": unposted["id"]}}, 403,
         "Not able to post another user's image."),
        ("/api/user/bob/feed", {"verb": "update", "object": {**unposted, "displayName": "mine"}}, 404,
         "No such image"),
        ("/api/user/bob/feed", {"verb": "delete", "object": unposted}, 404, "No such image"),
        ("/api/user/bob/feed", {"verb": "post", "object": {**unposted, "objectType": "video"}}, 404,
         "No such image"),
        ("/api/user/bob/feed", {"verb": "post", "object": image}, 403, "Not able to post another user's image."),
        ("/api/user/bob/feed", {"verb": "update", "object": {**image, "displayName": "mine"}}, 403,
         "Only the author can update this image."),
        ("/api/user/bob/feed", {"verb": "delete", "object": image}, 403, "Only the author can delete this image."),
        ("/api/user/bob/feed", {"verb": "post", "object": {"objectType": "comment",
                                                           "inReplyTo": {"id": unposted["id"]}}}, 404,
         "No such image"),
        ("/api/user/bob/feed", {"verb": "post", "object": {"objectType": "comment", "inReplyTo": {
            "id": f"{server.url}/api/comment/abc", "objectType": "comment"}}}, 400,
         "Comments can only reply to images and notes."),
    ]
    for path, body, status, message in bob_cases:
        answer = await bob.post(path, body)
        assert (answer.status, answer.json) == (status, {"error": message}), body
    for raw in (b"{not json", b"", b"\xff\xfe"):
        answer = await alice.call("POST", feed, data=raw, headers={"Content-Type": "application/json"})
        assert (answer.status, answer.json) == (400, {"error": "Could not decode the JSON body"})
    unsigned = await Pump(server.url, "alice", None).post(feed, {"verb": "post", "object": image})
    assert unsigned.status == 401 and "error" in unsigned.json
    assert await server.events.last_seq() == before

    # Addressing is ignored, and deleting an unposted upload is allowed.
    answer = await alice.activity("delete", unposted, to=[{"id": "acct:bob@x", "objectType": "person"}],
                                  bto=[], bcc=[], cc=[])
    assert answer.status == 200 and answer.json["object"]["objectType"] == "image"
    assert (await alice.get(unposted["links"]["self"]["href"])).status == 404


ACTIVITIES = 100_000
FEED_INDEX = re.compile(r"SEARCH (activities|inbox) USING (COVERING )?INDEX idx_\w+_seq \(")
# The rows the fold writes for `_activity(n)` at sequence n, for every n at once: through the applier,
# 100,000 activities would take the test seconds.
BULK = (
    """WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
    INSERT INTO activities (activity_id, seq, actor, verb, object_type, object_id, major, in_reply_to,
                            reply_owner, generator, display_name, content, published)
    SELECT printf('a%06d', x), x, CASE x % 2 WHEN 1 THEN 'alice' ELSE 'bob' END,
           CASE WHEN x % 3 THEN 'post' ELSE 'update' END, 'comment', printf('c%06d', x), x % 3 != 0,
           'm1', 'olga', '', NULL, NULL, 1e9 + x FROM n""",
    """INSERT INTO inbox (entry, user_id, seq, activity_id, major, direct)
    SELECT actor || ':' || printf('%012d', seq), actor, seq, activity_id, major, 0 FROM activities
    UNION ALL SELECT 'olga:' || printf('%012d', seq), 'olga', seq, activity_id, major, 1 FROM activities""",
)


def _activity(n: int) -> ActivityPosted:
    """Alice and Bob take turns commenting on Olga's image; every third activity is an update."""
    return ActivityPosted(at=1e9 + n, activity_id=f"a{n:06d}", actor="alice" if n % 2 else "bob",
                          verb="post" if n % 3 else "update", object_type="comment", object_id=f"c{n:06d}",
                          in_reply_to="m1", reply_owner="olga")


async def test_a_deep_page_costs_what_the_first_does(tmp_path: Path) -> None:
    path = tmp_path / "projection.db"
    projection = Projection(path)
    await projection.open()
    await projection.close()
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    with conn:
        conn.execute(BULK[0], (ACTIVITIES,))
        conn.execute(BULK[1])
    for n in (1, 2, 3):
        for change in changes(_activity(n), n):
            if isinstance(change, Put) and change.table in ("activities", "inbox"):
                key = next(t.pk for t in TABLES if t.name == change.table)
                stored = conn.execute(f"SELECT * FROM {change.table} WHERE {key} = ?", (change.row[key],)).fetchone()
                assert dict(stored) == change.row

    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    def plan(sql: str, params: tuple[Any, ...]) -> list[str]:
        lines = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        return [line for line in lines if line.startswith(("SEARCH", "SCAN")) and "subquery" not in line]

    def cost(stream: Stream, owner: str, cursor: Cursor) -> tuple[int, int]:
        nonlocal steps
        sql, params = page_sql(stream, owner, cursor)
        # Every table read is a range of one of the feed indexes, bounded by the cursor where there is one.
        reads = plan(sql, params)
        assert reads and all(FEED_INDEX.match(r) for r in reads), reads
        assert all(("seq<?" in r) == (cursor.before is not None) for r in reads), reads
        steps = 0
        conn.set_progress_handler(tick, 100)
        found = conn.execute(sql, params).fetchall()
        conn.set_progress_handler(None, 0)
        assert len(found) == cursor.count
        return steps, found[-1][0]

    for stream, owner in ((Stream(inbox=False), "alice"), (Stream(inbox=False, major=0), "alice"),
                          (Stream(inbox=True), "bob"), (Stream(inbox=True, direct=True), "olga"),
                          (Stream(inbox=True, direct=True, major=1), "olga")):
        first, _ = cost(stream, owner, Cursor(count=20))
        deep, last = cost(stream, owner, Cursor(count=20, before=500))
        assert last < 500
        # Counted in SQLite VM steps, so the comparison does not depend on the machine's speed.
        assert deep <= first + 2, (stream, first, deep)
        page = read_page(conn, stream, owner, Cursor(count=20, before=ACTIVITIES - 1000))
        assert len(page.entries) == 20 and page.older
        for clause, params in stream.parts(owner):
            assert all("COVERING INDEX" in r for r in plan(f"SELECT count(*) {clause}", params))
            assert all("COVERING INDEX" in r for r in plan(f"SELECT 1 {clause} AND seq < ? LIMIT 1", (*params, 9)))
    conn.close()


async def test_racing_duplicates_post_and_delete_an_image_once(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    uploaded = (await alice.upload(jpeg(tmp_path))).json
    posts = await asyncio.gather(*(alice.activity("post", uploaded) for _ in range(4)))
    assert sorted(a.status for a in posts) == [200, 400, 400, 400]
    assert all(a.json == {"error": "This image has already been posted."} for a in posts if a.status == 400)
    deletes = await asyncio.gather(*(alice.activity("delete", uploaded) for _ in range(4)))
    assert sorted(a.status for a in deletes) == [200, 404, 404, 404]
    feed = await alice.get("/api/user/alice/feed")
    assert [a["verb"] for a in feed.json["items"]] == ["delete", "post"]


async def test_feeds_survive_a_rebuild_unchanged(nats_url: str, data_dir: Path, tmp_path: Path) -> None:


    # One port for both starts: every URL in the JSON carries it.
    port = free_port()
    config = make_config(nats_url, data_dir, port=port)
    first = await start(config)
    alice, bob = await login(first, "alice"), await login(first, "bob")
    image = await posted_image(alice, tmp_path, displayName="Heron")
    await posted_image(alice, tmp_path, seed=1)
    said = await bob.activity("post", {"objectType": "comment", "content": "Lovely!", "inReplyTo": image})
    assert said.status == 200
    updated = await alice.activity("update", {"id": image["id"], "objectType": "image", "displayName": "Egret"})
    assert updated.status == 200
    paths = ["/api/user/alice/feed", "/api/user/alice/feed/major", "/api/user/alice/feed/minor",
             "/api/user/alice/inbox", "/api/user/alice/inbox/direct", f"/api/image/{image['id'].rsplit('/', 1)[1]}",
             f"/api/image/{image['id'].rsplit('/', 1)[1]}/replies"]
    before = [(await alice.get(path, count=2)).json for path in paths]
    second = (await rebuilt(first, config)).running
    try:
        again = Pump(second.url, "alice", alice.auth)
        after = [(await again.get(path, count=2)).json for path in paths]
    finally:
        await second.server.stop()
    assert after == before
    assert second.projection.path != first.projection.path
