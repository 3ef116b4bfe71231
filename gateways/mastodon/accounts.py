"""Accounts: one by id or by name, its statuses, and the default avatar every account without one shows."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gateways.kit.principal import resolve
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors, paging
from gateways.mastodon.statuses import FOLLOWED, VISIBILITIES, account_json, gather, statuses_json
from gateways.mastodon.timelines import flag
from store.queries.follows import follow
from store.queries.posts import Timeline, page
from store.queries.users import user_by_account, user_row
from store.readmodel import LISTED


def _png(size: int, grey: int) -> bytes:
    """A plain square PNG, so the default avatar needs no file shipped with the code."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    rows = b"".join(b"\0" + bytes([grey]) * size for _ in range(size))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


DEFAULT_AVATAR_PNG = _png(120, 0xC0)


async def default_avatar(request: web.Request) -> web.StreamResponse:
    return web.Response(body=DEFAULT_AVATAR_PNG, content_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})


def account_of(conn: sqlite3.Connection, user: sqlite3.Row, base: str, viewer: str | None) -> dict[str, Any]:
    return account_json(user, gather(conn, [], viewer=viewer, accounts=(user["user_id"],)), base)


async def _viewer(request: web.Request) -> str | None:
    principal = await resolve(request)
    return principal.user_id if principal else None


async def _account(request: web.Request, find: Callable[[sqlite3.Connection], sqlite3.Row | None]) -> web.Response:
    """The Account entity of the user `find` names, as the caller sees it; 404 when it names nobody."""
    viewer = await _viewer(request)
    base = request.app[SERVICES].config.base_url

    def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
        user = find(conn)
        return None if user is None else account_of(conn, user, base, viewer)

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    return web.json_response(found)


async def get_account(request: web.Request) -> web.StreamResponse:
    account_id = request.match_info["id"]
    return await _account(request, lambda conn: user_by_account(conn, account_id))


async def lookup(request: web.Request) -> web.StreamResponse:
    acct = request.query.get("acct", "").removeprefix("@")
    name, _, domain = acct.partition("@")
    if domain and domain != urlsplit(request.app[SERVICES].config.base_url).netloc:
        raise Refusal(404, errors.NOT_FOUND)
    return await _account(request, lambda conn: user_row(conn, name) if name else None)


async def account_statuses(request: web.Request) -> web.StreamResponse:
    account_id = request.match_info["id"]
    viewer = await _viewer(request)
    base = request.app[SERVICES].config.base_url
    window = paging.window(request)
    only_media, exclude_replies = flag(request, "only_media"), flag(request, "exclude_replies")
    # Nothing is ever pinned: a pinned page is empty.
    pinned = flag(request, "pinned")

    def load(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[dict[str, Any]]] | None:
        user = user_by_account(conn, account_id)
        if user is None:
            return None
        if pinned:
            return [], []
        visibilities: tuple[str, ...] = VISIBILITIES if user["user_id"] == viewer else LISTED
        if viewer is not None and user["user_id"] != viewer and follow(conn, viewer, user["user_id"]) is not None:
            # Followers-only posts show to followers.
            visibilities = FOLLOWED
        timeline = Timeline(visibilities=visibilities, author=user["user_id"], only_media=only_media,
                            exclude_replies=exclude_replies)
        rows = page(conn, timeline, window)
        return rows, statuses_json(conn, rows, base, viewer)

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    rows, body = found
    return web.json_response(body, headers=paging.link(request, base, rows))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/avatars/original/missing.png", default_avatar),
        web.get("/api/v1/accounts/lookup", lookup),
        web.get("/api/v1/accounts/{id}", get_account),
        web.get("/api/v1/accounts/{id}/statuses", account_statuses),
    ]
