"""The web gallery as a gateway: pages for people, mounted beside the protocol APIs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateways.kit.descriptor import Gateway
from gateways.kit.login import UNAVAILABLE
from gateways.kit.refusal import ErrorStyle
from gateways.web import console, signin, templating, upload

STATIC = Path(__file__).parent / "static"
# People get their refusals as pages; the API routes keep their protocols' JSON.
PAGES = ErrorStyle(codes=False, html=True, not_found="There is no page here",
                   # Every page reads the sign-in first, so its words are the ones a page shows while the log is away.
                   unavailable=UNAVAILABLE)


def add_routes(app: web.Application) -> None:
    templating.setup(app)
    signin.add_routes(app)
    console.add_routes(app)
    upload.add_routes(app)
    app.router.add_static("/static/", STATIC)


GATEWAY = Gateway(name="web", routes=add_routes, errors=PAGES)
