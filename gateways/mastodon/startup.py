"""The calls Mastodon clients make as they start, answered with what an account that has none of it holds.

Mediaplex has no custom emojis, notifications, filters, lists, followed tags, announcements or saved
timeline positions; clients (toot's TUI, Mastodon.py) ask for them on start and treat a 404 as a broken
server, so each answers Mastodon's empty value under Mastodon's scopes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from gateways.kit.principal import Principal
from gateways.mastodon.media import requires

# Mastodon's keys for an account that never changed its preferences.
PREFERENCES: dict[str, Any] = {
    "posting:default:visibility": "public",
    "posting:default:sensitive": False,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
}


class Call(msgspec.Struct, frozen=True):
    path: str
    # What it always answers: an empty list, or the object Mastodon answers for an account with nothing saved.
    answer: Any
    # Mastodon's: the first grants them all (`read` grants every `read:*`); none for a public call.
    scopes: tuple[str, ...]
    summary: str
    operation_id: str


CALLS: tuple[Call, ...] = (
    Call("/api/v1/custom_emojis", [], (), "The instance's custom emojis (none)",
         "getCustomEmojis"),
    Call("/api/v1/preferences", PREFERENCES, ("read", "read:accounts"), "The account's posting and reading defaults",
         "getPreferences"),
    Call("/api/v1/markers", {}, ("read", "read:statuses"), "Saved timeline positions (none), by timeline",
         "getMarkers"),
    Call("/api/v1/notifications", [], ("read", "read:notifications"), "Notifications (none)",
         "getNotifications"),
    Call("/api/v1/filters", [], ("read", "read:filters"), "Keyword filters, v1 (none)",
         "getFiltersV1"),
    Call("/api/v2/filters", [], ("read", "read:filters"), "Keyword filters, v2 (none)",
         "getFiltersV2"),
    Call("/api/v1/lists", [], ("read", "read:lists"), "The account's lists (none)",
         "getLists"),
    Call("/api/v1/followed_tags", [], ("read", "read:follows", "follow"), "Followed hashtags (none)",
         "getFollowedTags"),
    Call("/api/v1/announcements", [], ("read",), "Instance announcements (none)",
         "getAnnouncements"),
)


def _handler(call: Call) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def public(request: web.Request) -> web.StreamResponse:
        return web.json_response(call.answer)

    async def authed(request: web.Request, principal: Principal) -> web.StreamResponse:
        return web.json_response(call.answer)

    return requires(*call.scopes)(authed) if call.scopes else public


def routes() -> list[web.RouteDef]:
    return [web.get(call.path, _handler(call)) for call in CALLS]
