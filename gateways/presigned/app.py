"""The presigned-upload API's routes and what the composition root hands it."""

from __future__ import annotations

from aiohttp import web

from gateways.presigned import requests, status, upload
from gateways.presigned.requests import SIGNER
from gateways.presigned.secret import upload_key
from gateways.presigned.signing import Signer
from gateways.presigned.upload import LIMITS

__all__ = ["LIMITS", "SIGNER", "Signer", "add_routes", "upload_key"]


def add_routes(app: web.Application) -> None:
    """The composition root sets app[SIGNER] and app[keys.BUCKETS] before the app starts."""
    app.router.add_post("/media", requests.request_upload)
    # Numeric ids only: /media/files/… and /media/sha256/… belong to other routes.
    app.router.add_get(r"/media/{id:\d+}", status.get_media)
    app.router.add_put(r"/media/{id:\d+}/upload", upload.put_upload)
