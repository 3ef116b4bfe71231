"""Mastodon's list paging: `max_id`, `since_id`, `min_id` and `limit` in, a `Link` header out."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlencode

from aiohttp import web

from gateways.kit.numbers import whole
from store.queries.posts import Window

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
MAX_ID = 2**63 - 1


def _id(request: web.Request, name: str) -> int | None:
    # Ids are numeric; anything else bounds nothing, as Mastodon ignores it.
    return whole(request.query.get(name, ""), MAX_ID)


# Lists of accounts are longer by default, as Mastodon's are.
ACCOUNTS_DEFAULT_LIMIT = 40
ACCOUNTS_MAX_LIMIT = 80


def window(request: web.Request, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Window:
    # Mastodon clamps the limit rather than refusing one out of range.
    raw = request.query.get("limit", "")
    asked = whole(raw, 10**6) if raw else default
    return Window(limit=min(max(asked or default, 1), maximum), max_id=_id(request, "max_id"),
                  since_id=_id(request, "since_id"), min_id=_id(request, "min_id"))


def link(request: web.Request, base: str, rows: list[sqlite3.Row]) -> dict[str, str]:
    """`rel="next"` for older posts than the page's last, `rel="prev"` for newer than its first."""
    return link_on(request, base, [row["post_id"] for row in rows])


def link_on(request: web.Request, base: str, cursors: list[str | int]) -> dict[str, str]:
    """The `Link` header of a page whose entries are ordered by `cursors`, newest first: `rel="next"` below
    the last, `rel="prev"` above the first."""
    if not cursors:
        return {}
    url = f"{base}{request.path}"
    kept = {k: v for k, v in request.query.items() if k not in ("max_id", "since_id", "min_id")}
    older = urlencode({**kept, "max_id": cursors[-1]})
    newer = urlencode({**kept, "min_id": cursors[0]})
    return {"Link": f'<{url}?{older}>; rel="next", <{url}?{newer}>; rel="prev"'}
