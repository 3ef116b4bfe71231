"""`/api/v1/statuses`: post, read, edit and delete statuses, which are protocol-neutral posts.

A status is a PostCreated in the log, so it is also a note in the author's pump.io feeds and a post
through `/posts`; a note posted there reads as a status here. Someone else's status is refused with
Mastodon's 404, as an unknown id is, whether it is edited, deleted or (when not listed) read.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

import msgspec
from aiohttp import web

from core.events import Focus, MediaUpdated, PostCreated, PostEdited
from core.ids import new_media_id
from core.log import LogUnavailable
from core.sanitize import holds_html, text_as_safe_html
from gateways.kit import attachments, post_events, writes
from gateways.kit.keyvalue import Bucket, KeyExists
from gateways.kit.media import media_view
from gateways.kit.principal import Principal, resolve
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors, status_form
from gateways.mastodon.media import check_description, parse_focus, requires
from gateways.mastodon.render import (
    DEFAULT_AVATAR,
    Reactions,
    account,
    account_id,
    attachment,
    iso_time,
    post_html,
    post_source,
    status,
)
from gateways.mastodon.settings import MastodonSettings
from gateways.mastodon.status_form import StatusForm
from store.queries.apps import app_by_client_id
from store.queries.comments import commented
from store.queries.follows import follow, people_count
from store.queries.media import media_by_ids
from store.queries.posts import last_post_at, post_by_id, post_count, posts_by_ids, versions
from store.queries.reactions import reacted, reaction_counts
from store.queries.users import users_by_ids
from store.readmodel import FAILED, LISTED, PROCESSING, READY

MAX_CHARACTERS = 500
MAX_MEDIA = 4
VISIBILITIES = ("public", "unlisted", "private", "direct")
# What a follower sees of the account followed: direct statuses mention nobody here, so reach only their author.
FOLLOWED = ("public", "unlisted", "private")
IDEMPOTENCY_TTL = 3600.0
IDEMPOTENCY_BUCKET = "mastodon-idempotency"

TEXT_BLANK = "Validation failed: Text can't be blank"
COMMENT_MEDIA = "Validation failed: A comment on an image cannot have media attached"
TEXT_TOO_LONG = f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"
TOO_MANY_MEDIA = f"Cannot attach more than {MAX_MEDIA} files"
BAD_VISIBILITY = "Validation failed: Visibility is not included in the list"
MEDIA_PROCESSING = "Cannot attach files that have not finished processing. Try again in a moment!"
MEDIA_FAILED = "Validation failed: Media attachments could not be processed"
IDEMPOTENCY_MISMATCH = "Validation failed: Idempotency-Key was already used for another status"


def media_not_found(ids: list[str]) -> str:
    return f"Validation failed: Media attachments {', '.join(ids)} not found"


def media_attached(ids: list[str]) -> str:
    return f"Validation failed: Media attachments {', '.join(ids)} are already attached to a status"


class Rendered(msgspec.Struct, frozen=True):
    """What statuses are shown with: their authors' users and avatars, and their media."""

    users: dict[str, sqlite3.Row]
    media: dict[str, sqlite3.Row]
    counts: dict[str, tuple[int, float | None]]
    # The author of each post replied to, by post id.
    replied: dict[str, str] = {}
    # Favorites and shares (reblogs) of each post, by (post id, kind), whichever protocol made them, and
    # which of them are the viewer's; each account's followers and followed.
    reactions: dict[tuple[str, str], int] = {}
    reacted: set[tuple[str, str]] = set()
    follows: dict[str, tuple[int, int]] = {}


def attachment_ids(post: sqlite3.Row) -> list[str]:
    return list(msgspec.json.decode(post["attachments"], type=list[str])) if post["attachments"] else []


