"""Presigned uploads as a gateway: routes, error style, settings, and the key its URLs are signed with."""

from __future__ import annotations

from aiohttp import web

from gateways.kit.descriptor import Flag, Gateway
from gateways.kit.refusal import ErrorStyle
from gateways.kit.services import SERVICES
from gateways.presigned import openapi, requests, status, upload
from gateways.presigned.requests import SIGNER
from gateways.presigned.secret import upload_key
from gateways.presigned.settings import PresignedSettings
from gateways.presigned.signing import Signer
from gateways.presigned.upload import LIMITS


def add_routes(app: web.Application) -> None:
    app.router.add_post("/media", requests.request_upload)
    # Numeric ids only: /media/files/… and /media/sha256/… belong to other routes.
    app.router.add_get(r"/media/{id:\d+}", status.get_media)
    app.router.add_put(r"/media/{id:\d+}/upload", upload.put_upload)


async def start(app: web.Application) -> None:
    services = app[SERVICES]
    app[SIGNER] = Signer(await upload_key(services.config, services.buckets))


GATEWAY = Gateway(
    name="presigned",
    openapi=openapi.fragment,
    routes=add_routes,
    # The codes this API has always documented for a missing token and a missing scope.
    errors=ErrorStyle(codes=True, not_found="Not found",
                           renames={"invalid_token": "unauthorized", "insufficient_scope": "forbidden"}),
    settings=PresignedSettings,
    flags=(
        Flag("upload_secret", "--upload-secret",
             "key that signs presigned upload URLs; empty: one generated key kept in the broker "
             "and shared by every replica"),
        Flag("presigned_size_limit", "--presigned-size-limit", "largest presigned upload in bytes"),
        Flag("presigned_av", "--presigned-av",
             "grant apps uploads of video and audio too (yes/no); the site's upload page always may"),
        Flag("upload_url_ttl", "--upload-url-ttl", "seconds an upload URL stays valid"),
    ),
    limits=LIMITS,
    sweeps_unattached=True,
    via=upload.VIA,
    start=start,
)
