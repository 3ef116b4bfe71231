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


def window(request: web.Request) -> Window:
    # Mastodon clamps the limit rather than refusing one out of range.
    raw = request.query.get("limit", "")
    asked = whole(raw, 10**6) if raw else DEFAULT_LIMIT
    return Window(limit=min(max(asked or DEFAULT_LIMIT, 1), MAX_LIMIT), max_id=_id(request, "max_id"),
                  since_id=_id(request, "since_id"), min_id=_id(request, "min_id"))


def link(request: web.Request, base: str, rows: list[sqlite3.Row]) -> dict[str, str]:
    """`rel="next"` for older posts than the page's last, `rel="prev"` for newer than its first."""
    if not rows:
        return {}
    url = f"{base}{request.path}"
    kept = {k: v for k, v in request.query.items() if k not in ("max_id", "since_id", "min_id")}
    older = urlencode({**kept, "max_id": rows[-1]["post_id"]})
    newer = urlencode({**kept, "min_id": rows[0]["post_id"]})
    return {"Link": f'<{url}?{older}>; rel="next", <{url}?{newer}>; rel="prev"'}
