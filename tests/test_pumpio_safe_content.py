"""Hostile HTML posted through pump.io is safe on every protocol, over real HTTP with real OAuth signatures.

pump.io content is cut to the whitelist on the way in, and the log keeps only that; titles are plain
text. Mastodon shows a pump.io image's content as a plain-text description and a pump.io comment's
HTML as its status's; pump.io shows Mastodon's plain text escaped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp

from core.events import ActivityPosted, PostCreated, PostEdited
from core.ids import new_media_id
from core.sanitize import plain_text
from tests.servers import Running
from tests.test_mastodon_statuses import status
from tests.test_posts import Api, api
from tests.test_posts_comments import comment
from tests.test_posts_pumpio import local
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image
from tests.test_sanitize import VECTORS, Markup, unsafe

HERON = "<p>A <b>heron</b></p>"
HOSTILE = (HERON + '<script>alert(1)</script><img src=x onerror=alert(2)><a href="jav&#x09;ascript:alert(3)">j</a>'
           '<svg onload=alert(4)><iframe src="https://evil.example"></iframe><div style="x:expression(alert(5))">'
           "</div><math><mtext><table><mglyph><style><img src=x onerror=alert(6)>")
# What of it is kept: the heron, an image with no handler, a link with no URL and an empty, unstyled div.
KEPT = HERON + '<img src="x"><a>j</a><div></div>'


def no_markup(text: str) -> list[str]:
    """Anything in plain text that an HTML parser would read as markup."""
    parsed = Markup(text)
    return [tag for tag, _ in parsed.elements] + parsed.other


async def events(server: Running) -> list[Any]:
    return [record.event async for record in server.events.read(1, follow=False)]


async def media_json(mastodon: Api, media_id: str) -> dict[str, Any]:
    answer = await mastodon.call("GET", f"/api/v1/media/{media_id}")
    assert answer.status == 200, answer.json
    return dict(answer.json)


async def test_a_hostile_image_is_safe_in_pumpio_and_mastodon(server: Running, http: aiohttp.ClientSession,
                                                               tmp_path: Path) -> None:
    alice = await login(server, "alice")
    mastodon = await api(server, http, "alice")
    image = await posted_image(alice, tmp_path, content=HOSTILE, displayName="<b>Heron</b><script>x</script>",
                               license="<i>CC BY</i>")
    media_id = local(image["id"])
    assert (image["content"], image["displayName"], image["license"]) == (KEPT, "Heron", "CC BY")

    got = await alice.get(f"/api/image/{media_id}")
    assert got.status == 200 and got.json["content"] == KEPT and unsafe(got.json["content"]) == []
    assert no_markup(got.json["displayName"]) == []

    outbox = (await alice.get("/api/user/alice/feed")).json["items"]
    (activity,) = [a for a in outbox if a["object"]["id"] == image["id"]]
    assert activity["object"]["content"] == KEPT and activity["content"] == "alice posted Heron"

    # Mastodon's description is plain text: the content read as a reader would.
    assert (await media_json(mastodon, media_id))["description"] == "A heron\n\nj"
    updated = await alice.activity("update", {"id": image["id"], "objectType": "image", "content": HERON})
    assert updated.status == 200 and updated.json["object"]["content"] == HERON
    assert (await media_json(mastodon, media_id))["description"] == "A heron"

    # The log keeps the safe form only.
    posted, _ = [e for e in await events(server) if isinstance(e, ActivityPosted) and e.object_id == media_id]
    assert (posted.content, posted.display_name, posted.license) == (KEPT, "Heron", "CC BY")


async def test_every_vector_through_pumpio_is_safe_everywhere(server: Running, http: aiohttp.ClientSession,
                                                              tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    mastodon = await api(server, http, "alice")
    image = await posted_image(alice, tmp_path, content="first")
    media_id = local(image["id"])
    said = (await comment(bob, image["id"], "first"))["object"]

    for vector in VECTORS:
        updated = await alice.activity("update", {"id": image["id"], "objectType": "image", "content": vector,
                                                  "displayName": vector})
        assert updated.status == 200, (vector, updated.json)
        served = [updated.json["object"], (await alice.get(f"/api/image/{media_id}")).json,
                  (await alice.get("/api/user/alice/feed")).json["items"][0]["object"]]
        for obj in served:
            assert unsafe(obj.get("content", "")) == [], (vector, obj.get("content"))
            assert no_markup(obj.get("displayName", "")) == [], (vector, obj.get("displayName"))
        assert no_markup(updated.json["content"]) == [], (vector, updated.json["content"])
        content = served[1].get("content", "")
        description = (await media_json(mastodon, media_id))["description"]
        assert description == (plain_text(content) or None), vector
        assert no_markup(description or "") == [], (vector, description)

        changed = await bob.activity("update", {"id": said["id"], "objectType": "comment", "content": vector})
        assert changed.status == 200, (vector, changed.json)
        shown = await mastodon.call("GET", f"/api/v1/statuses/{local(said['id'])}")
        assert shown.status == 200 and unsafe(shown.json["content"]) == [], (vector, shown.json["content"])
        assert unsafe((await bob.get(said["id"])).json["content"]) == [], vector


async def test_a_comment_with_html_is_its_status_html_not_escaped(server: Running, http: aiohttp.ClientSession,
                                                                  tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    mastodon = await api(server, http, "bob")
    image = await posted_image(alice, tmp_path)
    said = await comment(bob, image["id"], HOSTILE)
    assert said["object"]["content"] == KEPT
    shown = await mastodon.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}")
    assert shown.status == 200 and shown.json["content"] == KEPT
    source = await mastodon.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}/source")
    assert source.status == 200 and source.json["text"] == "A heron\n\nj"
    history = await mastodon.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}/history")
    assert [v["content"] for v in history.json] == [KEPT]
    (created,) = [e for e in await events(server) if isinstance(e, PostCreated) and e.via == "pumpio"]
    assert created.text == KEPT

    # An edit through Mastodon is plain text, which the comment keeps as pump.io HTML.
    edited = await mastodon.call("PUT", f"/api/v1/statuses/{local(said['object']['id'])}",
                                 json={"status": "<b>not bold</b> & https://example.org/h"})
    assert edited.status == 200
    link = '<a href="https://example.org/h" rel="nofollow noopener noreferrer">https://example.org/h</a>'
    assert edited.json["content"] == f"<p>&lt;b&gt;not bold&lt;/b&gt; &amp; {link}</p>"
    assert (await bob.get(said["object"]["id"])).json["content"] == edited.json["content"]
    source = await mastodon.call("GET", f"/api/v1/statuses/{local(said['object']['id'])}/source")
    assert source.json["text"] == "<b>not bold</b> & https://example.org/h"
    (edit,) = [e for e in await events(server) if isinstance(e, PostEdited)]
    assert edit.text == edited.json["content"]


async def test_a_comment_from_before_content_was_cut_is_cut_in_its_status(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    mastodon = await api(server, http, "alice")
    image = await posted_image(alice, tmp_path)
    post_id = new_media_id()
    # As the pump.io gateway wrote a comment before it cut content to the whitelist.
    event = PostCreated(at=time.time(), post_id=post_id, author="alice", text=HOSTILE, via="pumpio", app="PyPump",
                        comment_on=local(image["id"]), reply_owner="alice")
    seq = await server.events.append(event, msg_id=f"post.{post_id}.created")
    assert await server.projection.wait_for(seq, timeout=10.0)
    shown = await mastodon.call("GET", f"/api/v1/statuses/{post_id}")
    assert shown.status == 200 and shown.json["content"] == KEPT


async def test_mastodon_text_is_left_alone_and_shown_escaped_in_pumpio(server: Running, http: aiohttp.ClientSession,
                                                                       tmp_path: Path) -> None:
    pump = await login(server, "alice")
    mastodon = await api(server, http, "alice")
    said = "x < y & <b>z</b> <script>alert(1)</script>"
    form = aiohttp.FormData()
    form.add_field("file", jpeg(tmp_path, seed=4), filename="p.jpg", content_type="image/jpeg")
    form.add_field("description", said)
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=mastodon.headers()) as response:
        assert response.status in (200, 202)
        media_id = (await response.json())["id"]
    assert (await media_json(mastodon, media_id))["description"] == said

    posted = await pump.activity("post", {"id": f"{server.url}/api/image/{media_id}", "objectType": "image"})
    assert posted.status == 200, posted.json
    escaped = "<p>x &lt; y &amp; &lt;b&gt;z&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert posted.json["object"]["content"] == escaped
    assert (await media_json(mastodon, media_id))["description"] == said

    # Set through pump.io, the description is pump.io's HTML; set through Mastodon again, its plain text.
    updated = await pump.activity("update", {"id": posted.json["object"]["id"], "objectType": "image",
                                             "content": "x &lt;b&gt; y"})
    assert updated.json["object"]["content"] == "x &lt;b&gt; y"
    assert (await media_json(mastodon, media_id))["description"] == "x <b> y"
    again = await mastodon.call("PUT", f"/api/v1/media/{media_id}", json={"description": "<i>as typed</i>"})
    assert again.status == 200 and again.json["description"] == "<i>as typed</i>"
    shown = (await pump.get(f"/api/image/{media_id}")).json["content"]
    assert shown == "<p>&lt;i&gt;as typed&lt;/i&gt;</p>"

    # A status: plain text in the log and through Mastodon and /posts, escaped HTML as a pump.io note.
    made = await status(mastodon, said)
    assert made.status == 200 and made.json["content"] == escaped
    note = (await pump.get(f"/api/note/{made.json['id']}")).json
    assert unsafe(note["content"]) == [] and plain_text(note["content"]) == said
    assert (await mastodon.call("GET", f"/posts/{made.json['id']}")).json["body"] == said
    (created,) = [e for e in await events(server) if isinstance(e, PostCreated)]
    assert created.text == said


async def test_bad_text_fields_are_refused_with_pumpios_errors(server: Running, tmp_path: Path) -> None:
    alice: Pump = await login(server, "alice")
    image = await posted_image(alice, tmp_path)
    seq = await server.events.last_seq()
    for obj, error in (({"content": 7}, "'content' must be a string"),
                       ({"displayName": ["<b>x</b>"]}, "'displayName' must be a string"),
                       ({"license": {"a": 1}}, "'license' must be a string"),
                       ({"content": "<b>" * 500 + "x"}, "'content' is too long (maximum is 1500 characters)"),
                       ({"displayName": "<i>" + "x" * 253}, "'displayName' is too long (maximum is 255 characters)")):
        refused = await alice.activity("update", {"id": image["id"], "objectType": "image", **obj})
        assert (refused.status, refused.json) == (400, {"error": error}), obj
    assert await server.events.last_seq() == seq
