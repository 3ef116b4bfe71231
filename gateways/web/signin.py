"""`/login` and `/logout`: the same sign-in as the authorize pages, for people browsing the gallery."""

from __future__ import annotations

from aiohttp import web

from gateways.kit import bodies
from gateways.kit.bodies import FormCaps
from gateways.kit.login import WRONG_LOGIN, check_login
from gateways.web.session import local, login, see_other
from gateways.web.templating import page

FORM = FormCaps(max_bytes=8 * 1024, max_fields=6, max_name=32, max_value=2048)


async def show(request: web.Request) -> web.StreamResponse:
    return await page(request, "login.html", {"next": local(request.query.get("next", "/")), "error": ""})


async def submit(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    session = await login(request)
    session.check_csrf(form)
    target = local(form.get("next", "/"))
    user_id = await check_login(request, form.get("username", ""), form.get("password", ""))
    if user_id is None:
        return await page(request, "login.html", {"next": target, "error": WRONG_LOGIN}, status=401)
    response = see_other(target)
    session.remember(response, request, user_id)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    form = await bodies.read_form(request, FORM)
    session = await login(request)
    session.check_csrf(form)
    response = see_other("/")
    # A fresh session with nobody in it: the old one's id is forgotten.
    session.remember(response, request, "")
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", show)
    app.router.add_post("/login", submit)
    app.router.add_post("/logout", logout)
