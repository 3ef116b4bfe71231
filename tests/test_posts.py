"""Posts and profile pictures over real HTTP, with a real broker, real libvips and real SQLite.

Media come from the Mastodon upload API: the posts API takes any media its caller owns, whichever API
uploaded it. Also holds the small client the other posts test modules use.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pyvips

from core.events import MediaDeleted, MediaRequested
from tests import images
from tests.servers import Running, make_config, start

SPACE = "did:dfos:k2x9f7qa4zm3"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.json = body


class Api:
    """One token's side of the posts API, plus the Mastodon upload it takes its media from."""

    def __init__(self, http: aiohttp.ClientSession, server: Running, token: str | None) -> None:
        self.http = http
        self.server = server
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def call(self, method: str, path: str, *, json: Any = None, data: bytes | None = None) -> Answer:
        options: dict[str, Any] = {"headers": self.headers()}
        if data is not None:
            options["data"] = data
            options["headers"]["Content-Type"] = "application/json"
        elif json is not None:
            options["json"] = json
        async with self.http.request(method, self.server.url + path, **options) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return Answer(response.status, dict(response.headers), body)

    async def post(self, body: str = "", attachments: list[str] | None = None, space: str = SPACE) -> Answer:
        return await self.call("POST", "/posts", json={"spaceDID": space, "body": body,
                                                       "attachmentIds": attachments or []})

    async def upload(self, data: bytes) -> Answer:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="photo.jpg", content_type="image/jpeg")
        async with self.http.post(f"{self.server.url}/api/v2/media", data=form, headers=self.headers()) as r:
            return Answer(r.status, dict(r.headers), await r.json())

    async def uploaded(self, tmp_path: Path, seed: int = 0, width: int = 640, height: int = 480) -> str:
        data = images.jpeg(tmp_path / f"m-{seed}-{width}x{height}.jpg", width, height, seed=seed).read_bytes()
        answer = await self.upload(data)
        assert answer.status in (200, 202), answer.json
        return str(answer.json["id"])

    async def failed(self, tmp_path: Path, user: str) -> str:
        """A media of `user` whose processing failed: a truncated JPEG, found in the read model once it failed."""
        truncated = images.truncate(images.jpeg(tmp_path / "broken.jpg", 800, 600), 0.6).read_bytes()
        await self.upload(truncated)
        projection = self.server.projection
        found: list[str] = []

        async def failed() -> bool:
            row = await projection.one("SELECT media_id FROM media WHERE owner_id = ? AND status = 'failed'", (user,))
            if row is not None:
                found.append(row["media_id"])
            return row is not None

        assert await projection.wait_until(failed, 20.0)
        return found[0]


async def api(server: Running, http: aiohttp.ClientSession, user: str, scopes: str = "read write") -> Api:
    return Api(http, server, await server.token(user, scopes))


async def delete_in_log(server: Running, media_id: str) -> None:
    """Deletes media as no API does while a post uses it, e.g. an operator's tooling on the log."""
    seq = await server.events.append(MediaDeleted(at=time.time(), media_id=media_id), msg_id=f"{media_id}.deleted")
    assert await server.projection.wait_for(seq, timeout=10.0)


async def media_row(server: Running, media_id: str) -> dict[str, Any]:
    row = await server.projection.one("SELECT * FROM media WHERE media_id = ?", (media_id,))
    assert row is not None
    return dict(row)


