"""The pages' templates: Jinja2 with escaping on for everything, so user text always renders as text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateways.web.session import login, viewer

# Scripts and styles come only from this site's own files: user text that slipped through could not run.
POLICY = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; script-src 'self'; "
          "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("gateways.web", "templates"), autoescape=True,
                         undefined=jinja2.StrictUndefined)


async def page(request: web.Request, template: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    """The template rendered for the viewer: every page knows who is signed in and carries their CSRF token."""
    response = aiohttp_jinja2.render_template(template, request, {"viewer": await viewer(request), **context},
                                              status=status)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    session = await login(request)
    if session.fresh:
        # A first visit gets its session here, so the forms on this page can be posted.
        session.remember(response, request)
    return response
