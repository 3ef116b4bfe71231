"""What a posted pump.io activity means: checked against the read model and turned into one event.

Supported: `post` of an uploaded image (publishes it) or of a comment on a posted image or on a note;
`update` of an image's displayName, content, license and tags or of a comment's content; `delete` of
either. A comment on a comment is refused: pump.io clients show replies one level deep. Only the
author may update or delete. Addressing (`to`, `cc`, `bto`, `bcc`) is accepted and ignored: everything
posted is public to the server's users.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from core.events import (
    ActivityPosted,
    CollectionCreated,
    CollectionDeleted,
    CollectionEdited,
    CollectionItemAdded,
    CollectionItemRemoved,
    Followed,
    PostCreated,
    PostDeleted,
    PostEdited,
    Reacted,
    Unfollowed,
    Unreacted,
)
from core.ids import new_media_id
from core.sanitize import safe_html, title_text
from gateways.kit.refusal import Refusal
from gateways.pumpio import follows, notes, reactions
from gateways.pumpio.collections import interpret_collection, interpret_membership
from gateways.pumpio.objects import NO_COMMENT, NO_IMAGE, NO_NOTE, visible
from gateways.pumpio.places import place
from gateways.pumpio.render import MEDIA_OBJECT_TYPES, Site, media_type
from gateways.pumpio.verbs import (
    INVALID_ACTIVITY,
    LICENSE_LIMIT,
    NO_OBJECT_TYPE,
    NOT_IMPLEMENTED,
    TITLE_LIMIT,
    Context,
    Posted,
    local_id,
    object_id,
    only_author,
    tags,
    text,
    unknown_type,
)
from store.queries.activities import posted_note
from store.queries.comments import comment_by_id, parent_owner
from store.queries.media import media_by_id
from store.queries.posts import post_by_note
from store.reader import ProjectionReader
from store.readmodel import FAILED, delete_activity_id, post_activity_id, update_activity_id

# Every object type an activity may name; which verbs take which is each interpreter's to say.
OBJECT_TYPES = (*MEDIA_OBJECT_TYPES, "comment", "note", "collection", "person")

ALREADY_POSTED = "This image has already been posted."
NOT_PROCESSED = "This image could not be processed, so it cannot be posted."
NOT_YOURS = "Not able to post another user's image."
NOT_POSTED = "Post the image before updating it."
ONLY_POSTED = "Only posted images can be commented on."
NO_REPLY_TARGET = "A comment must be in reply to an image or a note (inReplyTo)."
ONLY_REPLIES_TO = "Comments can only reply to images and notes."


Interpreted = (
    ActivityPosted | PostCreated | PostEdited | PostDeleted | Reacted | Unreacted | Followed | Unfollowed
    | CollectionCreated | CollectionEdited | CollectionDeleted | CollectionItemAdded | CollectionItemRemoved
)
Interpreter = Callable[[Context, Posted], Awaitable[Interpreted]]

# Verbs interpreted whatever they act on, and the object types whose post, update and delete have an
# interpreter of their own; images and comments are interpreted below.
BY_VERB: dict[str, Interpreter] = {**reactions.BY_VERB, **follows.BY_VERB, "add": interpret_membership,
                                   "remove": interpret_membership}
BY_TYPE: dict[str, Interpreter] = {"collection": interpret_collection, "note": notes.note}
VERBS = ("post", "update", "delete", *BY_VERB)


def msg_id(event: Interpreted) -> str:
    """The log's de-duplication key: an image is posted once and anything is deleted once, even when two
    requests race past the read-model checks on different replicas; other activities are each their own."""
    if isinstance(event, PostCreated):
        return f"post.{event.post_id}.created"
    if isinstance(event, PostEdited):
        return f"post.{event.post_id}.edited.{uuid.uuid4().hex}"
    if isinstance(event, PostDeleted):
        return f"post.{event.post_id}.deleted"
    if isinstance(event, CollectionEdited | CollectionItemAdded | CollectionItemRemoved):
        # A collection changes many times on one subject: each change is told apart by its own id.
        return f"{event.subject()}.{event.change_id}"
    if not isinstance(event, ActivityPosted):
        # Their ids are made from what the change found, so two racing requests make the same one.
        return event.subject()
    if event.verb == "delete" or (event.verb == "post" and event.object_type == "image"):
        return f"activity.{event.verb}.{event.object_type}.{event.object_id}"
    return f"activity.{event.activity_id}"


def activity_of(event: Interpreted, seq: int) -> str:
    """The pump.io activity an event appended at `seq` shows as: a comment is a post, changed as one."""
    match event:
        case PostCreated():
            return post_activity_id(event.post_id)
        case PostEdited():
            return update_activity_id(event.post_id, seq)
        case PostDeleted():
            return delete_activity_id(event.post_id)
        case ActivityPosted():
            return event.activity_id
        case Reacted() | Unreacted():
            return event.reaction_id
        case Followed() | Unfollowed():
            return event.follow_id
        case CollectionCreated():
            return event.collection_id
    return event.change_id


def parse(body: Any) -> Posted:
    """The activity's verb, object and object type, refused in pump.io's order: shape, verb, object type."""
    if not isinstance(body, dict):
        raise Refusal(400, INVALID_ACTIVITY)
    verb, obj = body.get("verb"), body.get("object")
    if not isinstance(verb, str) or not verb or not isinstance(obj, dict):
        raise Refusal(400, INVALID_ACTIVITY)
    if verb not in VERBS:
        raise Refusal(400, NOT_IMPLEMENTED)
    object_type = obj.get("objectType")
    if object_type is None or object_type == "":
        raise Refusal(400, NO_OBJECT_TYPE)
    if object_type not in OBJECT_TYPES:
        raise Refusal(400, unknown_type(object_type))
    return Posted(verb=verb, obj=obj, object_type=object_type, body=body)


class Activities:
    """Decides what one actor's activity does, reading the actor's own projection."""

    def __init__(self, projection: ProjectionReader, site: Site, *, actor: str, generator: str,
                 content_limit: int) -> None:
        self._context = Context(projection=projection, site=site, actor=actor, generator=generator,
                                content_limit=content_limit)

    async def interpret(self, body: Any) -> Interpreted:
        posted = parse(body)
        verb, obj, object_type = posted.verb, posted.obj, posted.object_type
        interpreter = BY_VERB.get(verb) or BY_TYPE.get(object_type)
        if interpreter is not None:
            return await interpreter(self._context, posted)
        if object_type not in (*MEDIA_OBJECT_TYPES, "comment"):
            raise Refusal(400, unknown_type(object_type))
        if object_type == "comment":
            if verb == "post":
                return await self._comment(obj)
            return await self._change_comment(verb, obj)
        # Posting another's upload is refused as theirs (403), as MediaGoblin does, even while only they see it.
        media = await self._image(obj, object_type, others_unposted=verb == "post")
        if verb == "post":
            return self._post_image(media, obj)
        return self._change_image(verb, media, obj)

    def _event(self, verb: str, object_type: str, object_id: str, **fields: Any) -> ActivityPosted:
        return ActivityPosted(at=time.time(), activity_id=uuid.uuid4().hex, actor=self._context.actor, verb=verb,
                              object_type=object_type, object_id=object_id, generator=self._context.generator,
                              **fields)

    def _image_fields(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "display_name": text(obj, "displayName", TITLE_LIMIT, title_text),
            "content": text(obj, "content", self._context.content_limit, safe_html),
            "license": text(obj, "license", LICENSE_LIMIT, title_text),
            "tags": tags(obj),
            "location": place(obj),
        }

    async def _image(self, obj: dict[str, Any], object_type: str = "image", *,
                     others_unposted: bool = False) -> sqlite3.Row:
        media_id = local_id(object_id(obj), object_type, self._context.site)
        media = await media_by_id(self._context.projection, media_id) if media_id else None
        # Someone else's unposted upload is as good as absent (unless asked for), and so is a video named as
        # an image.
        hidden = media is not None and not others_unposted and not visible(media, self._context.actor)
        if media is None or hidden or media_type(media["kind"]) != object_type:
            raise Refusal(404, NO_IMAGE)
        return media

    def _post_image(self, media: sqlite3.Row, obj: dict[str, Any]) -> ActivityPosted:
        if media["owner_id"] != self._context.actor:
            raise Refusal(403, NOT_YOURS)
        if media["published_at"] is not None:
            raise Refusal(400, ALREADY_POSTED)
        if media["status"] == FAILED:
            raise Refusal(400, NOT_PROCESSED)
        return self._event("post", "image", media["media_id"], **self._image_fields(obj))

    def _change_image(self, verb: str, media: sqlite3.Row, obj: dict[str, Any]) -> ActivityPosted:
        if media["owner_id"] != self._context.actor:
            raise Refusal(403, only_author(verb, "image"))
        if verb == "delete":
            return self._event("delete", "image", media["media_id"])
        # Updates go to the outbox, which every user may read: an unposted image would show through.
        if media["published_at"] is None:
            raise Refusal(400, NOT_POSTED)
        return self._event("update", "image", media["media_id"], **self._image_fields(obj))

    async def _comment(self, obj: dict[str, Any]) -> PostCreated:
        content = text(obj, "content", self._context.content_limit, safe_html) or ""
        target = obj.get("inReplyTo")
        if isinstance(target, str):
            target = {"id": target}
        if not isinstance(target, dict) or "id" not in target:
            raise Refusal(400, NO_REPLY_TARGET)
        # A bare id says its type in its path; anything else is taken for an image, as it always was.
        site = self._context.site
        target_type = target.get("objectType", "note" if local_id(target["id"], "note", site) else "image")
        if target_type not in (*MEDIA_OBJECT_TYPES, "note") or local_id(target["id"], "comment", site):
            raise Refusal(400, ONLY_REPLIES_TO)
        if target_type == "note":
            return await self._note_comment(target, content)
        media = await self._image(target, target_type)
        if media["published_at"] is None:
            raise Refusal(400, ONLY_POSTED)
        # A reply to the post showing the image; an image posted on its own is no post, so then the
        # comment is a post replying to none.
        return PostCreated(at=time.time(), post_id=new_media_id(), author=self._context.actor, text=content,
                           in_reply_to=media["post_id"] or "", via="pumpio", app=self._context.generator,
                           comment_on=media["media_id"], reply_owner=media["owner_id"])

    async def _note_comment(self, target: dict[str, Any], content: str) -> PostCreated:
        note_id = local_id(target["id"], "note", self._context.site)

        def load(conn: sqlite3.Connection) -> tuple[sqlite3.Row, sqlite3.Row] | None:
            # Only a note pump.io shows can be commented on: a status only some may read posted none.
            note = posted_note(conn, note_id) if note_id else None
            post = post_by_note(conn, note_id) if note_id else None
            return None if note is None or post is None else (note, post)

        found = await self._context.projection.read(load)
        if found is None:
            raise Refusal(404, NO_NOTE)
        note, post = found
        # A reply to the post the note is, so Mastodon shows it under that status.
        return PostCreated(at=time.time(), post_id=new_media_id(), author=self._context.actor, text=content,
                           in_reply_to=post["post_id"], via="pumpio", app=self._context.generator,
                           comment_on=note["object_id"], reply_owner=note["actor"])

    async def _change_comment(self, verb: str, obj: dict[str, Any]) -> Interpreted:
        comment_id = local_id(object_id(obj), "comment", self._context.site)
        comment = await comment_by_id(self._context.projection, comment_id) if comment_id else None
        if comment is None:
            raise Refusal(404, NO_COMMENT)
        if comment["author"] != self._context.actor:
            raise Refusal(403, only_author(verb, "comment"))
        parent = comment["in_reply_to"]
        # The image's owner or note's author hears of changes to comments on it, as of the comment itself.
        owner = await self._context.projection.read(lambda conn: parent_owner(conn, parent))
        reply = {"in_reply_to": parent, "reply_owner": owner or None}
        content = text(obj, "content", self._context.content_limit, safe_html)
        post = await self._context.projection.read(lambda conn: post_by_note(conn, comment["comment_id"]))
        if post is not None:
            # The comment is a post: changed as one, so every protocol sees the change.
            named = {"post_id": post["post_id"], "author": self._context.actor, "note_id": comment["comment_id"],
                     "comment_on": comment["in_reply_to"], "reply_owner": reply["reply_owner"] or "",
                     "app": self._context.generator}
            if verb == "delete":
                return PostDeleted(at=time.time(), **named)
            return PostEdited(at=time.time(), text=comment["content"] if content is None else content, **named)
        if verb == "delete":
            return self._event("delete", "comment", comment["comment_id"], **reply)
        return self._event("update", "comment", comment["comment_id"], content=content, **reply)
