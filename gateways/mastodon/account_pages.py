"""Lists of accounts paged on what put each in the list (a follow, a favourite): followers, following,
favourited_by, reblogged_by."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors, paging
from gateways.mastodon.statuses import account_json, gather

# The users of a page, each with the sequence that pages it, in the page's order; None when the list's
# owner (an account, a status) is not there for the caller, which is a 404.
People = Callable[[sqlite3.Connection, paging.Window], list[tuple[str, int]] | None]


async def account_page(request: web.Request, people: People, viewer: str | None = None) -> web.Response:
    base = request.app[SERVICES].config.base_url
    window = paging.window(request, paging.ACCOUNTS_DEFAULT_LIMIT, paging.ACCOUNTS_MAX_LIMIT)

    def load(conn: sqlite3.Connection) -> tuple[list[str | int], list[dict[str, Any]]] | None:
        page = people(conn, window)
        if page is None:
            return None
        rendered = gather(conn, [], viewer=viewer, accounts=tuple(who for who, _ in page))
        return ([seq for _, seq in page],
                [account_json(rendered.users[who], rendered, base) for who, _ in page if who in rendered.users])

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    cursors, body = found
    return web.json_response(body, headers=paging.link_on(request, base, cursors))
