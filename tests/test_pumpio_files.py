"""The files of a pump.io upload nothing has posted are its owner's: served to their signed OAuth 1.0a requests,
a 404 to anyone else, until a post, a status or a profile shows the upload. Real HTTP, signatures and processing."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import aiohttp
import requests
from requests_oauthlib import OAuth1

from core.ports import rendition_dir
from tests.servers import Running, bearer
from tests.test_posts import api
from tests.test_pumpio_feed import TIMEOUT, Pump, jpeg, login
from tests.test_pumpio_uploads import media_row

PRIVATE = "private, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def file_urls(server: Running, image: dict[str, Any], blob: str) -> list[str]:
    """Every URL its files answer at: renditions, a variant of each kind of source, the content address."""
    original, thumb = image["fullImage"]["url"], image["image"]["url"]
    digest = f"{server.url}/media/sha256/{blob}"
    return [original, thumb, f"{original}?w=40", digest, f"{digest}?w=40&fm=png"]


def anonymous(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=TIMEOUT)


async def fetch(url: str, **headers: str) -> requests.Response:
    return await asyncio.to_thread(anonymous, url, **headers)


async def not_found_answer(server: Running, url: str, blob: str) -> tuple[int, Any]:
    """What the same URL answers for bytes nobody ever uploaded."""
    response = await fetch(url.replace(blob, hashlib.sha256(b"never uploaded").hexdigest()))
    return response.status_code, response.json()


def signed_url(auth: OAuth1, url: str) -> str:
    """`url` with the OAuth 1.0a signature in its query, as a client hands a browser a URL it may open once."""
    client = auth.client
    query = OAuth1(client.client_key, client.client_secret, resource_owner_key=client.resource_owner_key,
                   resource_owner_secret=client.resource_owner_secret, signature_type="query")
    prepared = requests.Request("GET", url, auth=query).prepare().url
    assert prepared is not None and "oauth_signature=" in prepared
    return prepared


async def test_an_unposted_uploads_files_are_its_owners_until_it_is_posted(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    image = (await alice.upload(jpeg(tmp_path))).json
    blob = (await media_row(server, image))["blob"]
    urls = file_urls(server, image, blob)
    for url in urls:
        # Unsigned, as a browser asks, or signed by another user: as if there were nothing.
        nothing = await not_found_answer(server, url, blob)
        assert nothing[0] == 404
        unsigned = await fetch(url)
        assert (unsigned.status_code, unsigned.json()) == nothing, url
        theirs = await bob.get(url)
        assert (theirs.status, theirs.json) == nothing, url
        mine = await alice.get(url)
        assert mine.status == 200, url
        assert mine.headers["Cache-Control"] == PRIVATE, url
    # A signature in the URL itself works once: its nonce is spent by the first request.
    once = signed_url(alice.auth, urls[0])
    first = await fetch(once)
    assert first.status_code == 200 and first.content[:2] == b"\xff\xd8"
    assert (await fetch(once)).status_code == 404
    # A wrong signature is nobody's; a Mastodon token is no pump.io signature.
    forged = Pump(server.url, "alice", OAuth1(alice.auth.client.client_key, "wrong",
                                              resource_owner_key=alice.auth.client.resource_owner_key,
                                              resource_owner_secret="wrong"))
    assert (await forged.get(urls[0])).status == 404
    assert (await fetch(urls[0], **bearer(await server.token("alice")))).status_code == 404

    posted = await alice.activity("post", image)
    assert posted.status == 200
    for url in urls:
        shown = await fetch(url)
        assert shown.status_code == 200, url
        assert shown.headers["Cache-Control"] in (IMMUTABLE, "public, no-cache"), url


async def test_a_stranger_makes_no_missing_rendition_be_rendered(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    image = (await alice.upload(jpeg(tmp_path))).json
    row = await media_row(server, image)
    thumb = rendition_dir(server.config.renditions, row["blob"], row["version"]) / "thumb.jpg"
    thumb.unlink()
    assert (await fetch(image["image"]["url"])).status_code == 404
    assert not thumb.exists()
    mine = await alice.get(image["image"]["url"])
    assert mine.status == 200 and thumb.exists()


async def test_uploads_shown_elsewhere_and_other_apis_uploads_are_public(server: Running, tmp_path: Path,
                                                                        http: aiohttp.ClientSession) -> None:
    alice = await login(server, "alice")
    mastodon = await api(server, http, "alice")
    # Mastodon's and presigned uploads are public before any status uses them, by those APIs' designs.
    made = await mastodon.uploaded(tmp_path, seed=1)
    url = (await mastodon.call("GET", f"/api/v1/media/{made}")).json["url"]
    assert (await fetch(url)).status_code == 200

    # Attached to a status (even a direct one), or made the profile picture: shown, so public.
    for seed, show in ((2, "status"), (3, "avatar")):
        image = (await alice.upload(jpeg(tmp_path, seed=seed))).json
        media_id = image["id"].rsplit("/", 1)[1]
        assert (await fetch(image["fullImage"]["url"])).status_code == 404
        if show == "status":
            answer = await mastodon.call("POST", "/api/v1/statuses",
                                         json={"status": "look", "media_ids": [media_id], "visibility": "direct"})
        else:
            answer = await mastodon.call("PUT", "/identity/current", json={"avatarId": media_id})
        assert answer.status == 200, answer.json
        assert (await fetch(image["fullImage"]["url"])).status_code == 200, show

    # The same bytes uploaded through Mastodon by someone else are public under the same URLs.
    bob = await api(server, http, "bob")
    data = jpeg(tmp_path, seed=4)
    private = (await alice.upload(data)).json
    assert (await fetch(private["fullImage"]["url"])).status_code == 404
    assert (await bob.upload(data)).status == 200
    assert (await fetch(private["fullImage"]["url"])).status_code == 200