def gather(conn: sqlite3.Connection, posts: list[sqlite3.Row], *, viewer: str | None = None,
           accounts: tuple[str, ...] = ()) -> Rendered:
    """What `posts` and the `accounts` of these users are shown with, in one snapshot."""
    authors = {post["author"] for post in posts} | set(accounts)
    users = users_by_ids(conn, authors)
    wanted = [media_id for post in posts for media_id in attachment_ids(post)]
    wanted += [user["avatar"] for user in users.values() if user["avatar"]]
    counts = {author: (post_count(conn, author, VISIBILITIES if author == viewer else LISTED),
                       last_post_at(conn, author)) for author in authors}
    targets = posts_by_ids(conn, [post["in_reply_to"] for post in posts if post["in_reply_to"]])
    # Reactions name a post by its note, as pump.io does.
    shown = [post["note_id"] for post in posts]
    return Rendered(users=users, media=media_by_ids(conn, wanted), counts=counts,
                    replied={post_id: row["author"] for post_id, row in targets.items()},
                    reactions=reaction_counts(conn, shown), reacted=reacted(conn, viewer, shown) if viewer else set(),
                    follows={author: (people_count(conn, author, "followers"), people_count(conn, author, "following"))
                             for author in authors})


def avatar_url(user: sqlite3.Row, media: dict[str, sqlite3.Row], base: str) -> str:
    row = media.get(user["avatar"]) if user["avatar"] else None
    if row is not None and row["status"] == READY:
        url = media_view(row, base).url("original")
        if url:
            return url
    return f"{base}{DEFAULT_AVATAR}"


def account_json(user: sqlite3.Row, rendered: Rendered, base: str) -> dict[str, Any]:
    count, last = rendered.counts.get(user["user_id"], (0, None))
    followers, following = rendered.follows.get(user["user_id"], (0, 0))
    return account(user, base, avatar_url=avatar_url(user, rendered.media, base), statuses=count,
                   last_status_at=last, followers=followers, following=following)


def status_json(post: sqlite3.Row, rendered: Rendered, base: str) -> dict[str, Any]:
    user = rendered.users.get(post["author"])
    author = account_json(user, rendered, base) if user is not None else {}
    media = [media_view(rendered.media[i], base) for i in attachment_ids(post) if i in rendered.media]
    replied = rendered.replied.get(post["in_reply_to"]) if post["in_reply_to"] else None
    post_id = post["note_id"]
    reactions = Reactions(favourites=rendered.reactions.get((post_id, "favorite"), 0),
                          reblogs=rendered.reactions.get((post_id, "share"), 0),
                          favourited=(post_id, "favorite") in rendered.reacted,
                          reblogged=(post_id, "share") in rendered.reacted)
    return status(post, author, media, base, reply_account=account_id(replied) if replied else None,
                  reactions=reactions)


def statuses_json(conn: sqlite3.Connection, posts: list[sqlite3.Row], base: str,
                  viewer: str | None = None) -> list[dict[str, Any]]:
    rendered = gather(conn, posts, viewer=viewer)
    return [status_json(post, rendered, base) for post in posts]


def readable(conn: sqlite3.Connection, post: sqlite3.Row | None, viewer: str | None) -> bool:
    """Whether the viewer may see the post: a listed one anybody, a private one its author's followers too,
    a direct one (which mentions nobody here) only its author, as Mastodon's status policy has it."""
    if post is None:
        return False
    if post["visibility"] in LISTED or post["author"] == viewer:
        return True
    return post["visibility"] == "private" and viewer is not None and follow(conn, viewer, post["author"]) is not None


async def _one(request: web.Request, post_id: str, viewer: str | None) -> dict[str, Any]:
    base = request.app[SERVICES].config.base_url

    def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
        post = post_by_id(conn, post_id)
        if not readable(conn, post, viewer):
            return None
        assert post is not None
        return statuses_json(conn, [post], base, viewer)[0]

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    return found


async def _own(request: web.Request, principal: Principal) -> sqlite3.Row:
    post_id = request.match_info["id"]
    post = await request.app[SERVICES].projection.read(lambda conn: post_by_id(conn, post_id))
    if post is None or post["author"] != principal.user_id:
        raise Refusal(404, errors.NOT_FOUND)
    return post


