"""Mastodon.py, the real client library, against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mastodon import Mastodon

from tests import images
from tests.servers import Running


def client(server: Running, token: str) -> Mastodon:
    return Mastodon(access_token=token, api_base_url=server.url, request_timeout=30)


async def test_media_post_synchronous_and_media_update(server: Running, tmp_path: Path) -> None:
    token = await server.token("alice")
    photo = images.jpeg(tmp_path / "photo.jpg", 3024, 4032, flat=True)

    def use_the_client() -> tuple[dict, dict, dict, str]:
        api = client(server, token)
        posted = api.media_post(str(photo), description="a heron", focus=(0.25, -0.5), synchronous=True)
        updated = api.media_update(posted, description="a grey heron", focus=(0.0, 0.0))
        fetched = api.media(posted)
        return posted, updated, fetched, api.retrieve_mastodon_version()

    posted, updated, fetched, version = await asyncio.to_thread(use_the_client)
    assert version == "4.5.0"
    assert posted["url"] and posted["preview_url"]
    assert len(posted["blurhash"]) == 36
    assert posted["meta"]["original"]["width"] == 2494 and posted["meta"]["original"]["height"] == 3325
    assert posted["meta"]["small"]["width"] == 415 and posted["meta"]["small"]["height"] == 554
    assert posted["meta"]["focus"] == {"x": 0.25, "y": -0.5}
    assert posted["description"] == "a heron"
    assert updated["description"] == "a grey heron"
    assert fetched["description"] == "a grey heron"
    assert fetched["meta"]["focus"] == {"x": 0.0, "y": 0.0}


async def test_account_and_instance_through_the_client(server: Running) -> None:
    token = await server.token("alice")

    def use_the_client() -> tuple[dict, dict]:
        api = client(server, token)
        return api.account_verify_credentials(), api.instance_v2()

    account, instance = await asyncio.to_thread(use_the_client)
    assert account["username"] == "alice"
    assert instance["configuration"]["media_attachments"]["image_size_limit"] == 16_777_216


async def test_client_sees_refusals_as_api_errors(server: Running, tmp_path: Path) -> None:
    from mastodon.errors import MastodonAPIError, MastodonUnauthorizedError

    token = await server.token("alice")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    def refused() -> tuple[str, str]:
        api = client(server, token)
        with pytest.raises(MastodonAPIError) as wrong_type:
            api.media_post(str(text), mime_type="image/png")
        with pytest.raises(MastodonUnauthorizedError) as no_token:
            client(server, "wrong").media_post(str(text), mime_type="image/png")
        return str(wrong_type.value), str(no_token.value)

    wrong_type, no_token = await asyncio.to_thread(refused)
    assert "File type of uploaded media could not be verified" in wrong_type
    assert "The access token is invalid" in no_token
