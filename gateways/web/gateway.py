"""The web gallery as a gateway: pages for people, mounted beside the protocol APIs."""

from __future__ import annotations

from aiohttp import web

from gateways.kit.descriptor import Gateway
from gateways.kit.login import UNAVAILABLE
from gateways.kit.refusal import ErrorStyle
from gateways.web import assets, console, gallery, owner, placeholder, signin, templating, upload

# People get their refusals as pages; the API routes keep their protocols' JSON.
PAGES = ErrorStyle(codes=False, html=True, not_found="There is no page here",
                   # Every page reads the sign-in first, so its words are the ones a page shows while the log is away.
                   unavailable=UNAVAILABLE)


def add_routes(app: web.Application) -> None:
    templating.setup(app)
    signin.add_routes(app)
    console.add_routes(app)
    gallery.add_routes(app)
    owner.add_routes(app)
    upload.add_routes(app)
    placeholder.add_routes(app)
    assets.add_routes(app)


GATEWAY = Gateway(name="web", routes=add_routes, errors=PAGES)
