"""`GET` and `PUT /identity/current`: the caller's profile picture, one of their own media."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from core.events import AvatarSet
from gateways.kit.media import media_view
from gateways.kit.principal import require
from gateways.kit.services import SERVICES
from gateways.kit.writes import append
from gateways.posts import bodies
from gateways.posts.media import check_usable, media_json
from store.queries import users

READ_SCOPES = ("read", "read:accounts", "write", "write:accounts")
WRITE_SCOPES = ("write", "write:accounts")


async def _identity(request: web.Request, user_id: str) -> dict[str, Any]:
    avatar_id, row = await request.app[SERVICES].projection.read(lambda conn: users.avatar(conn, user_id))
    view = media_view(row, request.app[SERVICES].config.base_url) if row is not None else None
    media = media_json(avatar_id, view) if avatar_id else None
    return {"id": user_id, "avatarId": avatar_id, "avatarUrl": media["url"] if media else None, "avatar": media}


async def get_identity(request: web.Request) -> web.Response:
    principal = await require(request, *READ_SCOPES)
    return web.json_response(await _identity(request, principal.user_id))


async def put_identity(request: web.Request) -> web.Response:
    principal = await require(request, *WRITE_SCOPES)
    change = await bodies.decode(request, bodies.AVATAR)
    user = principal.user_id
    await check_usable(request.app[SERVICES].projection, user, (change.avatar_id,), "avatarId")
    current = await users.avatar_id(request.app[SERVICES].projection, user)
    # Setting the picture a profile already has changes nothing, so it appends nothing either.
    if current != change.avatar_id:
        event = AvatarSet(at=time.time(), user_id=user, media_id=change.avatar_id)
        await append(request, event, msg_id=f"identity.{user}.avatar.{uuid.uuid4().hex}")
    return web.json_response(await _identity(request, user))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/identity/current", get_identity)
    app.router.add_put("/identity/current", put_identity)