def _text(form: StatusForm, media: tuple[str, ...]) -> str:
    text = form.text or ""
    if not text.strip() and not media:
        raise Refusal(422, TEXT_BLANK)
    if len(text) > MAX_CHARACTERS:
        raise Refusal(422, TEXT_TOO_LONG)
    return text


def _media_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(ids))
    if len(unique) > MAX_MEDIA:
        raise Refusal(422, TOO_MANY_MEDIA)
    return unique


async def _check_media(request: web.Request, owner: str, ids: tuple[str, ...], keep: tuple[str, ...] = ()) -> None:
    """Each media must be the caller's, processed, and attached to nothing but (when editing) this post."""
    rows = await request.app[SERVICES].projection.read(lambda conn: media_by_ids(conn, ids))
    missing = [i for i in ids if i not in rows or rows[i]["owner_id"] != owner]
    if missing:
        raise Refusal(422, media_not_found(missing))
    attached = [i for i in ids if i not in keep and (rows[i]["published_at"] is not None
                                                      or rows[i]["post_id"] is not None)]
    if attached:
        raise Refusal(422, media_attached(attached))
    if any(rows[i]["status"] == PROCESSING for i in ids):
        raise Refusal(422, MEDIA_PROCESSING)
    if any(rows[i]["status"] == FAILED for i in ids):
        raise Refusal(422, MEDIA_FAILED)


def _attribute_changes(request: web.Request, form: StatusForm, ids: tuple[str, ...]) -> list[MediaUpdated]:
    """Every media change `media_attributes` asks for, all checked before any is written."""
    limit = request.app[SERVICES].config.settings(MastodonSettings).description_limit
    changes: list[MediaUpdated] = []
    for attribute in form.media_attributes:
        if attribute.id not in ids:
            continue
        description = None if attribute.description is None else check_description(attribute.description, limit)
        focus: Focus | None = parse_focus(attribute.focus) if attribute.focus else None
        if description is not None or focus is not None:
            changes.append(MediaUpdated(at=time.time(), media_id=attribute.id, description=description, focus=focus))
    return changes


async def _apply(request: web.Request, changes: list[MediaUpdated]) -> None:
    for event in changes:
        await writes.append(request, event, msg_id=f"{event.media_id}.updated.{time.time_ns()}")


async def _claim_media(request: web.Request, ids: tuple[str, ...], post_id: str) -> None:
    taken = await attachments.claim(request.app[SERVICES].buckets, request.app[SERVICES].projection, ids, post_id)
    if taken:
        raise Refusal(422, media_attached(taken))


def _visibility(form: StatusForm) -> str:
    visibility = form.visibility or "public"
    if visibility not in VISIBILITIES:
        raise Refusal(422, BAD_VISIBILITY)
    return visibility


async def app_name(request: web.Request, principal: Principal) -> str:
    """The name of the app the status is posted through, as the Status entity's `application` shows it."""
    if not principal.client_id:
        return ""
    app = await app_by_client_id(request.app[SERVICES].projection, principal.client_id)
    return str(app["name"]) if app is not None else ""


async def _reply_target(request: web.Request, form: StatusForm, viewer: str) -> str:
    if not form.in_reply_to_id:
        return ""
    target = form.in_reply_to_id
    seen = await request.app[SERVICES].projection.read(lambda conn: readable(conn, post_by_id(conn, target), viewer))
    if not seen:
        raise Refusal(404, errors.NOT_FOUND)
    return target


class Claim(msgspec.Struct, frozen=True):
    digest: str
    post_id: str


class Idempotency(msgspec.Struct, frozen=True):
    """One caller's Idempotency-Key, kept for an hour in a bucket every replica shares."""

    name: str
    digest: str


def _idempotency(request: web.Request, principal: Principal, data: bytes) -> Idempotency | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    digest = hashlib.sha256(data + b"\0" + request.query_string.encode()).hexdigest()
    return Idempotency(name=hashlib.sha256(f"{principal.user_id}\0{key}".encode()).hexdigest(), digest=digest)


