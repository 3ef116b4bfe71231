"""Mastodon.py, unmodified, posts, reads, edits and deletes statuses with media."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError

from tests import images
from tests.servers import Running


def client(server: Running, token: str) -> Mastodon:
    return Mastodon(access_token=token, api_base_url=server.url, request_timeout=30)


async def test_media_post_status_post_account_statuses_update_delete(server: Running, tmp_path: Path) -> None:
    token = await server.token("alice")
    photo = images.jpeg(tmp_path / "photo.jpg", 800, 600)
    other = images.jpeg(tmp_path / "other.jpg", 640, 480, seed=3)

    def flow() -> dict[str, Any]:
        api = client(server, token)
        media = api.media_post(str(photo), description="a heron", synchronous=True)
        posted = api.status_post("Herons at https://example.org/birds <b>dawn</b>", media_ids=[media],
                                 sensitive=True, spoiler_text="birds", language="en")
        me = api.account_verify_credentials()
        # Once attached, the media is the status's: Mastodon's media endpoints no longer find it.
        with pytest.raises(MastodonNotFoundError):
            api.media(media)
        only_media = api.account_statuses(me["id"], only_media=True)
        text_only = api.status_post("Just words")
        only_media_after = api.account_statuses(me["id"], only_media=True)
        everything = api.account_statuses(me["id"])
        replacement = api.media_post(str(other), synchronous=True)
        updated = api.status_update(posted["id"], "Herons, edited", media_ids=[replacement])
        history = api.status_history(posted["id"])
        source = api.status_source(posted["id"])
        # An edit that drops a media frees it again.
        freed = api.media(media)
        deleted = api.status_delete(posted["id"])
        with pytest.raises(MastodonNotFoundError):
            api.status(posted["id"])
        public = api.timeline_public()
        return {"media": media, "posted": posted, "me": me, "only_media": only_media, "text_only": text_only,
                "only_media_after": only_media_after, "everything": everything, "updated": updated,
                "replacement": replacement, "history": history, "source": source, "deleted": deleted,
                "public": public, "freed": freed, "account": api.account(me["id"]),
                "lookup": api.account_lookup("alice")}

    got = await asyncio.to_thread(flow)
    posted = got["posted"]
    assert posted["id"].isdigit() and int(posted["id"]) > int(got["media"]["id"]) - 2**32
    assert posted["content"] == ('<p>Herons at <a href="https://example.org/birds" rel="nofollow noopener noreferrer"'
                                 ' target="_blank">https://example.org/birds</a> &lt;b&gt;dawn&lt;/b&gt;</p>')
    assert posted["sensitive"] is True and posted["spoiler_text"] == "birds" and posted["language"] == "en"
    assert posted["visibility"] == "public" and posted["account"]["username"] == "alice"
    assert [m["id"] for m in posted["media_attachments"]] == [got["media"]["id"]]
    assert posted["media_attachments"][0]["description"] == "a heron"
    assert (posted["mentions"], posted["tags"], posted["emojis"], posted["card"], posted["poll"]) == ([], [], [], None,
                                                                                                     None)
    assert posted["replies_count"] == posted["reblogs_count"] == posted["favourites_count"] == 0
    assert [s["id"] for s in got["only_media"]] == [posted["id"]]
    assert [s["id"] for s in got["only_media_after"]] == [posted["id"]]
    assert [s["id"] for s in got["everything"]] == [got["text_only"]["id"], posted["id"]]
    assert int(got["text_only"]["id"]) > int(posted["id"])
    updated = got["updated"]
    assert updated["content"] == "<p>Herons, edited</p>" and updated["edited_at"] is not None
    assert [m["id"] for m in updated["media_attachments"]] == [got["replacement"]["id"]]
    assert [v["content"] for v in got["history"]] == [posted["content"], "<p>Herons, edited</p>"]
    assert got["source"]["text"] == "Herons, edited"
    assert got["freed"]["id"] == got["media"]["id"]
    assert got["deleted"]["text"] == "Herons, edited" and got["deleted"]["id"] == posted["id"]
    assert [s["id"] for s in got["public"]] == [got["text_only"]["id"]]
    assert got["account"]["statuses_count"] == 1 and got["account"]["id"] == got["me"]["id"]
    assert got["lookup"]["id"] == got["me"]["id"]
    assert got["me"]["statuses_count"] == 1 and "source" in got["me"]


async def test_client_sees_status_refusals(server: Running, tmp_path: Path) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    photo = images.jpeg(tmp_path / "photo.jpg", 320, 240)

    def refused() -> list[str]:
        api, other = client(server, alice), client(server, bob)
        media = [api.media_post(str(photo), synchronous=True) for _ in range(5)]
        messages = []
        for attempt in (lambda: api.status_post(""), lambda: api.status_post("x" * 501),
                        lambda: api.status_post("five", media_ids=media),
                        lambda: other.status_post("not mine", media_ids=[media[0]])):
            with pytest.raises(MastodonAPIError) as error:
                attempt()
            messages.append(str(error.value))
        posted = api.status_post("mine", media_ids=[media[0]])
        with pytest.raises(MastodonAPIError) as twice:
            api.status_post("again", media_ids=[media[0]])
        messages.append(str(twice.value))
        with pytest.raises(MastodonNotFoundError):
            other.status_delete(posted["id"])
        with pytest.raises(MastodonNotFoundError):
            other.status_update(posted["id"], "hijacked")
        with pytest.raises(MastodonAPIError) as in_use:
            api.media_delete(media[0]) if hasattr(api, "media_delete") else api._Mastodon__api_request(
                "DELETE", f"/api/v1/media/{media[0]['id']}")
        messages.append(str(in_use.value))
        assert api.status(posted["id"])["content"] == "<p>mine</p>"
        return messages

    messages = await asyncio.to_thread(refused)
    assert "Validation failed: Text can't be blank" in messages[0]
    assert "Validation failed: Text character limit of 500 exceeded" in messages[1]
    assert "Cannot attach more than 4 files" in messages[2]
    assert "not found" in messages[3]
    assert "already attached" in messages[4]
    assert "Media attachment is currently used by a status" in messages[5]
