"""The gallery's pages: recent public media at `/`, a user's at `/u/NAME`, and one media at `/u/NAME/m/ID`.

Anyone sees what the protocols already made public (store/queries/gallery.py); an owner also sees their
own unposted, processing and failed media, and the forms that change them.
"""

from __future__ import annotations

import sqlite3

import msgspec
from aiohttp import web
from markupsafe import Markup

from core.sanitize import holds_html, plain_text, safe_html
from gateways.kit.media import MediaView, media_view
from gateways.kit.principal import once_caught_up
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.transform.settings import TransformSettings
from gateways.web.console_events import utc
from gateways.web.pictures import Picture, box, picture
from gateways.web.session import viewer
from gateways.web.templating import page
from store.queries.gallery import Mark, albums, mark, public_media, shown_to, surroundings, users_media
from store.queries.media import media_by_id
from store.queries.users import user_by_id

# Tiles on one page of a gallery.
PAGE = 30
# Comments, collections and albums shown at most on one page.
AROUND = 50
NO_SUCH_USER = "There is no such user"
NO_SUCH_MEDIA = "There is no such media"
BAD_PAGE = "That is not a page of this gallery"


class Tile(msgspec.Struct, frozen=True, kw_only=True):
    href: str
    media: MediaView
    picture: Picture | None
    # Plain text for the picture's alt attribute.
    alt: str


def _alt(media: MediaView) -> str:
    text = media.description or ""
    return plain_text(text) if media.description_html else text


def _tile(request: web.Request, row: sqlite3.Row) -> Tile:
    config = request.app[SERVICES].config
    media = media_view(row, config.base_url)
    return Tile(href=f"/u/{media.owner}/m/{media.id}", media=media,
                picture=picture(media, config.settings(TransformSettings).transform_key), alt=_alt(media))


def _before(request: web.Request) -> Mark | None:
    given = request.query.get("before")
    if given is None:
        return None
    found = mark(given)
    if found is None:
        raise Refusal(400, BAD_PAGE)
    return found


async def home(request: web.Request) -> web.StreamResponse:
    found = await public_media(request.app[SERVICES].projection, _before(request), PAGE)
    return await page(request, "gallery.html", {
        "tiles": [_tile(request, row) for row in found.rows],
        "after": found.after.token() if found.after else "",
    })


async def _user(request: web.Request, name: str) -> sqlite3.Row:
    projection = request.app[SERVICES].projection
    # A user added a moment ago through the CLI or another replica may not be folded here yet.
    row = await once_caught_up(request.app, lambda: user_by_id(projection, name))
    if row is None:
        raise Refusal(404, NO_SUCH_USER)
    return row


async def user(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    await _user(request, name)
    looking = (await viewer(request)).user_id
    projection = request.app[SERVICES].projection
    found = await users_media(projection, name, everything=looking == name, before=_before(request), count=PAGE)
    return await page(request, "user.html", {
        "owner": name,
        "tiles": [_tile(request, row) for row in found.rows],
        "after": found.after.token() if found.after else "",
        "albums": [(album.collection, [_tile(request, row) for row in album.media])
                   for album in await albums(projection, name, looking, AROUND)],
    })


def _html(text: str, kept_html: bool) -> Markup:
    """A comment's, post's or description's text as HTML: kept HTML cut to the whitelist again, plain text
    escaped."""
    return Markup(safe_html(text)) if kept_html else Markup("<p>{}</p>").format(text)


async def media(request: web.Request) -> web.StreamResponse:
    name, media_id = request.match_info["name"], request.match_info["id"]
    looking = (await viewer(request)).user_id
    projection = request.app[SERVICES].projection
    row = await once_caught_up(request.app, lambda: media_by_id(projection, media_id))
    # Somebody's unposted media is answered exactly like media that does not exist.
    if row is None or row["owner_id"] != name or not shown_to(row, looking):
        raise Refusal(404, NO_SUCH_MEDIA)
    tile = _tile(request, row)
    around = await surroundings(projection, row, looking, AROUND)
    width, height = box(tile.media)
    description = tile.media.description or ""
    post = around.post
    return await page(request, "media.html", {
        "owner": name,
        "tile": tile,
        "media": tile.media,
        "width": width,
        "height": height,
        "description": _html(description, tile.media.description_html) if description else "",
        "created": utc(tile.media.created_at),
        # Comments are pump.io's, whose content is HTML.
        "comments": [(comment["author"], _html(comment["content"] or "", True), utc(comment["published"] or 0))
                     for comment in around.comments],
        "post": post,
        "post_text": _html(post["text"], holds_html(post["via"])) if post is not None and post["text"] else "",
        "collections": around.collections,
        "mine": looking == name,
    })


def add_routes(app: web.Application) -> None:
    # pump.io answers HEAD / for its discovery; GET / is the gallery's.
    app.router.add_get("/", home, allow_head=False)
    app.router.add_get("/u/{name}", user)
    app.router.add_get(r"/u/{name}/m/{id}", media)
