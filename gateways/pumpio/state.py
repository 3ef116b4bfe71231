"""Short-lived OAuth 1.0a state every gateway replica sees: request tokens and used nonces.

Both live in shared key-value buckets next to the event log: they expire on their own, they are not
history anyone needs to replay, and a compare-and-set on a bucket is atomic across replicas.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterator

import msgspec
from aiohttp import web

from core.log import LogUnavailable
from gateways.kit.keyvalue import Bucket, Buckets, KeyExists, WrongRevision
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES

TOKENS = "oauth_request_tokens"
NONCES = "oauth_nonces"
# Long enough for a user to log in and approve. An entry ages from its last write, so approving would
# extend its life: `RequestToken.expired` counts from when it was issued instead.
REQUEST_TOKEN_TTL = 30 * 60.0
# Timestamps are accepted up to 10 minutes either side of now, so a nonce must be remembered for at
# least 20 minutes after it was first seen to refuse every replay; one more minute covers clock skew
# between replicas.
TIMESTAMP_WINDOW = 10 * 60
NONCE_TTL = 2 * TIMESTAMP_WINDOW + 60.0

UNAVAILABLE = "The OAuth service is temporarily unavailable, try again in a moment"

# What a client sends as a token is looked up only when it could be a key we issued.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class RequestToken(msgspec.Struct, frozen=True):
    """A temporary credential between /oauth/request_token and /oauth/access_token."""

    secret: str
    client_id: str
    callback: str
    issued_at: float
    verifier: str = ""
    user_id: str = ""
    used: bool = False

    @property
    def expired(self) -> bool:
        return time.time() - self.issued_at > REQUEST_TOKEN_TTL


class Stored(msgspec.Struct, frozen=True):
    """A request token with the bucket revision it was read at, for compare-and-set updates."""

    token: RequestToken
    revision: int


def nonce_key(client_id: str, timestamp: str, nonce: str, token: str) -> str:
    # Clients choose nonces freely; a digest keeps any of them a valid, fixed-size bucket key.
    material = "\n".join((client_id, timestamp, nonce, token)).encode()
    return hashlib.sha256(material).hexdigest()


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A broker that does not answer becomes a 503 the client may retry, not a crash."""
    try:
        yield
    except LogUnavailable as exc:
        raise Refusal(503, UNAVAILABLE) from exc


class OAuthState:
    """Owns nothing that needs closing: the buckets belong to the app's Buckets."""

    def __init__(self, tokens: Bucket, nonces: Bucket) -> None:
        self._tokens = tokens
        self._nonces = nonces
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(RequestToken)

    @classmethod
    async def open(cls, buckets: Buckets) -> OAuthState:
        tokens = await buckets.open(TOKENS, ttl=REQUEST_TOKEN_TTL)
        nonces = await buckets.open(NONCES, ttl=NONCE_TTL)
        return cls(tokens, nonces)

    async def issue(self, token: str, value: RequestToken) -> None:
        with _reachable():
            await self._tokens.create(token, self._encoder.encode(value))

    async def request_token(self, token: str) -> Stored | None:
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        with _reachable():
            entry = await self._tokens.get(token)
        if entry is None:
            return None
        return Stored(self._decoder.decode(entry.value), entry.revision)

    async def replace(self, token: str, stored: Stored, value: RequestToken) -> bool:
        """Writes `value` only if nobody changed the token since `stored` was read."""
        try:
            with _reachable():
                await self._tokens.update(token, self._encoder.encode(value), last=stored.revision)
        except WrongRevision:
            return False
        return True

    async def remember_nonce(self, key: str) -> bool:
        """True the first time a nonce is remembered; False for a replay, even one racing on another replica."""
        try:
            with _reachable():
                await self._nonces.create(key, b"")
        except KeyExists:
            return False
        return True


async def oauth_state(request: web.Request) -> OAuthState:
    with _reachable():
        return await OAuthState.open(request.app[SERVICES].buckets)
