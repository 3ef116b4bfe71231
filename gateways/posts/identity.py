"""`GET` and `PUT /identity/current`: the caller's profile picture, one of their own media."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from aiohttp import web

from core.events import AvatarSet
from gateways.kit.principal import require
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.posts import bodies
from gateways.posts.media import check_usable, media_json

READ_SCOPES = ("read", "read:accounts", "write", "write:accounts")
WRITE_SCOPES = ("write", "write:accounts")


async def _identity(request: web.Request, user_id: str) -> dict[str, Any]:
    def load(conn: sqlite3.Connection) -> tuple[str | None, sqlite3.Row | None]:
        user = conn.execute("SELECT avatar FROM users WHERE user_id = ?", (user_id,)).fetchone()
        avatar = user["avatar"] if user else None
        if not avatar:
            return None, None
        return avatar, conn.execute("SELECT * FROM media WHERE media_id = ?", (avatar,)).fetchone()

    avatar_id, row = await request.app[SERVICES].projection.read(load)
    media = media_json(avatar_id, row, request.app[SERVICES].config.base_url) if avatar_id else None
    return {"id": user_id, "avatarId": avatar_id, "avatarUrl": media["url"] if media else None, "avatar": media}


async def get_identity(request: web.Request) -> web.Response:
    principal = await require(request, *READ_SCOPES)
    return web.json_response(await _identity(request, principal.user_id))


async def put_identity(request: web.Request) -> web.Response:
    principal = await require(request, *WRITE_SCOPES)
    change = await bodies.decode(request, bodies.AVATAR)
    user = principal.user_id
    await check_usable(request.app[SERVICES].projection, user, (change.avatar_id,), "avatarId")
    current = await request.app[SERVICES].projection.one("SELECT avatar FROM users WHERE user_id = ?", (user,))
    # Setting the picture a profile already has changes nothing, so it appends nothing either.
    if current is None or current["avatar"] != change.avatar_id:
        event = AvatarSet(at=time.time(), user_id=user, media_id=change.avatar_id)
        await append(request, event, msg_id=f"identity.{user}.avatar.{uuid.uuid4().hex}")
    return web.json_response(await _identity(request, user))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/identity/current", get_identity)
    app.router.add_put("/identity/current", put_identity)
