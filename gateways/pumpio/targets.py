"""The local object an activity names by its pump.io id: an upload (image, video, audio), a note or a
comment, as the actor may see it; anything else is as good as absent (404 with the object's own text)."""

from __future__ import annotations

from typing import Any

import msgspec

from gateways.kit.refusal import Refusal
from gateways.pumpio import render
from gateways.pumpio.objects import NO_COMMENT, NO_IMAGE, NO_NOTE, visible
from gateways.pumpio.verbs import Context, local_id, object_id
from store.queries.activities import posted_note
from store.queries.comments import comment_by_id
from store.queries.media import media_by_id

# The object types found here; a caller refuses any other type in its own words.
TARGET_TYPES = (*render.MEDIA_OBJECT_TYPES, "note", "comment")


class Target(msgspec.Struct, frozen=True):
    """The object found: its local id, whose it is, and whether it was posted (an upload may not be yet)."""

    object_id: str
    owner: str
    posted: bool = True


async def target(context: Context, obj: dict[str, Any], object_type: str) -> Target:
    """The object `obj` names as one of TARGET_TYPES; someone else's unposted upload, and a video named as an
    image, are not found."""
    named = object_id(obj)
    projection, site = context.projection, context.site
    if object_type in render.MEDIA_OBJECT_TYPES:
        media_id = local_id(named, object_type, site)
        media = await media_by_id(projection, media_id) if media_id else None
        if media is None or not visible(media, context.actor) or render.media_type(media["kind"]) != object_type:
            raise Refusal(404, NO_IMAGE)
        return Target(str(media["media_id"]), str(media["owner_id"]), posted=media["published_at"] is not None)
    if object_type == "note":
        note_id = local_id(named, "note", site)
        note = await projection.read(lambda conn: posted_note(conn, note_id)) if note_id else None
        if note is None:
            raise Refusal(404, NO_NOTE)
        return Target(str(note["object_id"]), str(note["actor"]))
    comment_id = local_id(named, "comment", site)
    comment = await comment_by_id(projection, comment_id) if comment_id else None
    if comment is None:
        raise Refusal(404, NO_COMMENT)
    return Target(str(comment["comment_id"]), str(comment["author"]))
