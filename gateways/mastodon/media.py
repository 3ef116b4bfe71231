"""Mastodon's media endpoints: v1/v2 upload, status polling, update, delete."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from core.events import Focus
from core.kinds import is_av, is_played
from core.ports import TooLarge
from core.probe import MediaRejected
from gateways.kit import bodies, headervalues, media_changes, multipart
from gateways.kit.bodies import FormCaps
from gateways.kit.ingest import Checked, record, stage
from gateways.kit.media import media_view
from gateways.kit.multipart import MultipartCaps
from gateways.kit.principal import Principal, require
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.mastodon import errors
from gateways.mastodon.render import attachment
from gateways.mastodon.settings import MastodonSettings
from gateways.mastodon.thumbnails import ThumbnailPart, set_thumbnail, stage_thumbnail, takes_thumbnail
from store.queries.media import media_by_id
from store.readmodel import FAILED, READY

# Room for the multipart framing and the text fields around the file.
FORM_OVERHEAD = 64 * 1024
MULTIPART = MultipartCaps()
# A value may be percent-encoded, three bytes a byte.
FORM_LIMITS = FormCaps(max_bytes=3 * FORM_OVERHEAD, max_value=FORM_OVERHEAD)
PUT_MULTIPART = msgspec.structs.replace(MULTIPART, max_bytes=FORM_LIMITS.max_bytes)

Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


def requires(*scopes: str) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            return await handler(request, await require(request, *scopes))

        return checked

    return wrap


def parse_focus(value: str) -> Focus:
    try:
        return media_changes.focus_of(value)
    except media_changes.BadFocus:
        raise Refusal(422, errors.BAD_FOCUS) from None


def check_description(value: str, limit: int) -> str:
    try:
        return media_changes.check_description(value, limit)
    except media_changes.DescriptionTooLong:
        raise Refusal(422, errors.description_too_long(limit)) from None


class Uploaded(msgspec.Struct, frozen=True):
    media_id: str
    kind: str


async def _upload(request: web.Request, principal: Principal) -> Uploaded:
    app = request.app
    config = app[SERVICES].config.settings(MastodonSettings)
    blobs = app[SERVICES].blobs
    # Which limit applies is known once the bytes are: until then, the larger one.
    largest = max(config.image_size_limit, config.video_size_limit)
    if request.content_length is not None and request.content_length > largest + FORM_OVERHEAD:
        raise Refusal(422, errors.too_large(largest))
    if not headervalues.media_type(request).startswith("multipart/"):
        raise Refusal(400, errors.MISSING_FILE)
    fields: dict[str, str] = {}
    checked: Checked | None = None
    thumbnail = ThumbnailPart(app)
    size_limit = largest
    filename = ""
    try:
        caps = msgspec.structs.replace(MULTIPART, max_bytes=largest + FORM_OVERHEAD)
        async for part in multipart.parts(request, caps):
            if part.name == "file" and checked is None:
                filename = part.filename or ""
                checked = await stage(blobs, part.chunks(), max_bytes=config.image_size_limit - 1,
                                      max_av_bytes=config.video_size_limit - 1, limits=app[SERVICES].limits)
                # The rest of the body is held to the cap of what the file turned out to be.
                size_limit = config.video_size_limit if is_played(checked.header.kind) else config.image_size_limit
                part.cap_body(size_limit + FORM_OVERHEAD)
            elif part.name == "thumbnail":
                await thumbnail.take(part, checked.header.kind if checked is not None else None)
            elif part.name in ("description", "focus"):
                fields[part.name] = await part.text(config.description_limit)
            else:
                await part.skip(FORM_OVERHEAD)
        if checked is None:
            raise Refusal(400, errors.MISSING_FILE)
        thumbnail.check(checked.header.kind)
        description = check_description(fields.get("description", ""), config.description_limit)
        focus = parse_focus(fields["focus"]) if fields.get("focus") else None
    except BaseException as exc:  # noqa: BLE001 - translated for the client, nothing swallowed
        if checked is not None:
            blobs.discard(checked.staged)
        thumbnail.discard()
        raise _refusal(exc, size_limit) from None
    media_id = await record(
        checked,
        events=app[SERVICES].events,
        blobs=blobs,
        projection=app[SERVICES].projection,
        owner_id=principal.user_id,
        via="mastodon",
        filename=filename,
        description=description,
        focus=focus,
    )
    if thumbnail.staged is not None:
        await set_thumbnail(request, media_id, thumbnail.staged)
    return Uploaded(media_id=media_id, kind=checked.header.kind)


def _refusal(exc: BaseException, size_limit: int) -> BaseException:
    """What the client is told for a refused upload; anything unexpected passes through."""
    if isinstance(exc, TooLarge):
        # The limit of the kind the bytes turned out to be, or the larger one if they never got that far.
        return Refusal(422, errors.too_large(min(exc.limit + 1, size_limit)))
    if isinstance(exc, Refusal):
        # The whole body past its cap (chunked, with no length to refuse it by) is the file's size refusal.
        if exc.code == bodies.TOO_LARGE and exc.parameter is None:
            return Refusal(422, errors.too_large(size_limit))
        return Refusal(exc.status, exc.message)
    if isinstance(exc, MediaRejected):
        return Refusal(422, _rejection(exc))
    return exc


def _rejection(exc: MediaRejected) -> str:
    if exc.kind == "unidentified":
        return errors.UNVERIFIED_TYPE
    if exc.kind == "too_many_pixels":
        return errors.too_many_pixels(exc.width or 0, exc.height or 0, exc.media)
    if exc.kind == "frame_rate":
        return errors.too_many_frames(exc.frame_rate or 0.0)
    if exc.kind == "no_video_stream":
        return errors.NO_VIDEO_STREAM
    if exc.kind == "corrupt":
        return errors.UNVERIFIED_TYPE
    return errors.INVALID_TYPE


async def _row(request: web.Request, media_id: str) -> sqlite3.Row | None:
    return await media_by_id(request.app[SERVICES].projection, media_id)


async def _owned(request: web.Request, principal: Principal) -> sqlite3.Row:
    row = await _row(request, request.match_info["id"])
    if row is None or row["owner_id"] != principal.user_id:
        raise Refusal(404, errors.NOT_FOUND)
    return row


async def _wait_processed(request: web.Request, media_id: str, timeout: float) -> sqlite3.Row:
    projection = request.app[SERVICES].projection
    latest: sqlite3.Row | None = None

    async def settled() -> bool:
        nonlocal latest
        latest = await _row(request, media_id)
        return latest is None or latest["status"] in (READY, FAILED)

    await projection.wait_until(settled, timeout, row=("media", media_id))
    if latest is None:
        raise Refusal(404, errors.NOT_FOUND)
    return latest


def _respond(request: web.Request, row: sqlite3.Row, *, pending: int) -> web.Response:
    if row["status"] == FAILED:
        return errors.error(422, errors.PROCESSING_FAILED)
    status = 200 if row["status"] == READY else pending
    return web.json_response(attachment(media_view(row, request.app[SERVICES].config.base_url)), status=status)


@requires("write", "write:media")
async def post_v1(request: web.Request, principal: Principal) -> web.StreamResponse:
    uploaded = await _upload(request, principal)
    wait = request.app[SERVICES].config.settings(MastodonSettings).v1_sync_wait
    return _respond(request, await _wait_processed(request, uploaded.media_id, wait), pending=200)


@requires("write", "write:media")
async def post_v2(request: web.Request, principal: Principal) -> web.StreamResponse:
    uploaded = await _upload(request, principal)
    # Larger formats are processed asynchronously, as Mastodon does: the client polls for them.
    wait = 0.0 if is_av(uploaded.kind) else request.app[SERVICES].config.settings(MastodonSettings).v2_sync_wait
    return _respond(request, await _wait_processed(request, uploaded.media_id, wait), pending=202)


async def _unattached(request: web.Request, principal: Principal) -> sqlite3.Row:
    """The caller's media, as long as no post attaches it: Mastodon no longer finds attached media here.

    An image posted to a pump.io feed on its own is no post's attachment, and stays readable here.
    """
    row = await _owned(request, principal)
    if row["post_id"] is not None:
        raise Refusal(404, errors.NOT_FOUND)
    return row


@requires("write", "write:media")
async def get_media(request: web.Request, principal: Principal) -> web.StreamResponse:
    row = await _unattached(request, principal)
    return _respond(request, row, pending=206)


class MediaChange(msgspec.Struct, frozen=True):
    """A JSON `PUT /api/v1/media/:id`; every field a string, as in the form encodings."""

    description: str | None = None
    focus: str | None = None
    thumbnail: str | None = None


MEDIA_CHANGE = msgspec.json.Decoder(MediaChange)


def _invalid_json(exc: Refusal) -> Refusal:
    if exc.parameter is not None:
        return Refusal(422, f"Validation failed: {exc.parameter.capitalize()} must be a string")
    if exc.code == bodies.INVALID_JSON and exc.message in (bodies.NOT_JSON, bodies.NOT_AN_OBJECT):
        return Refusal(400, "Invalid JSON body")
    return Refusal(exc.status, exc.message)


class Change(msgspec.Struct):
    """What a `PUT /api/v1/media/:id` asks: text fields, and a thumbnail image staged from a multipart body."""

    fields: dict[str, str]
    thumbnail: Checked | None = None


async def _posted(request: web.Request, limit: int, kind: str) -> Change:
    """The fields of a JSON, url-encoded or multipart body. Only a multipart body carries a thumbnail's
    bytes: a `thumbnail` string elsewhere is refused unless blank."""
    if request.content_type == "application/json":
        try:
            change = await bodies.read_json(request, MEDIA_CHANGE, limit=FORM_LIMITS.max_bytes)
        except Refusal as exc:
            raise _invalid_json(exc) from None
        return Change({k: v for k, v in msgspec.structs.asdict(change).items() if v is not None})
    if request.content_type.startswith("multipart/"):
        return await _multipart_change(request, limit, kind)
    try:
        return Change(await bodies.read_form(request, FORM_LIMITS))
    except Refusal as exc:
        raise Refusal(exc.status, exc.message) from None


async def _multipart_change(request: web.Request, limit: int, kind: str) -> Change:
    image_limit = request.app[SERVICES].config.settings(MastodonSettings).image_size_limit
    change = Change({})
    try:
        # Room for a thumbnail's bytes only where the media takes one.
        room = image_limit if takes_thumbnail(kind) else 0
        caps = msgspec.structs.replace(PUT_MULTIPART, max_bytes=FORM_LIMITS.max_bytes + room)
        async for part in multipart.parts(request, caps):
            if part.name == "thumbnail" and change.thumbnail is None:
                contents = await part.filled()
                if contents is not None:
                    if not takes_thumbnail(kind):
                        raise Refusal(422, errors.THUMBNAIL_NOT_BLANK)
                    change.thumbnail = await stage_thumbnail(request.app, contents)
            elif part.name in ("description", "focus"):
                change.fields.setdefault(part.name, await part.text(limit))
            else:
                await part.skip(FORM_OVERHEAD)
    except BaseException as exc:
        # The staged thumbnail goes, whatever stopped the body.
        if change.thumbnail is not None:
            request.app[SERVICES].blobs.discard(change.thumbnail.staged)
        if isinstance(exc, Refusal):
            raise Refusal(exc.status, exc.message) from None
        raise
    return change


async def _form(request: web.Request, kind: str) -> Change:
    """What the request asks of a media of `kind`."""
    change = Change(dict(request.query))
    if request.can_read_body:
        limit = request.app[SERVICES].config.settings(MastodonSettings).description_limit
        posted = await _posted(request, limit, kind)
        change.fields.update(posted.fields)
        change.thumbnail = posted.thumbnail
    if change.fields.get("thumbnail"):
        # A string is no image, whatever the media is.
        if change.thumbnail is not None:
            request.app[SERVICES].blobs.discard(change.thumbnail.staged)
        raise Refusal(422, errors.THUMBNAIL_NOT_BLANK)
    return change


async def _update(request: web.Request, media_id: str, form: dict[str, str]) -> None:
    config = request.app[SERVICES].config.settings(MastodonSettings)
    description = focus = None
    if "description" in form and form["description"] is not None:
        description = check_description(form["description"], config.description_limit)
    if form.get("focus"):
        focus = parse_focus(form["focus"])
    await media_changes.update(request, media_id, description=description, focus=focus)


@requires("write", "write:media")
async def put_media(request: web.Request, principal: Principal) -> web.StreamResponse:
    row = await _unattached(request, principal)
    change = await _form(request, row["kind"])
    try:
        await _update(request, row["media_id"], change.fields)
    except BaseException:
        if change.thumbnail is not None:
            request.app[SERVICES].blobs.discard(change.thumbnail.staged)
        raise
    if change.thumbnail is not None:
        await set_thumbnail(request, row["media_id"], change.thumbnail)
    updated = await _row(request, row["media_id"])
    assert updated is not None
    return _respond(request, updated, pending=206)


@requires("write", "write:media")
async def delete_media(request: web.Request, principal: Principal) -> web.StreamResponse:
    row = await _owned(request, principal)
    try:
        await media_changes.delete(request, row)
    except media_changes.InUse:
        raise Refusal(422, errors.IN_USE) from None
    return web.json_response({})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/media", post_v1),
        web.post("/api/v2/media", post_v2),
        web.get("/api/v1/media/{id}", get_media),
        web.put("/api/v1/media/{id}", put_media),
        web.delete("/api/v1/media/{id}", delete_media),
    ]