async def _keys(request: web.Request) -> Bucket:
    """The bucket of Idempotency-Keys, shared by every replica, each kept for an hour."""
    return await request.app[SERVICES].buckets.open(IDEMPOTENCY_BUCKET, ttl=IDEMPOTENCY_TTL)


async def _earlier(request: web.Request, key: Idempotency) -> str | None:
    """The post an earlier request with this key made; a 422 when that request had another body."""
    bucket = await _keys(request)
    entry = await bucket.get(key.name)
    if entry is None:
        return None
    earlier = msgspec.json.decode(entry.value, type=Claim)
    if earlier.digest != key.digest:
        raise Refusal(422, IDEMPOTENCY_MISMATCH)
    return earlier.post_id


async def _claim(request: web.Request, key: Idempotency, post_id: str) -> str | None:
    """Claims the key for `post_id`; the post id of whichever request claimed it first, if not this one."""
    bucket = await _keys(request)
    try:
        await bucket.create(key.name, msgspec.json.encode(Claim(digest=key.digest, post_id=post_id)))
    except KeyExists:
        return await _earlier(request, key)
    return None


async def _forget(request: web.Request, key: Idempotency) -> None:
    bucket = await _keys(request)
    await bucket.delete(key.name)


async def _replay(request: web.Request, post_id: str, viewer: str) -> web.StreamResponse:
    # The first request may still be on its way to the log: its post shows once it lands.
    async def landed() -> bool:
        return await request.app[SERVICES].projection.read(lambda conn: post_by_id(conn, post_id)) is not None

    await request.app[SERVICES].projection.wait_until(landed, writes.WAIT, row=("posts", post_id))
    return web.json_response(await _one(request, post_id, viewer))


@requires("write", "write:statuses")
async def create_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    form, data = await status_form.read(request)
    key = _idempotency(request, principal, data)
    if key is not None and (earlier := await _earlier(request, key)) is not None:
        return await _replay(request, earlier, principal.user_id)
    ids = _media_ids(form.media_ids or ())
    text = _text(form, ids)
    visibility = _visibility(form)
    reply = await _reply_target(request, form, principal.user_id)
    await _check_media(request, principal.user_id, ids)
    changes = _attribute_changes(request, form, ids)
    post_id = new_media_id()
    buckets = request.app[SERVICES].buckets
    # Media first: a key is only ever bound to a post that can land.
    await _claim_media(request, ids, post_id)
    if key is not None and (earlier := await _claim(request, key, post_id)) is not None:
        await attachments.release(buckets, ids, post_id)
        return await _replay(request, earlier, principal.user_id)
    event = PostCreated(at=time.time(), post_id=post_id, author=principal.user_id, text=text, attachments=ids,
                        visibility=visibility, sensitive=bool(form.sensitive), spoiler_text=form.spoiler_text or "",
                        language=form.language or "", in_reply_to=reply, via="mastodon",
                        app=await app_name(request, principal))
    try:
        await _apply(request, changes)
        await writes.append(request, event, msg_id=f"post.{post_id}.created")
    except LogUnavailable:
        # Nothing landed: the media and the key are free for the client's retry.
        await attachments.release(buckets, ids, post_id)
        if key is not None:
            await _forget(request, key)
        raise
    return web.json_response(await _one(request, post_id, principal.user_id))


async def get_status(request: web.Request) -> web.StreamResponse:
    principal = await resolve(request)
    return web.json_response(await _one(request, request.match_info["id"], principal.user_id if principal else None))


