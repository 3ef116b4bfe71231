"""Short-lived OAuth 1.0a state every gateway replica sees: request tokens and used nonces.

Both live in NATS JetStream key-value buckets next to the event log: they expire on their own, they
are not history anyone needs to replay, and a compare-and-set on a bucket is atomic across replicas.
Buckets are named after the event stream so that several logs on one broker never share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Iterator

import msgspec
import nats.errors
from aiohttp import web
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from core.jetstream import JetStreamLog
from gateways.kit.services import SERVICES
from gateways.pumpio.errors import PumpError

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
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError,
            js_errors.ServiceUnavailableError) as exc:
        raise PumpError(503, UNAVAILABLE) from exc


class OAuthState:
    """Owns the two bucket handles; the handles hold no connection of their own, nothing to close."""

    def __init__(self, tokens: KeyValue, nonces: KeyValue) -> None:
        self._tokens = tokens
        self._nonces = nonces
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(RequestToken)

    @classmethod
    async def open(cls, jetstream: JetStreamContext, stream: str, *, replicas: int = 1) -> OAuthState:
        tokens = await _bucket(jetstream, f"{stream}_oauth_request_tokens", REQUEST_TOKEN_TTL, replicas)
        nonces = await _bucket(jetstream, f"{stream}_oauth_nonces", NONCE_TTL, replicas)
        return cls(tokens, nonces)

    async def issue(self, token: str, value: RequestToken) -> None:
        with _reachable():
            await self._tokens.create(token, self._encoder.encode(value))

    async def request_token(self, token: str) -> Stored | None:
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        try:
            with _reachable():
                entry = await self._tokens.get(token)
        except js_errors.KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        return Stored(self._decoder.decode(entry.value), entry.revision)

    async def replace(self, token: str, stored: Stored, value: RequestToken) -> bool:
        """Writes `value` only if nobody changed the token since `stored` was read."""
        try:
            with _reachable():
                await self._tokens.update(token, self._encoder.encode(value), last=stored.revision)
        except js_errors.KeyWrongLastSequenceError:
            return False
        return True

    async def remember_nonce(self, key: str) -> bool:
        """True the first time a nonce is remembered; False for a replay, even one racing on another replica."""
        try:
            with _reachable():
                await self._nonces.create(key, b"")
        except js_errors.KeyWrongLastSequenceError:
            return False
        return True


async def _bucket(jetstream: JetStreamContext, name: str, ttl: float, replicas: int) -> KeyValue:
    try:
        return await jetstream.key_value(name)
    except js_errors.BucketNotFoundError:
        # Replicas racing here all ask for the same configuration, which JetStream accepts as one.
        config = js_api.KeyValueConfig(bucket=name, ttl=ttl, history=1, replicas=replicas)
        return await jetstream.create_key_value(config)


class StateHolder:
    """Opens the app's OAuthState on first use, from the JetStream context of the app's event log."""

    def __init__(self) -> None:
        self._state: OAuthState | None = None
        self._lock = asyncio.Lock()

    async def get(self, app: web.Application) -> OAuthState:
        if self._state is not None:
            return self._state
        async with self._lock:
            if self._state is None:
                events = app[SERVICES].events
                if not isinstance(events, JetStreamLog):
                    raise PumpError(503, "OAuth needs the JetStream event log")
                # As durable as the log itself: a lost nonce would let a replay through.
                replicas = app[SERVICES].config.stream_replicas
                with _reachable():
                    self._state = await OAuthState.open(events.jetstream, events.stream, replicas=replicas)
            return self._state


STATE = web.AppKey("pumpio_oauth_state", StateHolder)


def install(app: web.Application) -> None:
    app[STATE] = StateHolder()


async def oauth_state(request: web.Request) -> OAuthState:
    return await request.app[STATE].get(request.app)
