"""`GET /api/user/<u>/uploads`: the owner's uploads, posted or not, newest first, to the owner only.

Paged as an image's replies are: `count` and `offset`, with `links.next` while more remain.
"""

from __future__ import annotations

import sqlite3

from aiohttp import web

from gateways.kit.refusal import Refusal
from gateways.kit.responses import json_page
from gateways.kit.services import SERVICES
from gateways.pumpio import render
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.objects import Rows, View, gather
from gateways.pumpio.paging import Window
from gateways.pumpio.render import Site
from gateways.pumpio.users import find_user
from store.queries.uploads import upload_count, upload_ids

NOT_YOUR_UPLOADS = "Only the owner can list their uploads."


async def get_uploads(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    owner = (await find_user(request, request.match_info["user"]))["user_id"]
    if owner != principal.user_id:
        raise Refusal(403, NOT_YOUR_UPLOADS)
    window = Window(request.query)

    def page(conn: sqlite3.Connection) -> tuple[int, list[str], Rows]:
        ids = upload_ids(conn, owner, window.count, window.offset)
        return upload_count(conn, owner), ids, gather(conn, media_ids=ids, user_ids=[owner])

    total, ids, rows = await request.app[SERVICES].projection.read(page)
    site = Site.of(request.app[SERVICES].config)
    view = View(rows, site)
    url = f"{site.user(owner)}/uploads"
    links = window.links(url, len(ids), total)
    body = render.collection(
        display_name=f"Uploads by {owner}", url=url, object_type="image",
        items=[view.image(media_id) for media_id in ids], total=total, links=links, author=view.person(owner),
    )
    return json_page(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/user/{user}/uploads", get_uploads)
    app.router.add_get("/api/user/{user}/uploads/", get_uploads)
