"""`/static/NAME`: the pages' own scripts and styles, and a page-shaped 404 for any other name.

The files are listed once when the routes are added; a name not among them never reaches the disk.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateways.kit.refusal import Refusal

STATIC = Path(__file__).parent / "static"
NO_SUCH_FILE = "There is no such file"
# The names change with the code, never under a running server; a browser may keep them a while.
CACHING = "public, max-age=3600"


def add_routes(app: web.Application) -> None:
    files = {path.name: path for path in STATIC.iterdir() if path.is_file()}

    async def asset(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["name"])
        if path is None:
            raise Refusal(404, NO_SUCH_FILE)
        return web.FileResponse(path, headers={"Cache-Control": CACHING, "X-Content-Type-Options": "nosniff"})

    app.router.add_get("/static/{name}", asset)
