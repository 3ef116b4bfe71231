"""The owner's forms on a media page: describe the media, set its focus point, delete it.

The same changes as Mastodon's `PUT` and `DELETE /api/v1/media/:id` (gateways.kit.media_changes), posted as
forms carrying the login session's CSRF token. Anyone else's media, or a media under another user's name,
is a 404: the page never tells whether such a media exists.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

from aiohttp import web

from gateways.kit import attachments, bodies, media_changes, post_events, writes
from gateways.kit.bodies import FormCaps
from gateways.kit.media import media_view
from gateways.kit.post_events import attached
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon.settings import MastodonSettings
from gateways.web.session import Viewer, checked_form, see_other, signed_in
from gateways.web.templating import page
from store.queries.comments import commented
from store.queries.media import media_by_id
from store.queries.posts import post_by_id
from store.queries.users import avatar_id

# The focus and delete forms: a token and two short numbers.
FORM = FormCaps(max_bytes=4 * 1024, max_fields=4, max_name=32, max_value=256)
NO_MEDIA = "There is no such media here"
BAD_FOCUS = ("The focus point must be two numbers from -1 to 1: x from the left edge (-1) to the right (1), "
             "y from the bottom (-1) to the top (1)")
IN_USE = ("This media is shown as a profile picture or in a post beside other media; remove it there before "
          "deleting it")
NO_DESCRIPTION = "The form carries no description"


def too_long(limit: int, length: int) -> str:
    return f"The description is {length} characters long; it may be at most {limit}"


def description_limit(request: web.Request) -> int:
    # Mastodon clients read the same description, and the instance tells them this limit.
    return request.app[SERVICES].config.settings(MastodonSettings).description_limit


def description_form(limit: int) -> FormCaps:
    """Room for a description of `limit` characters of four UTF-8 bytes each, percent-encoded three bytes a
    byte: one a little too long is told its length, not that the body is too large."""
    return FormCaps(max_bytes=12 * limit + FORM.max_bytes, max_fields=4, max_name=32, max_value=4 * limit + 256)


def page_of(name: str, media_id: str) -> str:
    return f"/u/{quote(name, safe='')}/m/{quote(media_id, safe='')}"


async def owned(request: web.Request, viewer: Viewer) -> sqlite3.Row:
    """The media the path names, when it is the viewer's and the path's user is its owner."""
    name, media_id = request.match_info["name"], request.match_info["id"]
    row = await media_by_id(request.app[SERVICES].projection, media_id)
    if row is None or row["owner_id"] != viewer.user_id or row["owner_id"] != name:
        raise Refusal(404, NO_MEDIA)
    return row


async def describe(request: web.Request) -> web.StreamResponse:
    limit = description_limit(request)
    form = await bodies.read_form(request, description_form(limit))
    row = await owned(request, await checked_form(request, form))
    if "description" not in form:
        raise Refusal(400, NO_DESCRIPTION)
    # A browser sends a textarea's line breaks as CRLF; kept as typed, they count one character each.
    text = form["description"].replace("\r\n", "\n")
    try:
        description = media_changes.check_description(text, limit)
    except media_changes.DescriptionTooLong as exc:
        raise Refusal(422, too_long(exc.limit, exc.length)) from None
    await media_changes.update(request, row["media_id"], description=description)
    return see_other(page_of(row["owner_id"], row["media_id"]))


async def set_focus(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    row = await owned(request, await checked_form(request, form))
    try:
        point = media_changes.focus_point(form.get("x", ""), form.get("y", ""))
    except media_changes.BadFocus:
        raise Refusal(422, BAD_FOCUS) from None
    await media_changes.update(request, row["media_id"], focus=point)
    return see_other(page_of(row["owner_id"], row["media_id"]))


async def its_post(request: web.Request, row: sqlite3.Row) -> sqlite3.Row | None:
    """The owner's post that shows this media and nothing else, as the upload page posts each file: deleting
    the media deletes that post with it. None for no post, or one that shows more than this media."""
    if row["post_id"] is None:
        return None
    projection = request.app[SERVICES].projection
    post = await projection.read(lambda conn: post_by_id(conn, row["post_id"]))
    if post is None or post["author"] != row["owner_id"] or attached(post) != (row["media_id"],):
        return None
    return post


async def confirm_delete(request: web.Request) -> web.StreamResponse:
    row = await owned(request, await signed_in(request))
    media = media_view(row, request.app[SERVICES].config.base_url)
    post = await its_post(request, row)
    return await page(request, "delete.html", {"media": media, "owner": row["owner_id"],
                                               "post_text": None if post is None else post["text"] or ""})


async def _delete_post(request: web.Request, post: sqlite3.Row) -> None:
    services = request.app[SERVICES]
    event = post_events.deleted(post, await commented(services.projection, post))
    await writes.append(request, event, msg_id=f"post.{post['post_id']}.deleted")
    await attachments.release(services.buckets, event.attachments, post["post_id"])


async def delete(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    viewer = await checked_form(request, form)
    row = await owned(request, viewer)
    post = await its_post(request, row)
    if post is not None:
        # A profile picture stays, and so does the post showing it.
        if await avatar_id(request.app[SERVICES].projection, row["owner_id"]) == row["media_id"]:
            raise Refusal(422, IN_USE)
        await _delete_post(request, post)
        # Read again: the post's delete let go of the media.
        row = await owned(request, viewer)
    try:
        await media_changes.delete(request, row)
    except media_changes.InUse:
        raise Refusal(422, IN_USE) from None
    return see_other(f"/u/{quote(row['owner_id'], safe='')}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/u/{name}/m/{id}/description", describe)
    app.router.add_post("/u/{name}/m/{id}/focus", set_focus)
    app.router.add_get("/u/{name}/m/{id}/delete", confirm_delete)
    app.router.add_post("/u/{name}/m/{id}/delete", delete)
