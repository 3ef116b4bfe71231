"""The gallery's sign-in: a login form with a CSRF token, a signed cookie shared with the authorize pages."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.servers import Servers

pytestmark = pytest.mark.asyncio


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def signed_in(base: str, http: aiohttp.ClientSession, user: str, password: str) -> str:
    """Signs in through the form; the page after it, which names the user."""
    async with http.get(f"{base}/login") as page:
        csrf = csrf_of(await page.text())
    form = {"csrf_token": csrf, "username": user, "password": password, "next": "/login"}
    async with http.post(f"{base}/login", data=form) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.text()


async def test_a_user_signs_in_and_out_through_the_form(make_server: Servers) -> None:
    running = await make_server(users={"ada": "ada-password"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        text = await signed_in(running.url, http, "ada", "ada-password")
        assert "Sign out (ada)" in text
        async with http.post(f"{running.url}/logout", data={"csrf_token": csrf_of(text)},
                             allow_redirects=False) as out:
            assert out.status == 303 and out.headers["Location"] == "/"
        async with http.get(f"{running.url}/login") as page:
            assert "Sign out" not in await page.text()


async def test_a_wrong_password_and_a_forged_form_are_refused_as_pages(make_server: Servers) -> None:
    running = await make_server(users={"ada": "ada-password"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{running.url}/login") as page:
            csrf = csrf_of(await page.text())
        form = {"csrf_token": csrf, "username": "ada", "password": "wrong"}
        async with http.post(f"{running.url}/login", data=form) as answer:
            assert answer.status == 401
            assert "Wrong username or password" in await answer.text()
        form = {"csrf_token": "forged", "username": "ada", "password": "ada-password"}
        async with http.post(f"{running.url}/login", data=form) as answer:
            assert answer.status == 403
            assert answer.content_type == "text/html"
            assert "CSRF" in await answer.text()


async def test_next_only_leads_back_into_the_site(make_server: Servers) -> None:
    running = await make_server(users={"ada": "ada-password"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            # Signing in starts a new session, with a new token.
            async with http.get(f"{running.url}/login") as page:
                csrf = csrf_of(await page.text())
            form = {"csrf_token": csrf, "username": "ada", "password": "ada-password", "next": target}
            async with http.post(f"{running.url}/login", data=form, allow_redirects=False) as answer:
                assert answer.status == 303
                assert answer.headers["Location"] == "/"
