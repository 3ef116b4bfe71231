"""Mastodon apps and OAuth 2.0 with the real clients: Mastodon.py through the authorize page, toot's password login."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from mastodon import Mastodon

from tests import images
from tests.pumpclient import Page
from tests.servers import Running

PASSWORD = "correct horse"
TIMEOUT = 15
OOB = "urn:ietf:wg:oauth:2.0:oob"

pytestmark = pytest.mark.server(users={"alice": PASSWORD, "bob": PASSWORD})


def approve(url: str, *, user: str = "alice", password: str = PASSWORD, browser: requests.Session | None = None,
            follow: bool = False) -> requests.Response:
    """What a user does in the browser: open the page, log in, approve; the cookie and CSRF token go along."""
    browser = browser or requests.Session()
    page = browser.get(url, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    form = Page(page.text)
    fields = {**form.fields, "username": user, "password": password}
    return browser.post(urljoin(page.url, form.action), data=fields, allow_redirects=follow, timeout=TIMEOUT)


def register(server: Running, scopes: str = "read write", redirect: str = OOB) -> dict[str, Any]:
    answer = requests.post(f"{server.url}/api/v1/apps", json={"client_name": "Heron", "redirect_uris": redirect,
                                                              "scopes": scopes}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def oauth_refused(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]


async def test_mastodon_py_registers_signs_in_uploads_and_revokes(server: Running, tmp_path: Path) -> None:
    photo = images.jpeg(tmp_path / "photo.jpg", 64, 48, flat=True)
    redirect = "https://heron.example/done"

    def walk() -> tuple[Any, ...]:
        client_id, client_secret = Mastodon.create_app("Heron", api_base_url=server.url, scopes=["read", "write"],
                                                       redirect_uris=redirect, website="https://heron.example")
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server.url,
                       request_timeout=TIMEOUT)
        url = api.auth_request_url(redirect_uris=redirect, scopes=["read", "write"], state="s-42",
                                   allow_http=True)
        approved = approve(url)
        assert approved.status_code == 302, approved.text
        location = urlsplit(approved.headers["Location"])
        query = parse_qs(location.query)
        assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
        assert query["state"] == ["s-42"]
        token = api.log_in(code=query["code"][0], redirect_uri=redirect, scopes=["read", "write"],
                           allow_http=True)
        me = api.account_verify_credentials()
        app = api.app_verify_credentials()
        media = api.media_post(str(photo), description="a heron", synchronous=True)
        api.revoke_access_token(allow_http=True)
        after = requests.get(f"{server.url}/api/v1/accounts/verify_credentials",
                             headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        return client_id, me, app, media, after

    client_id, me, app, media, after = await asyncio.to_thread(walk)
    assert me["username"] == "alice"
    assert app["name"] == "Heron" and app["website"] == "https://heron.example"
    assert app["scopes"] == ["read", "write"] and "client_secret" not in app
    assert media["description"] == "a heron"
    assert (after.status_code, after.json()) == (401, {"error": "The access token is invalid"})
    # Neither the app's secret nor a token is in the log in clear.
    row = await server.projection.one("SELECT * FROM apps WHERE client_id = ?", (client_id,))
    assert row is not None and len(row["secret_hash"]) == 64
    assert await server.projection.one("SELECT * FROM tokens WHERE client_id = ?", (client_id,)) is None


async def test_application_entity_and_its_form_spelling(server: Running) -> None:
    def both() -> tuple[requests.Response, requests.Response]:
        as_json = requests.post(f"{server.url}/api/v1/apps", timeout=TIMEOUT, json={
            "client_name": "A", "redirect_uris": ["https://a.example/1", OOB], "website": "https://a.example"})
        as_form = requests.post(f"{server.url}/api/v1/apps", timeout=TIMEOUT, data={
            "client_name": "B", "redirect_uris": f"https://b.example/1\n{OOB}", "scopes": "read write:media"})
        return as_json, as_form

    as_json, as_form = await asyncio.to_thread(both)
    one, two = as_json.json(), as_form.json()
    assert set(one) == {"id", "name", "website", "scopes", "redirect_uri", "redirect_uris", "client_id",
                        "client_secret", "client_secret_expires_at"}
    assert one["scopes"] == ["read"] and one["client_secret_expires_at"] == 0
    assert one["redirect_uris"] == ["https://a.example/1", OOB]
    assert one["redirect_uri"] == f"https://a.example/1\n{OOB}"
    assert two["scopes"] == ["read", "write:media"] and two["website"] is None


async def test_app_registration_refusals(server: Running) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"redirect_uris": OOB}, "Validation failed: Name can't be blank"),
        ({"client_name": "x" * 201, "redirect_uris": OOB}, "Validation failed: Name is too long (maximum is 200 "
                                                           "characters)"),
        ({"client_name": "A"}, "Validation failed: Redirect URI can't be blank"),
        ({"client_name": "A", "redirect_uris": "not a uri"}, "Validation failed: Redirect URI must be an absolute "
                                                             "URI."),
        ({"client_name": "A", "redirect_uris": OOB, "scopes": "read admin:everything"},
         "Validation failed: Scopes must be known scopes"),
        ({"client_name": "A", "redirect_uris": OOB, "website": "javascript:alert(1)"},
         "Validation failed: Website is invalid"),
    ]
    before = await server.events.last_seq()
    for body, error in cases:
        answer = await asyncio.to_thread(requests.post, f"{server.url}/api/v1/apps", json=body, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()) == (422, {"error": error}), body
    assert await server.events.last_seq() == before


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def test_pkce_oob_page_and_code_refusals(server: Running) -> None:
    app = await asyncio.to_thread(register, server)
    other = await asyncio.to_thread(register, server)
    verifier = "v" * 50
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB, "scope": "read",
             "code_challenge": _challenge(verifier), "code_challenge_method": "S256"}

    def walk() -> list[requests.Response]:
        page = approve(requests.Request("GET", f"{server.url}/oauth/authorize", params=query).prepare().url or "")
        assert page.status_code == 200, page.text
        code = Page(page.text).code
        assert code
        token_url = f"{server.url}/oauth/token"
        base = {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB,
                "client_id": app["client_id"], "client_secret": app["client_secret"]}
        return [
            requests.post(token_url, data={**base, "code_verifier": "w" * 50}, timeout=TIMEOUT),
            requests.post(token_url, data={**base, "client_secret": "wrong", "code_verifier": verifier},
                          timeout=TIMEOUT),
            requests.post(token_url, data={**base, "client_id": other["client_id"],
                                           "client_secret": other["client_secret"], "code_verifier": verifier},
                          timeout=TIMEOUT),
            requests.post(token_url, data={**base, "code": "made-up", "code_verifier": verifier}, timeout=TIMEOUT),
            requests.post(token_url, data={**base, "redirect_uri": "https://heron.example/",
                                           "code_verifier": verifier}, timeout=TIMEOUT),
            requests.post(token_url, data={**base, "code_verifier": verifier}, timeout=TIMEOUT),
            requests.post(token_url, data={**base, "code_verifier": verifier}, timeout=TIMEOUT),
        ]

    mismatch, wrong_secret, other_client, made_up, other_redirect, first, reused = await asyncio.to_thread(walk)
    oauth_refused(mismatch, 400, "invalid_grant")
    oauth_refused(wrong_secret, 401, "invalid_client")
    oauth_refused(other_client, 400, "invalid_grant")
    oauth_refused(made_up, 400, "invalid_grant")
    oauth_refused(other_redirect, 400, "invalid_request")
    assert first.status_code == 200, first.text
    assert set(first.json()) == {"access_token", "token_type", "scope", "created_at"}
    assert first.json()["token_type"] == "Bearer" and first.json()["scope"] == "read"
    oauth_refused(reused, 400, "invalid_grant")
    token = first.json()["access_token"]
    # The code granted "read" only: writing is outside its scopes.
    upload = await asyncio.to_thread(requests.post, f"{server.url}/api/v2/media", timeout=TIMEOUT,
                                     headers={"Authorization": f"Bearer {token}"}, files={"file": ("a.png", b"x")})
    assert (upload.status_code, upload.json()) == (403, {"error": "This action is outside the authorized scopes"})


async def test_authorize_refusals(server: Running) -> None:
    app = await asyncio.to_thread(register, server, scopes="read")
    page = f"{server.url}/oauth/authorize"
    good = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB}

    def walk() -> dict[str, requests.Response]:
        browser = requests.Session()
        opened = browser.get(page, params=good, timeout=TIMEOUT)
        fields = {**Page(opened.text).fields, "username": "alice", "password": PASSWORD}
        without_csrf = {k: v for k, v in fields.items() if k != "csrf_token"}
        return {
            "unknown client": requests.get(page, params={**good, "client_id": "nobody"}, timeout=TIMEOUT),
            "unregistered redirect": requests.get(page, params={**good, "redirect_uri": "https://evil.example/"},
                                                  timeout=TIMEOUT),
            "escalation": requests.get(page, params={**good, "scope": "read write"}, timeout=TIMEOUT),
            "plain pkce": requests.get(page, params={**good, "code_challenge": "abc"}, timeout=TIMEOUT),
            "no csrf": browser.post(page, data=without_csrf, timeout=TIMEOUT),
            "no cookie": requests.post(page, data=fields, timeout=TIMEOUT),
            "wrong password": browser.post(page, data={**fields, "password": "nope"}, timeout=TIMEOUT),
        }

    answers = await asyncio.to_thread(walk)
    oauth_refused(answers["unknown client"], 401, "invalid_client")
    oauth_refused(answers["unregistered redirect"], 400, "invalid_request")
    oauth_refused(answers["escalation"], 400, "invalid_scope")
    oauth_refused(answers["plain pkce"], 400, "invalid_request")
    csrf = "The form's CSRF token is missing or wrong: open the authorize page again"
    for name in ("no csrf", "no cookie"):
        assert (answers[name].status_code, answers[name].json()) == (403, {"error": csrf}), name
    assert answers["wrong password"].status_code == 403
    assert Page(answers["wrong password"].text).error == "Wrong username or password"


async def test_an_error_after_the_client_is_trusted_goes_back_to_its_redirect_uri(server: Running) -> None:
    redirect = "https://heron.example/done"
    app = await asyncio.to_thread(register, server, scopes="read", redirect=redirect)
    answer = await asyncio.to_thread(
        requests.get, f"{server.url}/oauth/authorize", allow_redirects=False, timeout=TIMEOUT,
        params={"response_type": "code", "client_id": app["client_id"], "redirect_uri": redirect,
                "scope": "write", "state": "z"})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["z"]


async def test_one_sign_in_serves_later_approvals_unless_forced(server: Running) -> None:
    app = await asyncio.to_thread(register, server)
    page = f"{server.url}/oauth/authorize"
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB}

    def walk() -> tuple[str, str, str]:
        browser = requests.Session()
        first = approve(requests.Request("GET", page, params=params).prepare().url or "", browser=browser)
        assert Page(first.text).code
        again = browser.get(page, params=params, timeout=TIMEOUT)
        form = Page(again.text)
        second = browser.post(page, data=form.fields, timeout=TIMEOUT)
        forced = browser.get(page, params={**params, "force_login": "true"}, timeout=TIMEOUT)
        return again.text, Page(second.text).code, forced.text

    again, code, forced = await asyncio.to_thread(walk)
    assert 'id="signed-in"' in again and 'name="password"' not in again
    assert code
    assert 'name="password"' in forced


async def test_password_and_client_credentials_grants(server: Running) -> None:
    app = await asyncio.to_thread(register, server, scopes="read write")
    token_url = f"{server.url}/oauth/token"
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}

    def walk() -> list[requests.Response]:
        return [
            requests.post(token_url, timeout=TIMEOUT, data={**creds, "grant_type": "password",
                                                            "username": "alice@localhost", "password": PASSWORD,
                                                            "scope": "read"}),
            requests.post(token_url, timeout=TIMEOUT, data={**creds, "grant_type": "password", "username": "alice",
                                                            "password": "wrong"}),
            requests.post(token_url, timeout=TIMEOUT, data={**creds, "grant_type": "password", "username": "alice",
                                                            "password": PASSWORD, "scope": "read follow"}),
            requests.post(token_url, timeout=TIMEOUT, json={**creds, "grant_type": "client_credentials"}),
            requests.post(token_url, timeout=TIMEOUT, data={"grant_type": "client_credentials",
                                                            "client_id": "nobody", "client_secret": "x"}),
        ]

    password, wrong, escalated, app_token, unknown = await asyncio.to_thread(walk)
    assert password.status_code == 200, password.text
    assert password.json()["scope"] == "read"
    oauth_refused(wrong, 400, "invalid_grant")
    oauth_refused(escalated, 400, "invalid_scope")
    oauth_refused(unknown, 401, "invalid_client")
    assert app_token.status_code == 200, app_token.text
    bearer = {"Authorization": f"Bearer {app_token.json()['access_token']}"}

    def use_app_token() -> tuple[requests.Response, requests.Response]:
        return (requests.get(f"{server.url}/api/v1/apps/verify_credentials", headers=bearer, timeout=TIMEOUT),
                requests.get(f"{server.url}/api/v1/accounts/verify_credentials", headers=bearer, timeout=TIMEOUT))

    verified, as_user = await asyncio.to_thread(use_app_token)
    assert verified.json()["name"] == "Heron"
    # An app's own token acts for nobody: Mastodon's 422, not the 401 of a token nobody issued.
    assert (as_user.status_code, as_user.json()) == (422, {"error": "This method requires an authenticated user"})


async def test_revoke_refusals_and_metadata(server: Running) -> None:
    app = await asyncio.to_thread(register, server)
    other = await asyncio.to_thread(register, server)
    token_url, revoke_url = f"{server.url}/oauth/token", f"{server.url}/oauth/revoke"

    def walk() -> list[requests.Response]:
        issued = requests.post(token_url, timeout=TIMEOUT, data={
            "grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"],
            "username": "alice", "password": PASSWORD}).json()["access_token"]
        return [
            requests.post(revoke_url, timeout=TIMEOUT, data={"client_id": app["client_id"], "client_secret": "no",
                                                             "token": issued}),
            # Another app cannot revoke it: answered as success, changing nothing (RFC 7009).
            requests.post(revoke_url, timeout=TIMEOUT, data={"client_id": other["client_id"],
                                                             "client_secret": other["client_secret"],
                                                             "token": issued}),
            requests.get(f"{server.url}/api/v1/accounts/verify_credentials", timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {issued}"}),
            requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=TIMEOUT),
        ]

    wrong_secret, other_app, still_valid, metadata = await asyncio.to_thread(walk)
    oauth_refused(wrong_secret, 403, "unauthorized_client")
    assert (other_app.status_code, other_app.json()) == (200, {})
    assert still_valid.status_code == 200
    meta = metadata.json()
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint"] == f"{server.url}/oauth/token"
    assert "write:media" in meta["scopes_supported"]


async def test_operator_tokens_keep_working(server: Running) -> None:
    token = await server.token("alice")
    answer = await asyncio.to_thread(requests.get, f"{server.url}/api/v1/apps/verify_credentials", timeout=TIMEOUT,
                                     headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["scopes"] == ["read", "write"]


def _toot(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run([sys.executable, "-m", "toot", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


async def test_toot_logs_in_with_a_password_and_knows_who_it_is(server: Running, tmp_path: Path) -> None:
    login = await asyncio.to_thread(_toot, tmp_path, "login_cli", "--instance", server.url,
                                    "--email", "alice@localhost", "--password", PASSWORD)
    assert login.returncode == 0, login.stdout + login.stderr
    whoami = await asyncio.to_thread(_toot, tmp_path, "whoami", "--json")
    assert whoami.returncode == 0, whoami.stdout + whoami.stderr
    assert json.loads(whoami.stdout)["username"] == "alice"


async def test_one_sign_in_serves_both_protocols_on_the_shared_page(server: Running) -> None:
    from tests import pumpclient

    pump = await pumpclient.register_client(server.url)
    request_token = await asyncio.to_thread(pumpclient.request_token, server.url, pump)
    app = await asyncio.to_thread(register, server)

    def walk() -> str:
        browser = requests.Session()
        pump_page = f"{server.url}/oauth/authorize?oauth_token={request_token[0]}"
        assert Page(approve(pump_page, browser=browser).text).verifier
        page = browser.get(f"{server.url}/oauth/authorize", timeout=TIMEOUT,
                           params={"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB})
        return page.text

    assert 'id="signed-in"' in await asyncio.to_thread(walk)


def test_a_revoked_token_leaves_the_read_model_and_an_app_keeps_only_its_secrets_hash() -> None:
    from core.events import AppRegistered, TokenRevoked
    from store.readmodel import Put, Remove, changes

    assert changes(TokenRevoked(at=1.0, token_id="t", token_hash="h" * 64)) == [Remove("tokens", "h" * 64)]
    [put] = changes(AppRegistered(at=1.0, app_id="1", client_id="c", secret_hash="s" * 64, name="A",
                                  redirect_uris=("https://a.example/1", OOB), scopes=("read", "write")))
    assert isinstance(put, Put) and put.row["secret_hash"] == "s" * 64
    assert put.row["redirect_uris"] == f"https://a.example/1\n{OOB}" and put.row["scopes"] == "read write"


async def test_racing_exchanges_of_one_code_issue_one_token(server: Running) -> None:
    app = await asyncio.to_thread(register, server)
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB}
    url = requests.Request("GET", f"{server.url}/oauth/authorize", params=query).prepare().url or ""
    code = Page((await asyncio.to_thread(approve, url)).text).code
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB,
                "client_id": app["client_id"], "client_secret": app["client_secret"]}
    answers = await asyncio.gather(*(asyncio.to_thread(requests.post, f"{server.url}/oauth/token", data=exchange,
                                                       timeout=TIMEOUT) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 400]
    rows = await server.projection.read(
        lambda db: db.execute("SELECT count(*) FROM tokens WHERE client_id = ?", (app["client_id"],)).fetchone()[0])
    assert rows == 1


async def test_a_doctored_session_cookie_signs_nobody_in(server: Running) -> None:
    app = await asyncio.to_thread(register, server)
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB}
    page = f"{server.url}/oauth/authorize"

    def walk() -> str:
        browser = requests.Session()
        approve(requests.Request("GET", page, params=params).prepare().url or "", browser=browser)
        payload, _, mac = browser.cookies["mediaplex_login"].partition(".")
        session = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert session[1] == "alice"
        session[1] = "bob"
        forged = base64.urlsafe_b64encode(json.dumps(session).encode()).decode().rstrip("=")
        browser.cookies.clear()
        browser.cookies.set("mediaplex_login", f"{forged}.{mac}", path="/")
        return browser.get(page, params=params, timeout=TIMEOUT).text

    text = await asyncio.to_thread(walk)
    assert 'id="signed-in"' not in text and 'name="password"' in text


async def test_the_client_may_authenticate_with_http_basic(server: Running) -> None:
    app = await asyncio.to_thread(register, server)

    def exchange(secret: str) -> requests.Response:
        return requests.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(app["client_id"], secret), timeout=TIMEOUT)

    good, bad = await asyncio.gather(asyncio.to_thread(exchange, app["client_secret"]),
                                     asyncio.to_thread(exchange, "wrong"))
    assert good.status_code == 200 and good.json()["scope"] == "read"
    oauth_refused(bad, 401, "invalid_client")
