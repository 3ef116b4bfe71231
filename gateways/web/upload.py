"""`/upload`: the browser's upload page. The page only shows the form; its script does the uploading through
the presigned API (POST /media, the PUT to the granted URL, GET /media/{id}) and Mastodon's
(the description, the public post), signed in by the login cookie plus its CSRF token in a header."""

from __future__ import annotations

from aiohttp import web

from gateways.kit.services import SERVICES
from gateways.presigned.settings import PresignedSettings
from gateways.web.session import signed_in
from gateways.web.templating import page

# What the file picker offers; the server decides what it takes, from the bytes.
ACCEPT = "image/*,video/*,audio/*"


async def show(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    settings = request.app[SERVICES].config.settings(PresignedSettings)
    return await page(request, "upload.html", {
        "owner": viewer.user_id,
        "accept": ACCEPT,
        # The script says "too large" before sending a byte: a browser cut off mid-body by the server's
        # 413 mostly reports a network error instead of the answer.
        "max_bytes": settings.presigned_size_limit,
        # Presigned uploads nothing posts are swept after this long, so the page posts by default.
        "unposted_hours": f"{request.app[SERVICES].config.unposted_ttl / 3600:g}",
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/upload", show)
