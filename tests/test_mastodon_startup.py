"""What Mastodon clients ask for as they start: empty answers in Mastodon's shapes, under Mastodon's scopes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from mastodon import Mastodon

from gateways.mastodon.startup import CALLS, PREFERENCES
from tests.servers import Running, bearer
from tests.test_mastodon_ratelimits import issue

EMPTY_LISTS = ("/api/v1/custom_emojis", "/api/v1/notifications", "/api/v1/filters", "/api/v2/filters",
               "/api/v1/lists", "/api/v1/followed_tags", "/api/v1/announcements")
AUTHED = [call for call in CALLS if call.scopes]


async def get(http: aiohttp.ClientSession, server: Running, path: str, token: str | None = None,
              **params: str) -> tuple[int, Any]:
    headers = bearer(token) if token else {}
    async with http.get(f"{server.url}{path}", headers=headers, params=params) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_each_call_answers_its_empty_value(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice", scopes="read")
    for path in EMPTY_LISTS:
        assert await get(http, server, path, token) == (200, []), path
    assert await get(http, server, "/api/v1/preferences", token) == (200, PREFERENCES)
    assert await get(http, server, "/api/v1/markers", token, **{"timeline[]": "home"}) == (200, {})
    # Clients page and filter these; with nothing to show every page is empty.
    assert await get(http, server, "/api/v1/notifications", token, limit="40", **{"types[]": "mention"}) == (200, [])
    assert await get(http, server, "/api/v1/custom_emojis") == (200, [])


async def test_calls_refuse_without_a_token_or_the_scope(server: Running, http: aiohttp.ClientSession) -> None:
    writer = await server.token("alice", scopes="write")
    for call in AUTHED:
        assert await get(http, server, call.path) == (401, {"error": "The access token is invalid"}), call.path
        assert await get(http, server, call.path, writer) == (
            403, {"error": "This action is outside the authorized scopes"}), call.path
    # Granular scopes grant only their own call.
    lists = await issue(server, "alice", cli=False, scopes=("read:lists",))
    assert (await get(http, server, "/api/v1/lists", lists))[0] == 200
    assert (await get(http, server, "/api/v1/preferences", lists))[0] == 403
    accounts = await issue(server, "alice", cli=False, scopes=("read:accounts",))
    assert await get(http, server, "/api/v1/preferences", accounts) == (200, PREFERENCES)
    assert (await get(http, server, "/api/v1/notifications", accounts))[0] == 403
    follow = await issue(server, "alice", cli=False, scopes=("follow",))
    assert await get(http, server, "/api/v1/followed_tags", follow) == (200, [])
    assert (await get(http, server, "/api/v1/lists", follow))[0] == 403


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_instance_advertises_statuses_and_registrations(server: Running, http: aiohttp.ClientSession,
                                                              version: str) -> None:
    status, body = await get(http, server, f"/api/{version}/instance")
    assert status == 200
    assert body["configuration"]["statuses"] == {
        "max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23}
    if version == "v1":
        assert (body["registrations"], body["approval_required"]) == (False, False)
    else:
        assert body["registrations"]["enabled"] is False
        assert body["registrations"]["approval_required"] is False


async def test_mastodon_py_reads_them(server: Running) -> None:
    token = await server.token("alice")

    def use_the_client() -> dict[str, Any]:
        api = Mastodon(access_token=token, api_base_url=server.url, request_timeout=30)
        return {
            "emojis": api.custom_emojis(), "preferences": api.preferences(), "markers": api.markers_get(),
            "notifications": api.notifications(), "filters": api.filters(), "filters_v2": api.filters_v2(),
            "lists": api.lists(), "tags": api.followed_tags(), "announcements": api.announcements(),
            "instance": api.instance(),
        }

    seen = await asyncio.to_thread(use_the_client)
    assert seen["preferences"]["posting:default:visibility"] == "public"
    assert seen["preferences"]["reading:expand:spoilers"] is False
    assert seen["markers"] == {}
    for key in ("emojis", "notifications", "filters", "filters_v2", "lists", "tags", "announcements"):
        assert list(seen[key]) == [], key
    assert seen["instance"]["configuration"]["statuses"]["max_characters"] == 500


async def test_toot_reads_them(server: Running) -> None:
    from toot import App, User, api

    token = await server.token("alice")
    host = server.url.split("://", 1)[1]
    app, user = App(host, server.url, "", ""), User(host, "alice", token)

    def use_toot() -> tuple[Any, ...]:
        return (api.get_preferences(app, user).json(), api.get_lists(app, user), api.followed_tags(app, user),
                api.get_notifications(app, user).json(), api.get_instance(server.url).json())

    preferences, lists, tags, notifications, instance = await asyncio.to_thread(use_toot)
    assert preferences == PREFERENCES
    assert (lists, tags, notifications) == ([], [], [])
    assert instance["configuration"]["statuses"]["max_media_attachments"] == 4
