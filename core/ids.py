"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time

USERNAME = re.compile(r"[A-Za-z0-9_]{1,30}")

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_media_id() -> str:
    """A numeric, time-ordered id, as Mastodon's are: milliseconds in the high bits, randomness below."""
    return str((int(time.time() * 1000) << 16) | secrets.randbits(16))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(actual.hex(), digest)


def media_id_time(media_id: str) -> float | None:
    """When `new_media_id` made this id, in seconds since the epoch; None for an id of another form."""
    if not media_id.isascii() or not media_id.isdigit():
        return None
    return (int(media_id) >> 16) / 1000


def account_number(user_id: str) -> str:
    """A stable numeric id for a user, as Mastodon clients expect account ids to look."""
    return str(int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:6], "big"))
