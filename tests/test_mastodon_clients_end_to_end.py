"""The whole journey of unmodified Mastodon clients: register, sign in, upload, post, read, edit,
delete, sign out (Mastodon.py), and log in with a password, post with media, read and delete (toot)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mastodon import Mastodon, MastodonAPIError

from tests import images
from tests.servers import Running
from tests.test_mastodon_oauth import PASSWORD, TIMEOUT, _toot, approve

pytestmark = pytest.mark.server(users={"alice": PASSWORD})
REDIRECT = "https://heron.example/done"


async def test_mastodon_py_from_app_registration_to_sign_out(server: Running, tmp_path: Path) -> None:
    photo = images.jpeg(tmp_path / "photo.jpg", 320, 240)

    def journey() -> dict[str, Any]:
        client_id, client_secret = Mastodon.create_app("Heron", api_base_url=server.url, scopes=["read", "write"],
                                                       redirect_uris=REDIRECT)
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server.url,
                       request_timeout=TIMEOUT)
        url = api.auth_request_url(redirect_uris=REDIRECT, scopes=["read", "write"], allow_http=True)
        approved = approve(url)
        assert approved.status_code == 302, approved.text
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        api.log_in(code=code, redirect_uri=REDIRECT, scopes=["read", "write"], allow_http=True)
        me = api.account_verify_credentials()
        media = api.media_post(str(photo), description="a heron", synchronous=True)
        posted = api.status_post("Herons at dawn", media_ids=[media["id"]])
        with_media = api.account_statuses(me["id"], only_media=True)
        edited = api.status_update(posted["id"], "Herons at dusk", media_ids=[media["id"]])
        history = api.status_history(posted["id"])
        deleted = api.status_delete(posted["id"])
        after_delete = api.account_statuses(me["id"])
        api.revoke_access_token(allow_http=True)
        try:
            api.account_verify_credentials()
            signed_out: object = None
        except MastodonAPIError as exc:
            signed_out = exc
        return {"posted": posted, "with_media": with_media, "edited": edited, "history": history,
                "deleted": deleted, "after_delete": after_delete, "signed_out": signed_out, "media": media}

    seen = await asyncio.to_thread(journey)
    posted = seen["posted"]
    assert posted["content"] == "<p>Herons at dawn</p>"
    assert [m["id"] for m in posted["media_attachments"]] == [seen["media"]["id"]]
    assert posted["application"]["name"] == "Heron"
    assert [s["id"] for s in seen["with_media"]] == [posted["id"]]
    assert seen["edited"]["content"] == "<p>Herons at dusk</p>" and seen["edited"]["edited_at"] is not None
    assert [h["content"] for h in seen["history"]] == ["<p>Herons at dawn</p>", "<p>Herons at dusk</p>"]
    assert seen["deleted"]["text"] == "Herons at dusk"
    assert seen["after_delete"] == []
    assert isinstance(seen["signed_out"], MastodonAPIError)


async def test_toot_logs_in_posts_reads_and_deletes(server: Running, tmp_path: Path) -> None:
    home = tmp_path / "home"
    photo = images.jpeg(tmp_path / "photo.jpg", 320, 240)

    def run(*args: str) -> str:
        done = _toot(home, *args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        return done.stdout

    await asyncio.to_thread(run, "login_cli", "--instance", server.url, "--email", "alice@localhost",
                            "--password", PASSWORD)
    posted = await asyncio.to_thread(run, "post", "--media", str(photo), "--description", "a grey heron",
                                     "Herons at dawn")
    status_id = posted.strip().rsplit("/", 1)[1]
    assert status_id.isdigit(), posted
    assert "Herons at dawn" in await asyncio.to_thread(run, "timeline", "--once")
    shown = json.loads(await asyncio.to_thread(run, "status", status_id, "--json"))
    assert shown["id"] == status_id and shown["media_attachments"][0]["description"] == "a grey heron"
    await asyncio.to_thread(run, "delete", status_id)
    assert "Herons at dawn" not in await asyncio.to_thread(run, "timeline", "--once")
