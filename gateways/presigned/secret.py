"""The key upload URLs are signed with: configured, or generated once and kept in the broker.

Every gateway replica must verify URLs another one signed, so a generated key lives in a shared
key-value bucket. Replicas starting together race to create it; `create` lets exactly one win and
the others read the winner's key.
"""

from __future__ import annotations

from core.config import Config
from gateways.kit.keyvalue import Buckets, shared_secret
from gateways.presigned.settings import PresignedSettings

BUCKET = "upload_secret"
KEY = "upload-url-hmac"


async def upload_key(config: Config, buckets: Buckets) -> bytes:
    secret = config.settings(PresignedSettings).upload_secret
    if secret:
        return secret.encode()
    return await shared_key(buckets)


async def shared_key(buckets: Buckets) -> bytes:
    return await shared_secret(buckets, BUCKET, KEY)