@requires("write", "write:statuses")
async def edit_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _own(request, principal)
    form, _ = await status_form.read(request)
    current = tuple(attachment_ids(post))
    ids = _media_ids(form.media_ids) if form.media_ids is not None else current
    text = _text(form, ids) if form.text is not None else post["text"]
    if not text.strip() and not ids:
        raise Refusal(422, TEXT_BLANK)
    if form.text is not None and holds_html(post["via"]):
        # A pump.io comment keeps its text as pump.io HTML, which the plain text from Mastodon becomes.
        text = text_as_safe_html(text)
    comment = await commented(request.app[SERVICES].projection, post)
    if comment and ids:
        # pump.io comments show no media.
        raise Refusal(422, COMMENT_MEDIA)
    await _check_media(request, principal.user_id, tuple(i for i in ids if i not in current), keep=current)
    changes = _attribute_changes(request, form, ids)
    await _claim_media(request, tuple(i for i in ids if i not in current), post["post_id"])
    await _apply(request, changes)
    event = PostEdited(
        at=time.time(), post_id=post["post_id"], author=principal.user_id, text=text, attachments=ids,
        sensitive=bool(post["sensitive"]) if form.sensitive is None else form.sensitive,
        spoiler_text=post["spoiler_text"] if form.spoiler_text is None else form.spoiler_text,
        language=(post["language"] or "") if form.language is None else form.language,
        detached=tuple(i for i in current if i not in ids), **post_events.note_of(post), **comment,
    )
    await writes.append(request, event, msg_id=f"post.{post['post_id']}.edited.{time.time_ns()}")
    await attachments.release(request.app[SERVICES].buckets, event.detached, post["post_id"])
    return web.json_response(await _one(request, post["post_id"], principal.user_id))


@requires("write", "write:statuses")
async def delete_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _own(request, principal)
    shown = await _one(request, post["post_id"], principal.user_id)
    event = post_events.deleted(post, await commented(request.app[SERVICES].projection, post))
    await writes.append(request, event, msg_id=f"post.{post['post_id']}.deleted")
    # Freed at once, so that a client can redraft the status with the same media.
    await attachments.release(request.app[SERVICES].buckets, event.attachments, post["post_id"])
    # The source text comes back, so a client can redraft the status.
    return web.json_response({**shown, "text": post_source(post["via"], post["text"])})


@requires("read", "read:statuses")
async def status_source(request: web.Request, principal: Principal) -> web.StreamResponse:
    post = await _own(request, principal)
    return web.json_response({"id": post["post_id"], "text": post_source(post["via"], post["text"]),
                              "spoiler_text": post["spoiler_text"]})


@requires("read", "read:statuses")
async def status_history(request: web.Request, principal: Principal) -> web.StreamResponse:
    post_id = request.match_info["id"]
    base = request.app[SERVICES].config.base_url
    viewer = principal.user_id

    def load(conn: sqlite3.Connection) -> list[dict[str, Any]] | None:
        post = post_by_id(conn, post_id)
        if not readable(conn, post, viewer):
            return None
        assert post is not None
        rendered = gather(conn, [post], viewer=viewer)
        user = rendered.users.get(post["author"])
        author = account_json(user, rendered, base) if user is not None else {}
        history = versions(conn, post_id)
        media = media_by_ids(conn, [i for v in history for i in msgspec.json.decode(v["attachments"], type=list[str])])
        return [_version_json(version, post["via"], author, media, base) for version in history]

    found = await request.app[SERVICES].projection.read(load)
    if found is None:
        raise Refusal(404, errors.NOT_FOUND)
    return web.json_response(found)


def _version_json(version: sqlite3.Row, via: str | None, author: dict[str, Any], media: dict[str, sqlite3.Row],
                  base: str) -> dict[str, Any]:
    ids = msgspec.json.decode(version["attachments"], type=list[str])
    return {
        "content": post_html(via, version["text"]),
        "spoiler_text": version["spoiler_text"],
        "sensitive": bool(version["sensitive"]),
        "created_at": iso_time(version["at"]),
        "account": author,
        "poll": None,
        "media_attachments": [attachment(media_view(media[i], base)) for i in ids if i in media],
        "emojis": [],
    }


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/statuses", create_status),
        web.get("/api/v1/statuses/{id}", get_status),
        web.put("/api/v1/statuses/{id}", edit_status),
        web.delete("/api/v1/statuses/{id}", delete_status),
        web.get("/api/v1/statuses/{id}/source", status_source),
        web.get("/api/v1/statuses/{id}/history", status_history),
    ]
