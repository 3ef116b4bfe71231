"""Upload URLs signed with HMAC-SHA256 over everything the upload is bound to.

The signature covers the method, the path (which names the media id), the content type, the byte
cap and the expiry, so changing any of them in the URL invalidates it. The path is the one routed
here, without any prefix a proxy in front may add, so `--public-url` can point anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlencode

import msgspec

# Changing what is signed means a new label: URLs signed the old way then simply stop verifying.
LABEL = "mediaplex-upload-v1"
METHOD = "PUT"
NUMBER = re.compile(r"[0-9]{1,18}")


class Grant(msgspec.Struct, frozen=True):
    """What one upload URL allows: these bytes, for this media, until then."""

    media_id: str
    content_type: str
    max_bytes: int
    # Seconds since the epoch, whole: it travels in the URL.
    expires: int


def upload_path(media_id: str) -> str:
    return f"/media/{media_id}/upload"


class Signer:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("an empty key would sign nothing")
        self._key = key

    def signature(self, grant: Grant) -> str:
        message = "\n".join(
            (LABEL, METHOD, upload_path(grant.media_id), grant.content_type, str(grant.max_bytes), str(grant.expires))
        )
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, grant: Grant, signature: str) -> bool:
        # Constant time: how much of a guess matched must not show in the response time.
        return hmac.compare_digest(self.signature(grant).encode(), signature.encode())

    def url(self, base: str, grant: Grant) -> str:
        query = urlencode({"ct": grant.content_type, "max": grant.max_bytes, "exp": grant.expires,
                           "sig": self.signature(grant)})
        return f"{base}{upload_path(grant.media_id)}?{query}"


def grant_from(media_id: str, query: Mapping[str, str]) -> Grant | None:
    """The grant a URL claims; None when a part is missing or malformed (it could not verify anyway)."""
    content_type, max_bytes, expires = query.get("ct"), query.get("max", ""), query.get("exp", "")
    if not content_type or not NUMBER.fullmatch(max_bytes) or not NUMBER.fullmatch(expires):
        return None
    return Grant(media_id=media_id, content_type=content_type, max_bytes=int(max_bytes), expires=int(expires))
