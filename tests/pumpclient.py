"""A pump.io client's side of discovery, registration and the OAuth 1.0a dance, with real libraries.

requests and requests-oauthlib are synchronous, as in PyPump; the async helpers run them on a thread so
the server under test keeps serving on the event loop.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin

import requests
from requests_oauthlib import OAuth1, OAuth1Session

Credentials = tuple[str, str]
TIMEOUT = 10


def discover(url: str) -> dict[str, str]:
    """The endpoints host-meta.json advertises, by rel."""
    response = requests.get(f"{url}/.well-known/host-meta.json", timeout=TIMEOUT)
    response.raise_for_status()
    return {link["rel"]: link.get("href") or link["template"] for link in response.json()["links"]}


def register(url: str, *, as_form: bool = False, **fields: Any) -> Credentials:
    body = {"type": "client_associate", "application_type": "native", **fields}
    endpoint = f"{url}/api/client/register"
    if as_form:
        response = requests.post(endpoint, data=body, timeout=TIMEOUT)
    else:
        response = requests.post(endpoint, json=body, timeout=TIMEOUT)
    response.raise_for_status()
    answer = response.json()
    return answer["client_id"], answer["client_secret"]


async def register_client(url: str, **fields: Any) -> Credentials:
    return await asyncio.to_thread(register, url, **fields)


def signer(client: Credentials, token: Credentials | None = None, **options: Any) -> OAuth1:
    """requests auth that signs as `client`, and as the user behind `token` when given."""
    key, secret = token if token is not None else (None, None)
    return OAuth1(client[0], client[1], resource_owner_key=key, resource_owner_secret=secret, **options)


def request_token(url: str, client: Credentials, callback: str = "oob") -> Credentials:
    session = OAuth1Session(client[0], client_secret=client[1], callback_uri=callback)
    answer = session.fetch_request_token(f"{url}/oauth/request_token", timeout=TIMEOUT)
    assert answer["oauth_callback_confirmed"] == "true"
    return answer["oauth_token"], answer["oauth_token_secret"]


class Page(HTMLParser):
    """The parts of the authorize pages a client reads: the form and the verifier."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.verifier = ""
        self.code = ""
        self.error = ""
        self._capture = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = attributes.get("action", "")
        elif tag == "input" and attributes.get("type") == "hidden":
            self.fields[attributes["name"]] = attributes.get("value", "")
        if attributes.get("id") in ("verifier", "error", "code"):
            self._capture = attributes["id"]

    def handle_endtag(self, tag: str) -> None:
        self._capture = ""

    def handle_data(self, data: str) -> None:
        if self._capture == "verifier":
            self.verifier += data
        elif self._capture == "code":
            self.code += data
        elif self._capture == "error":
            self.error += data


def approve(url: str, token: str, user: str, password: str, *, follow: bool = True) -> requests.Response:
    """What a user does in the browser: open the authorize page, log in and approve."""
    with requests.Session() as browser:
        page = browser.get(f"{url}/oauth/authorize", params={"oauth_token": token}, timeout=TIMEOUT)
        page.raise_for_status()
        form = Page(page.text)
        fields = {**form.fields, "username": user, "password": password}
        return browser.post(urljoin(page.url, form.action), data=fields, allow_redirects=follow, timeout=TIMEOUT)


def access_token(url: str, client: Credentials, token: Credentials, verifier: str) -> Credentials:
    session = OAuth1Session(client[0], client_secret=client[1], resource_owner_key=token[0],
                            resource_owner_secret=token[1], verifier=verifier)
    answer = session.fetch_access_token(f"{url}/oauth/access_token", timeout=TIMEOUT)
    return answer["oauth_token"], answer["oauth_token_secret"]


def walk(url: str, client: Credentials, user: str, password: str) -> Credentials:
    token = request_token(url, client)
    approved = approve(url, token[0], user, password)
    approved.raise_for_status()
    verifier = Page(approved.text).verifier
    assert verifier, approved.text
    return access_token(url, client, token, verifier)


async def authorize(url: str, client: Credentials, user: str, password: str) -> Credentials:
    """An access token (token, secret) for `user` on `client`, through the whole out-of-band flow."""
    return await asyncio.to_thread(walk, url, client, user, password)


def form_answer(response: requests.Response) -> dict[str, str]:
    return dict(parse_qsl(response.text))