async def test_a_post_attaches_uploaded_media_and_reads_back_publicly(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    first = await alice.uploaded(tmp_path, seed=1)
    second = await alice.uploaded(tmp_path, seed=2, width=4000, height=3000)

    created = await alice.post("Herons at dawn", [second, first])
    assert created.status == 201, created.json
    post = created.json
    assert list(post) == ["id", "spaceDID", "body", "attachmentIds", "author", "createdAt", "url", "attachments"]
    assert (post["spaceDID"], post["body"], post["author"]) == (SPACE, "Herons at dawn", "alice")
    assert post["attachmentIds"] == [second, first]
    assert created.headers["Location"] == post["url"] == f"{server.url}/posts/{post['id']}"
    assert post["createdAt"].endswith("Z")
    big, small = post["attachments"]
    assert [big["id"], small["id"]] == [second, first]
    assert (big["status"], big["width"], big["height"], big["contentType"]) == ("ready", 3325, 2494, "image/jpeg")
    assert len(big["blurHash"]) == 36
    for key, size in (("url", (3325, 2494)), ("previewUrl", (554, 416)), ("thumbnailUrl", (320, 240))):
        async with http.get(big[key]) as response:
            assert response.status == 200
            image = pyvips.Image.new_from_buffer(await response.read(), "")
            assert (image.width, image.height) == size, key

    # Read-your-writes, and posts are public: no token needed to read one.
    anonymous = Api(http, server, None)
    again = await anonymous.call("GET", f"/posts/{post['id']}")
    assert (again.status, again.json) == (200, post)
    # Attached media counts as published, as a pump.io post would make it.
    assert (await media_row(server, first))["published_at"] is not None

    text_only = await alice.post("No pictures today")
    assert text_only.status == 201 and text_only.json["attachments"] == [] and text_only.json["attachmentIds"] == []
    longest = await alice.post("x" * 5000)
    assert longest.status == 201 and len(longest.json["body"]) == 5000
    # A media attaches to one post at most, whichever protocol posted it.
    again_attached = await alice.post("Herons again", [first])
    assert again_attached.status == 422 and again_attached.json["code"] == "media_attached"
    assert again_attached.json["parameter"] == "attachmentIds"

    missing = await anonymous.call("GET", "/posts/nope")
    assert (missing.status, missing.json) == (404, {"error": "No such post", "code": "not_found"})

    # Mastodon refuses to delete media a post uses; deleted another way (here straight through the
    # log), it shows as deleted in the posts naming it.
    assert (await alice.call("DELETE", f"/api/v1/media/{first}")).status == 422
    await delete_in_log(server, first)
    after = (await anonymous.call("GET", f"/posts/{post['id']}")).json
    assert after["attachments"][0] == big
    assert after["attachments"][1] == {"id": first, "status": "deleted", "contentType": None, "url": None,
                                       "previewUrl": None, "thumbnailUrl": None, "width": None, "height": None,
                                       "blurHash": None}


async def test_media_still_processing_can_be_attached(nats_url: str, data_dir: Path,
                                                      http: aiohttp.ClientSession, tmp_path: Path) -> None:
    # No processor: uploads stay queued.
    server = await start(make_config(nats_url, data_dir, v2_sync_wait=0.1), processor=False)
    try:
        alice = await api(server, http, "alice")
        media_id = await alice.uploaded(tmp_path)
        created = await alice.post("Still developing", [media_id])
        assert created.status == 201, created.json
        (attached,) = created.json["attachments"]
        assert attached["status"] == "processing" and attached["url"] is None and attached["blurHash"] is None
        assert attached["contentType"] == "image/jpeg"
    finally:
        await server.server.stop()


async def test_profile_picture_is_set_and_read(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    reader = await api(server, http, "alice", "read")
    empty = await reader.call("GET", "/identity/current")
    assert (empty.status, empty.json) == (200, {"id": "alice", "avatarId": None, "avatarUrl": None, "avatar": None})

    media_id = await alice.uploaded(tmp_path)
    answer = await alice.call("PUT", "/identity/current", json={"avatarId": media_id})
    assert answer.status == 200, answer.json
    identity = answer.json
    assert (identity["id"], identity["avatarId"]) == ("alice", media_id)
    assert identity["avatarUrl"] == identity["avatar"]["url"] and identity["avatarUrl"].endswith("/original.jpg")
    async with http.get(identity["avatarUrl"]) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert (await reader.call("GET", "/identity/current")).json == identity
    assert (await media_row(server, media_id))["attached_at"] is not None

    # The same picture again changes nothing and appends nothing.
    before = await server.events.last_seq()
    again = await alice.call("PUT", "/identity/current", json={"avatarId": media_id})
    assert (again.status, again.json) == (200, identity)
    assert await server.events.last_seq() == before

    other = await alice.uploaded(tmp_path, seed=3)
    changed = await alice.call("PUT", "/identity/current", json={"avatarId": other})
    assert changed.status == 200 and changed.json["avatarId"] == other
    user = await server.projection.one("SELECT avatar FROM users WHERE user_id = 'alice'", ())
    assert user is not None and user["avatar"] == other


async def test_every_refusal_appends_nothing(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    bob = await api(server, http, "bob")
    read_only = await api(server, http, "alice", "read")
    mine = await alice.uploaded(tmp_path, seed=1)
    bobs = await bob.uploaded(tmp_path, seed=2)
    broken = await alice.failed(tmp_path, "alice")
    deleted = await alice.uploaded(tmp_path, seed=4)
    assert (await alice.call("DELETE", f"/api/v1/media/{deleted}")).status == 200
    before = await server.events.last_seq()

    def post(**fields: Any) -> dict[str, Any]:
        return {"spaceDID": SPACE, "body": "hello", "attachmentIds": [mine], **fields}

    not_found = "Media not found: {}"
    cases: list[tuple[Api, str, str, Any, int, str, str | None, str | None]] = [
        # caller, method, path, JSON (bytes: sent raw), status, code, parameter, message
        (alice, "POST", "/posts", post(attachmentIds=[bobs]), 422, "media_not_found", "attachmentIds",
         not_found.format(bobs)),
        (alice, "POST", "/posts", post(attachmentIds=["404"]), 422, "media_not_found", "attachmentIds",
         not_found.format("404")),
        (alice, "POST", "/posts", post(attachmentIds=[mine, deleted]), 422, "media_not_found", "attachmentIds",
         not_found.format(deleted)),
        (alice, "POST", "/posts", post(attachmentIds=[broken]), 422, "media_failed", "attachmentIds",
         f"Media could not be processed: {broken}"),
        (alice, "POST", "/posts", post(attachmentIds=[mine, mine]), 422, "duplicate_attachment", "attachmentIds",
         f"Media attached more than once: {mine}"),
        (alice, "POST", "/posts", post(attachmentIds=[mine, "1", "2", "3", "4"]), 422, "too_many_attachments",
         "attachmentIds", "Cannot attach more than 4 files"),
        (alice, "POST", "/posts", post(body="x" * 5001), 422, "body_too_long", "body",
         "The body is too long (maximum is 5000 characters)"),
        (alice, "POST", "/posts", post(body=" \n", attachmentIds=[]), 422, "empty_post", "body",
         "A post needs a body or at least one attachment"),
        *[(alice, "POST", "/posts", post(spaceDID=space), 422, "invalid_space_did", "spaceDID", None)
          for space in ("space-1", "", "did:dfos", "did:dfos:", "did:dfos:abc:", "did:DFOS:abc", "did:dfos:a b",
                        "did:dfos:%zz", "did:dfos:" + "a" * 247)],
        (alice, "POST", "/posts", post(body=7), 400, "invalid_parameter", "body", None),
        (alice, "POST", "/posts", post(body=None), 400, "invalid_parameter", "body", None),
        (alice, "POST", "/posts", post(spaceDID=["did:dfos:a"]), 400, "invalid_parameter", "spaceDID", None),
        (alice, "POST", "/posts", post(attachmentIds=mine), 400, "invalid_parameter", "attachmentIds", None),
        (alice, "POST", "/posts", post(attachmentIds=[int(mine)]), 400, "invalid_parameter", "attachmentIds", None),
        (alice, "POST", "/posts", {"body": "hi"}, 400, "missing_parameter", "spaceDID", "'spaceDID' is required"),
        (alice, "POST", "/posts", b"{not json", 400, "invalid_json", None, "The request body is not valid JSON"),
        (alice, "POST", "/posts", b"", 400, "invalid_json", None, "The request body is not valid JSON"),
        (alice, "POST", "/posts", b"[1, 2]", 400, "invalid_json", None, "The request body must be a JSON object"),
        (alice, "POST", "/posts", b'{"spaceDID": "' + b"a" * 140_000 + b'"}', 413, "request_too_large", None,
         None),
        (Api(http, server, None), "POST", "/posts", post(), 401, "invalid_token", None,
         "The access token is invalid"),
        (Api(http, server, "not-a-token"), "POST", "/posts", post(), 401, "invalid_token", None, None),
        (read_only, "POST", "/posts", post(), 403, "insufficient_scope", None,
         "This action is outside the authorized scopes"),
        (alice, "PUT", "/identity/current", {"avatarId": bobs}, 422, "media_not_found", "avatarId",
         not_found.format(bobs)),
        (alice, "PUT", "/identity/current", {"avatarId": "404"}, 422, "media_not_found", "avatarId",
         not_found.format("404")),
        (alice, "PUT", "/identity/current", {"avatarId": broken}, 422, "media_failed", "avatarId", None),
        (alice, "PUT", "/identity/current", {"avatarId": 5}, 400, "invalid_parameter", "avatarId", None),
        (alice, "PUT", "/identity/current", {}, 400, "missing_parameter", "avatarId", None),
        (alice, "PUT", "/identity/current", b"{", 400, "invalid_json", None, None),
        (Api(http, server, None), "PUT", "/identity/current", {"avatarId": mine}, 401, "invalid_token", None, None),
        (read_only, "PUT", "/identity/current", {"avatarId": mine}, 403, "insufficient_scope", None, None),
        (Api(http, server, None), "GET", "/identity/current", None, 401, "invalid_token", None, None),
    ]
    for caller, method, path, body, status, code, parameter, message in cases:
        if isinstance(body, bytes):
            answer = await caller.call(method, path, data=body)
        else:
            answer = await caller.call(method, path, json=body)
        where = (method, path, str(body)[:80])
        assert (answer.status, answer.json["code"]) == (status, code), (where, answer.json)
        assert answer.json.get("parameter") == parameter, (where, answer.json)
        assert isinstance(answer.json["error"], str) and answer.json["error"], where
        if message is not None:
            assert answer.json["error"] == message, (where, answer.json)
    assert await server.events.last_seq() == before

    # Another user's media reads exactly like a media that never existed.
    theirs = (await alice.post(attachments=[bobs])).json
    unknown = (await alice.post(attachments=["1234"])).json
    assert theirs["error"].replace(bobs, "ID") == unknown["error"].replace("1234", "ID")
    assert {**theirs, "error": ""} == {**unknown, "error": ""}
    assert await server.events.last_seq() == before


async def test_racing_posts_each_land_once(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    media_id = await alice.uploaded(tmp_path)
    answers = await asyncio.gather(*(alice.post(f"post {n}", [media_id] if n % 2 else None)
                                     for n in range(6)))
    # Every post without media lands; of the three racing for one media exactly one attaches it.
    assert sorted(a.status for a in answers) == [201] * 4 + [422] * 2
    assert all(a.json["code"] == "media_attached" for a in answers if a.status == 422)
    ids = {a.json["id"] for a in answers if a.status == 201}
    assert len(ids) == 4
    count = await server.projection.one("SELECT count(*) AS n FROM activities WHERE object_type = 'note'", ())
    assert count is not None and count["n"] == 4


async def test_a_presigned_upload_whose_bytes_never_came_cannot_be_attached(
        server: Running, http: aiohttp.ClientSession) -> None:
    alice = await api(server, http, "alice")
    await api(server, http, "bob")
    for media_id, owner in (("77001", "alice"), ("77002", "bob")):
        requested = MediaRequested(at=time.time(), media_id=media_id, owner_id=owner, filename="cat.png",
                                   content_type="image/png", max_bytes=1000, expires_at=time.time() + 900)
        assert await server.projection.wait_for(await server.events.append(requested, msg_id=media_id), 10.0)
    before = await server.events.last_seq()
    pending = await alice.post("Soon", ["77001"])
    assert (pending.status, pending.json) == (422, {"error": "Media not uploaded yet: 77001",
                                                    "code": "media_not_uploaded", "parameter": "attachmentIds"})
    # Someone else's pending upload is as unknown as any other id.
    theirs = await alice.call("PUT", "/identity/current", json={"avatarId": "77002"})
    assert (theirs.status, theirs.json) == (422, {"error": "Media not found: 77002", "code": "media_not_found",
                                                  "parameter": "avatarId"})
    assert await server.events.last_seq() == before


async def test_media_in_use_cannot_be_deleted_through_mastodon(server: Running, http: aiohttp.ClientSession,
                                                               tmp_path: Path) -> None:
    alice = await api(server, http, "alice")
    posted, avatar, loose = [await alice.uploaded(tmp_path, seed=s) for s in (1, 2, 3)]
    assert (await alice.post("In use", [posted])).status == 201
    assert (await alice.call("PUT", "/identity/current", json={"avatarId": avatar})).status == 200
    seq = await server.events.last_seq()
    for media_id in (posted, avatar):
        answer = await alice.call("DELETE", f"/api/v1/media/{media_id}")
        assert (answer.status, answer.json) == (422, {"error": "Media attachment is currently used by a status"})
    assert await server.events.last_seq() == seq
    answer = await alice.call("DELETE", f"/api/v1/media/{loose}")
    assert (answer.status, answer.json) == (200, {})
    assert await server.projection.one("SELECT 1 FROM media WHERE media_id = ?", (loose,)) is None
    # A picture the profile no longer shows is free again, the one it shows now is not.
    replacement = await alice.uploaded(tmp_path, seed=4)
    assert (await alice.call("PUT", "/identity/current", json={"avatarId": replacement})).status == 200
    answer = await alice.call("DELETE", f"/api/v1/media/{replacement}")
    assert (answer.status, answer.json) == (422, {"error": "Media attachment is currently used by a status"})
    answer = await alice.call("DELETE", f"/api/v1/media/{avatar}")
    assert (answer.status, answer.json) == (200, {})
