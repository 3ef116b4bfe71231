"""pump.io notes: `post`, `update` and `delete` of a `note`, each the same post event a Mastodon status is.

A note is posted public through pump.io's client (the activity's generator) and may attach up to four of
the author's own uploads (images, videos, audio), named by their pump.io ids; each must be unposted and
attached to nothing else, and posting the note publishes them as posting a status does. Only the author
updates (its content) or deletes a note. A media claims its one post in the shared bucket before the event
is appended (`claim`), and is given back once a delete lets go of it (`release`).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from core.events import PostCreated, PostDeleted, PostEdited
from core.ids import new_media_id
from core.sanitize import holds_html, plain_text, safe_html, title_text
from gateways.kit import attachments as claims
from gateways.kit import post_events
from gateways.kit.keyvalue import Buckets
from gateways.kit.refusal import Refusal
from gateways.pumpio.objects import NO_NOTE
from gateways.pumpio.render import media_type
from gateways.pumpio.verbs import TITLE_LIMIT, Context, Posted, local_id, object_id, only_author, text
from store.queries.activities import posted_note
from store.queries.media import media_by_ids
from store.queries.posts import post_by_note
from store.reader import ProjectionReader
from store.readmodel import FAILED

ATTACHMENTS_LIMIT = 4
MEDIA_TYPES = ("image", "video", "audio")

BAD_ATTACHMENTS = f"'attachments' must be a list of at most {ATTACHMENTS_LIMIT} objects, each with an 'id'."
REPEATED = "An attachment is named more than once."
EMPTY_NOTE = "A note needs content or at least one attachment."
NO_MEDIA = "No such image"
NOT_YOUR_MEDIA = "Not able to attach another user's image."
ATTACHED = "This image is already posted or attached to another note."
NOT_PROCESSED = "This image could not be processed, so it cannot be attached."


async def _attachments(context: Context, obj: dict[str, Any]) -> tuple[str, ...]:
    """The media ids the note attaches, each checked: the author's, unposted, unattached, processed."""
    given = obj.get("attachments")
    if given is None:
        return ()
    if not isinstance(given, list) or len(given) > ATTACHMENTS_LIMIT:
        raise Refusal(400, BAD_ATTACHMENTS)
    wanted: list[tuple[str, str]] = []
    for item in given:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise Refusal(400, BAD_ATTACHMENTS)
        kind = item.get("objectType")
        kinds = MEDIA_TYPES if kind is None else (kind,) if kind in MEDIA_TYPES else ()
        found = next((i for k in kinds if (i := local_id(item["id"], k, context.site))), None)
        if found is None:
            raise Refusal(404, NO_MEDIA)
        wanted.append((found, kind or ""))
    ids = tuple(media_id for media_id, _ in wanted)
    if len(set(ids)) != len(ids):
        raise Refusal(400, REPEATED)
    rows = await context.projection.read(lambda conn: media_by_ids(conn, ids))
    for media_id, kind in wanted:
        row = rows.get(media_id)
        # Someone else's unposted upload is as good as absent, and so is a video named as an image.
        mine = row is not None and row["owner_id"] == context.actor
        if row is None or (not mine and row["published_at"] is None) or kind not in ("", media_type(row["kind"])):
            raise Refusal(404, NO_MEDIA)
        if not mine:
            raise Refusal(403, NOT_YOUR_MEDIA)
        if row["published_at"] is not None or row["post_id"] is not None:
            raise Refusal(400, ATTACHED)
        if row["status"] == FAILED:
            raise Refusal(400, NOT_PROCESSED)
    return ids


async def _post(context: Context, obj: dict[str, Any]) -> PostCreated:
    content = text(obj, "content", context.content_limit, safe_html) or ""
    title = text(obj, "displayName", TITLE_LIMIT, title_text) or ""
    ids = await _attachments(context, obj)
    if not content.strip() and not ids:
        raise Refusal(400, EMPTY_NOTE)
    return PostCreated(at=time.time(), post_id=new_media_id(), author=context.actor, text=content,
                       attachments=ids, visibility="public", via="pumpio", app=context.generator, title=title)


async def _own_note(context: Context, verb: str, obj: dict[str, Any]) -> sqlite3.Row:
    note_id = local_id(object_id(obj), "note", context.site)

    def load(conn: sqlite3.Connection) -> sqlite3.Row | None:
        # A comment is a post too but posted no note, nor did a status only some may read.
        if not note_id or posted_note(conn, note_id) is None:
            return None
        return post_by_note(conn, note_id)

    post = await context.projection.read(load)
    if post is None:
        raise Refusal(404, NO_NOTE)
    if post["author"] != context.actor:
        raise Refusal(403, only_author(verb, "note"))
    return post


async def note(context: Context, posted: Posted) -> PostCreated | PostEdited | PostDeleted:
    obj = posted.obj
    if posted.verb == "post":
        return await _post(context, obj)
    post = await _own_note(context, posted.verb, obj)
    if posted.verb == "delete":
        return post_events.deleted(post, {}, app=context.generator)
    content = text(obj, "content", context.content_limit, safe_html)
    if content is not None and not holds_html(post["via"]):
        # A status or a `/posts` body keeps its plain text, whichever protocol edits it.
        content = plain_text(content)
    body = post["text"] if content is None else content
    if not body.strip() and not post_events.attached(post):
        raise Refusal(400, EMPTY_NOTE)
    # Only the content changes; what else the post says stays as it is, whichever protocol posted it.
    return PostEdited(at=time.time(), post_id=post["post_id"], author=context.actor, text=body,
                      attachments=post_events.attached(post), detached=(), sensitive=bool(post["sensitive"]),
                      spoiler_text=post["spoiler_text"], language=post["language"] or "", app=context.generator,
                      **post_events.note_of(post))


async def claim(buckets: Buckets, projection: ProjectionReader, event: object) -> None:
    """A new note's media claims this post before it is appended; a racing post then finds them taken."""
    if isinstance(event, PostCreated) and event.attachments and not event.comment_on:
        if await claims.claim(buckets, projection, event.attachments, event.post_id):
            raise Refusal(400, ATTACHED)


async def release(buckets: Buckets, event: object, *, landed: bool = True) -> None:
    """Gives back the claims of media the event let go of, or of a new note whose event never landed."""
    if isinstance(event, PostCreated) and not landed:
        await claims.release(buckets, event.attachments, event.post_id)
    elif isinstance(event, PostDeleted) and landed:
        await claims.release(buckets, event.attachments, event.post_id)
