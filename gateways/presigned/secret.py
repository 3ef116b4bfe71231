"""The key upload URLs are signed with: configured, or generated once and kept in the broker.

Every gateway replica must verify URLs another one signed, so a generated key lives in a JetStream
key-value bucket named after the event stream. Replicas starting together race to create it;
`create` lets exactly one win and the others read the winner's key.
"""

from __future__ import annotations

import secrets

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors

from core.config import Config
from core.jetstream import JetStreamLog
from gateways.presigned.settings import PresignedSettings

KEY = "upload-url-hmac"


async def upload_key(config: Config, events: JetStreamLog) -> bytes:
    secret = config.settings(PresignedSettings).upload_secret
    if secret:
        return secret.encode()
    return await shared_key(events.jetstream, events.stream, replicas=config.stream_replicas)


async def shared_key(jetstream: JetStreamContext, stream: str, *, replicas: int = 1) -> bytes:
    name = f"{stream}_upload_secret"
    try:
        bucket = await jetstream.key_value(name)
    except js_errors.BucketNotFoundError:
        # No TTL: a key that changed would void every URL handed out before.
        config = js_api.KeyValueConfig(bucket=name, history=1, replicas=replicas)
        bucket = await jetstream.create_key_value(config)
    try:
        await bucket.create(KEY, secrets.token_urlsafe(32).encode())
    except js_errors.KeyWrongLastSequenceError:
        pass
    entry = await bucket.get(KEY)
    if not entry.value:
        raise RuntimeError(f"the upload key in bucket {name} is empty")
    return entry.value
