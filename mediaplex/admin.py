"""Users, tokens and reprocessing, done by appending events, so they work with or without a running server."""

from __future__ import annotations

import hashlib
import time

from core.events import MediaReprocessRequested, TokenIssued, UserAdded, UserMadeAdmin
from core.ids import USERNAME, hash_password, new_token, token_hash
from core.log import Conflict, EventLog
from core.reprocess import media_states, request_reprocess

KNOWN_SCOPES = frozenset(
    {"read", "write", "follow", "push", "profile", "read:accounts", "read:statuses", "write:media",
     "write:statuses", "admin:read", "admin:write"}
)


class AdminError(Exception):
    pass


def _user_subject(name: str) -> str:
    return UserAdded(at=0, user_id=name, password_hash="").subject()


async def add_user(events: EventLog, name: str, password: str, *, admin: bool = False) -> None:
    """`admin`: the user may open the operator console."""
    if not USERNAME.fullmatch(name):
        raise AdminError(f"invalid user name {name!r}: use 1-30 letters, digits or underscores")
    event = UserAdded(at=time.time(), user_id=name, password_hash=hash_password(password), admin=admin)
    try:
        # Expecting nothing on the user's subject makes the name unique across racing writers.
        await events.append(event, msg_id=f"user.{name}", expected_last=0)
    except Conflict:
        raise AdminError(f"user {name!r} exists already") from None


async def make_admin(events: EventLog, name: str) -> None:
    """Lets an existing user open the operator console; doing it twice appends once."""
    if not await events.last_on(_user_subject(name)):
        raise AdminError(f"no user {name!r}")
    await events.append(UserMadeAdmin(at=time.time(), user_id=name), msg_id=f"user.{name}.admin")


async def create_token(events: EventLog, name: str, scopes: tuple[str, ...]) -> str:
    if not await events.last_on(_user_subject(name)):
        raise AdminError(f"no user {name!r}")
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown or not scopes:
        raise AdminError(f"unknown scopes: {' '.join(unknown) or '(none given)'}")
    token = new_token()
    hashed = token_hash(token)
    token_id = hashlib.sha256(hashed.encode()).hexdigest()[:16]
    event = TokenIssued(at=time.time(), token_id=token_id, user_id=name, token_hash=hashed, scopes=scopes,
                        cli=True)
    await events.append(event, msg_id=f"token.{token_id}")
    return token


async def reprocess(events: EventLog, media_id: str) -> MediaReprocessRequested:
    if not media_id or any(c in media_id for c in ". *>"):
        # Not a single subject token, so no media can have it.
        raise AdminError(f"no media {media_id!r}")
    state = (await media_states(events)).get(media_id)
    if state is None:
        # Uploaded once but gone from the fold: deleted, through either API.
        uploaded = await events.last_on(f"mx.media.{media_id}.uploaded")
        raise AdminError(f"media {media_id!r} was deleted" if uploaded else f"no media {media_id!r}")
    return await request_reprocess(events, media_id, state)


async def reprocess_failed(events: EventLog) -> list[MediaReprocessRequested]:
    states = await media_states(events)
    return [await request_reprocess(events, media_id, state)
            for media_id, state in states.items() if state.failed]
