"""pump.io client registration and OAuth 1.0a over real HTTP, signed by requests-oauthlib.

Protected calls go to a second gateway replica built in this module: the same gateway app on the same
log, projection and public URL, plus one route that answers with `authenticate`'s principal. Requests
reach it on its own port while signed for the public URL, as behind a proxy, and the OAuth state both
replicas share is seen from either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from aiohttp import web
from requests_oauthlib import OAuth1Session

from gateways.app import create_app
from gateways.kit.jetstream_kv import JetStreamBuckets
from gateways.kit.services import SERVICES
from gateways.pumpio.oauth import authenticate
from gateways.pumpio.state import NONCE_TTL, REQUEST_TOKEN_TTL, OAuthState, RequestToken
from tests import pumpclient
from tests.pumpclient import Credentials, Page, signer
from tests.servers import Running

TIMEOUT = 10
PASSWORD = "correct horse"


pytestmark = pytest.mark.server(processor=False, users={"alice": PASSWORD})


async def principal(request: web.Request) -> web.Response:
    found = await authenticate(request)
    # Asking again within one request answers the same, rather than seeing a replayed nonce.
    assert await authenticate(request) is found
    return web.json_response({"user_id": found.user_id, "client_id": found.client_id})


@pytest.fixture
async def replica(server: Running) -> AsyncIterator[str]:
    """The address of a second replica whose public URL is the first one's."""
    app = create_app()
    app.router.add_route("*", "/test/principal", principal)
    assert server.server.services is not None
    app[SERVICES] = server.server.services
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


def call(method: str, url: str, **options: Any) -> requests.Response:
    return requests.request(method, url, timeout=TIMEOUT, **options)


def send(prepared: requests.PreparedRequest, url: str) -> requests.Response:
    """Sends a request signed for one URL to another address, as a proxy would forward it."""
    forwarded = prepared.copy()
    forwarded.url = url
    with requests.Session() as session:
        return session.send(forwarded, timeout=TIMEOUT)


async def via_replica(server: Running, replica: str, path: str, auth: Any, method: str = "GET",
                      **options: Any) -> requests.Response:
    """Signed for the public URL, sent to the replica's own address."""
    prepared = requests.Request(method, server.url + path, auth=auth, **options).prepare()
    return await asyncio.to_thread(send, prepared, replica + path)


def refused(response: requests.Response, status: int, error: str) -> None:
    assert (response.status_code, response.json()) == (status, {"error": error}), response.text


async def still_serving(server: Running, client: Credentials) -> None:
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    assert token[0] and token[1]


# ---- the whole flow ------------------------------------------------------------------------------------


async def test_a_client_discovers_registers_and_gets_an_access_token(server: Running, replica: str) -> None:
    endpoints = await asyncio.to_thread(pumpclient.discover, server.url)
    register = endpoints["registration_endpoint"]
    assert register == f"{server.url}/api/client/register"
    assert endpoints["http://apinamespace.org/oauth/request_token"] == f"{server.url}/oauth/request_token"

    client = await pumpclient.register_client(
        server.url, application_name="Heron Watch", logo_url="https://heron.example/logo.png",
        redirect_uri="https://heron.example/cb https://heron.example/cb2", contacts="ann@heron.example",
    )
    token = await pumpclient.authorize(server.url, client, "alice", PASSWORD)

    response = await via_replica(server, replica, "/test/principal", signer(client, token))
    assert response.status_code == 200, response.text
    assert response.json() == {"user_id": "alice", "client_id": client[0]}

    row = await server.projection.one("SELECT * FROM oauth_tokens WHERE token = ?", (token[0],))
    assert row is not None
    assert (row["secret"], row["client_id"], row["user_id"]) == (token[1], client[0], "alice")
    registered = await server.projection.one("SELECT * FROM clients WHERE client_id = ?", (client[0],))
    assert registered is not None
    assert registered["application_name"] == "Heron Watch"
    assert registered["logo_uri"] == "https://heron.example/logo.png"
    assert registered["redirect_uris"] == '["https://heron.example/cb","https://heron.example/cb2"]'
    assert registered["contacts"] == '["ann@heron.example"]'


async def test_the_authorize_page_shows_the_client_and_a_login_form(server: Running) -> None:
    client = await pumpclient.register_client(server.url, application_name="Heron <Watch>")
    token, _ = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    page = await asyncio.to_thread(call, "GET", f"{server.url}/oauth/authorize/?oauth_token={token}")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Heron &lt;Watch&gt;" in page.text
    form = Page(page.text)
    assert form.action == f"{server.url}/oauth/authorize"
    assert set(form.fields) == {"oauth_token", "csrf_token"} and form.fields["oauth_token"] == token
    assert 'name="username"' in page.text and 'name="password"' in page.text


async def test_a_callback_with_a_query_gets_the_token_and_verifier_appended(server: Running, replica: str) -> None:
    client = await pumpclient.register_client(server.url)
    callback = "https://heron.example/done?state=x%20y&n=1"
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client, callback)
    approved = await asyncio.to_thread(pumpclient.approve, server.url, token[0], "alice", PASSWORD, follow=False)
    assert approved.status_code == 302
    location = urlsplit(approved.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "heron.example", "/done")
    query = parse_qsl(location.query)
    assert query[:2] == [("state", "x y"), ("n", "1")]
    assert [name for name, _ in query[2:]] == ["oauth_token", "oauth_verifier"]
    assert query[2][1] == token[0]
    access = await asyncio.to_thread(pumpclient.access_token, server.url, client, token, query[3][1])
    response = await via_replica(server, replica, "/test/principal", signer(client, access))
    assert response.json() == {"user_id": "alice", "client_id": client[0]}


async def test_a_callback_without_a_query_gets_one(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client, "myapp://done")
    approved = await asyncio.to_thread(pumpclient.approve, server.url, token[0], "alice", PASSWORD, follow=False)
    assert approved.status_code == 302
    assert approved.headers["Location"].startswith(f"myapp://done?oauth_token={token[0]}&oauth_verifier=")


async def test_a_missing_callback_means_out_of_band(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    response = await asyncio.to_thread(call, "POST", f"{server.url}/oauth/request_token", auth=signer(client))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    answer = pumpclient.form_answer(response)
    assert list(answer) == ["oauth_token", "oauth_token_secret", "oauth_callback_confirmed"]
    approved = await asyncio.to_thread(pumpclient.approve, server.url, answer["oauth_token"], "alice", PASSWORD)
    assert approved.status_code == 200
    assert Page(approved.text).verifier


async def test_a_wrong_password_shows_the_form_again(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    for user, password in (("alice", "wrong"), ("nobody", PASSWORD)):
        answer = await asyncio.to_thread(pumpclient.approve, server.url, token[0], user, password)
        assert answer.status_code == 403
        page = Page(answer.text)
        assert page.error == "Wrong username or password"
        assert page.fields["oauth_token"] == token[0] and page.fields["csrf_token"]
    approved = await asyncio.to_thread(pumpclient.approve, server.url, token[0], "alice", PASSWORD)
    assert approved.status_code == 200 and Page(approved.text).verifier


# ---- registration ---------------------------------------------------------------------------------------


async def test_registration_takes_form_and_json_and_both_spellings(server: Running) -> None:
    variants: list[dict[str, Any]] = [
        {"as_form": True, "logo_uri": "https://a.example/l.png", "redirect_uris": "https://a.example/1 myapp://2"},
        {"as_form": True, "logo_url": "https://a.example/l.png", "redirect_uri": "https://a.example/1 myapp://2"},
        {"logo_uri": "https://a.example/l.png", "redirect_uris": ["https://a.example/1", "myapp://2"]},
        {"logo_url": "https://a.example/l.png", "redirect_uri": "https://a.example/1 myapp://2"},
    ]
    for fields in variants:
        client_id, secret = await pumpclient.register_client(server.url, application_name="V", **fields)
        row = await server.projection.one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
        assert row is not None, fields
        assert row["client_secret"] == secret
        assert row["logo_uri"] == "https://a.example/l.png"
        assert row["redirect_uris"] == '["https://a.example/1","myapp://2"]'
        assert row["application_type"] == "native"


async def test_registration_answers_pump_io_shape(server: Running) -> None:
    response = await asyncio.to_thread(call, "POST", f"{server.url}/api/client/register/",
                                       json={"type": "client_associate", "application_type": "web"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["client_id", "client_secret", "expires_at"]
    assert body["expires_at"] == 0


async def test_client_update_with_the_secret_in_the_body_as_pypump_sends_it(server: Running) -> None:
    client_id, secret = await pumpclient.register_client(server.url, application_name="Old")
    response = await asyncio.to_thread(call, "POST", f"{server.url}/api/client/register", json={
        "type": "client_update", "application_type": "web", "client_id": client_id, "client_secret": secret,
        "application_name": "New", "redirect_uri": "https://new.example/cb",
    })
    assert response.status_code == 200, response.text
    assert response.json() == {"client_id": client_id, "client_secret": secret, "expires_at": 0}
    row = await server.projection.one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
    assert row is not None
    assert (row["application_name"], row["application_type"]) == ("New", "web")
    assert row["redirect_uris"] == '["https://new.example/cb"]'


async def test_client_update_signed_as_the_consumer(server: Running) -> None:
    client = await pumpclient.register_client(server.url, application_name="Old")
    for body in ({"data": {"type": "client_update", "application_name": "Signed form"}},
                 {"json": {"type": "client_update", "application_name": "Signed JSON"}}):
        response = await asyncio.to_thread(call, "POST", f"{server.url}/api/client/register",
                                           auth=signer(client), **body)
        assert response.status_code == 200, response.text
        assert response.json() == {"client_id": client[0], "client_secret": client[1], "expires_at": 0}
    row = await server.projection.one("SELECT application_name FROM clients WHERE client_id = ?", (client[0],))
    assert row is not None and row["application_name"] == "Signed JSON"


async def test_registration_refusals(server: Running) -> None:
    client_id, secret = await pumpclient.register_client(server.url)
    endpoint = f"{server.url}/api/client/register"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": b"type=client_associate", "headers": {"Content-Type": "text/plain"}}, 400,
         "Unknown Content-Type: send application/json or application/x-www-form-urlencoded"),
        ({"data": b""}, 400, "Unknown Content-Type: send application/json or application/x-www-form-urlencoded"),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
         "Could not decode the JSON body"),
        ({"json": ["type", "client_associate"]}, 400, "Could not decode the JSON body"),
        ({"json": {"application_type": "web"}}, 400, "No registration type provided"),
        ({"data": {"application_type": "web"}}, 400, "No registration type provided"),
        ({"json": {"type": "client_dissociate"}}, 400, "Invalid registration type"),
        ({"json": {"type": "client_associate", "application_type": "desktop"}}, 400,
         "Unknown application_type."),
        ({"data": {"type": "client_associate", "application_type": "desktop"}}, 400,
         "Unknown application_type."),
        ({"json": {"type": "client_associate", "logo_url": "not a url"}}, 400, "Invalid logo_uri."),
        ({"json": {"type": "client_associate", "contacts": "nobody"}}, 400,
         "contacts must be space-separated email addresses."),
        ({"json": {"type": "client_associate", "redirect_uris": "/relative"}}, 400,
         "redirect_uris must be space-separated URLs."),
        ({"json": {"type": "client_associate", "application_name": 7}}, 400, "application_name must be a string"),
        ({"json": {"type": "client_associate", "client_id": client_id}}, 400, "Only set client_id for update."),
        ({"json": {"type": "client_update", "client_id": client_id}}, 400,
         "client_update needs client_id and client_secret, or an OAuth signature"),
        ({"json": {"type": "client_update", "client_id": client_id, "client_secret": "wrong"}}, 403,
         "Unauthorized"),
        ({"json": {"type": "client_update", "client_id": "unknown", "client_secret": secret}}, 403,
         "Unauthorized"),
        ({"json": {"type": "client_update", "application_name": "x"},
          "auth": signer((client_id, "wrong secret"))}, 401, "Invalid signature"),
        ({"json": {"type": "client_update", "client_id": "another", "application_name": "x"},
          "auth": signer((client_id, secret))}, 403, "Unauthorized"),
    ]
    for options, status, error in cases:
        response = await asyncio.to_thread(call, "POST", endpoint, **options)
        refused(response, status, error)
    row = await server.projection.one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
    assert row is not None and row["application_name"] == "" and row["client_secret"] == secret
    assert await pumpclient.register_client(server.url)


# ---- refusals of the OAuth endpoints -------------------------------------------------------------------


async def test_request_token_refusals(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    endpoint = f"{server.url}/oauth/request_token"
    now = int(time.time())
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 401, "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"),
        ({"headers": {"Authorization": "Bearer abc"}}, 401,
         "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"),
        ({"headers": {"Authorization": "OAuth oauth_consumer_key"}}, 400, "Malformed OAuth Authorization header"),
        ({"headers": {"Authorization": f'OAuth oauth_consumer_key="{client[0]}"'}}, 400,
         "Missing OAuth parameters: oauth_signature, oauth_signature_method, oauth_timestamp, oauth_nonce"),
        ({"auth": signer(client, signature_method="PLAINTEXT")}, 400,
         "Unsupported signature method: use HMAC-SHA1"),
        ({"auth": signer(client, timestamp=str(now - 601))}, 401,
         "oauth_timestamp is more than 10 minutes away from the server's clock"),
        ({"auth": signer(client, timestamp=str(now + 3600))}, 401,
         "oauth_timestamp is more than 10 minutes away from the server's clock"),
        ({"auth": signer((client[0], "not the secret"))}, 401, "Invalid signature"),
        ({"auth": signer(("unknown-client", client[1]))}, 401, "Unknown client"),
        ({"auth": signer(client, callback_uri="not a uri")}, 400, "oauth_callback must be 'oob' or an absolute URI"),
        ({"auth": signer(client, ("some-token", "some-secret"))}, 400,
         "A request token request carries no oauth_token"),
    ]
    for options, status, error in cases:
        response = await asyncio.to_thread(call, "POST", endpoint, **options)
        refused(response, status, error)
        await still_serving(server, client)


async def test_a_replayed_nonce_is_refused_on_any_replica(server: Running, replica: str) -> None:
    client = await pumpclient.register_client(server.url)
    public = f"{server.url}/oauth/request_token"
    prepared = requests.Request("POST", public, auth=signer(client)).prepare()
    first = await asyncio.to_thread(send, prepared, public)
    assert first.status_code == 200
    refused(await asyncio.to_thread(send, prepared, public), 401, "This nonce was already used")
    refused(await asyncio.to_thread(send, prepared, f"{replica}/oauth/request_token"), 401,
            "This nonce was already used")
    await still_serving(server, client)


async def test_access_token_refusals(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    other = await pumpclient.register_client(server.url)
    endpoint = f"{server.url}/oauth/access_token"
    pending = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    approved_token = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    approved = await asyncio.to_thread(pumpclient.approve, server.url, approved_token[0], "alice", PASSWORD)
    verifier = Page(approved.text).verifier

    def exchange(signing: Credentials, token: Credentials, code: str | None) -> requests.Response:
        auth = signer(signing, token, **({"verifier": code} if code is not None else {}))
        return call("POST", endpoint, auth=auth)

    cases: list[tuple[Callable[[], requests.Response], int, str]] = [
        (lambda: call("POST", endpoint), 401,
         "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"),
        (lambda: call("POST", endpoint, auth=signer(client, verifier=verifier)), 400,
         "Missing request token (oauth_token)"),
        (lambda: exchange(client, approved_token, None), 400, "Missing oauth_verifier"),
        (lambda: exchange(client, ("unknown-token", "secret"), verifier), 401, "Unknown or expired request token"),
        (lambda: exchange(other, approved_token, verifier), 401, "Unknown or expired request token"),
        (lambda: exchange(("unknown-client", client[1]), approved_token, verifier), 401, "Unknown client"),
        (lambda: exchange(client, pending, "whatever"), 401, "Request token not authorized yet"),
        (lambda: exchange(client, approved_token, "wrong-verifier"), 401, "Wrong verifier"),
        (lambda: exchange(client, (approved_token[0], "wrong-secret"), verifier), 401, "Invalid signature"),
        (lambda: exchange((client[0], "wrong-secret"), approved_token, verifier), 401, "Invalid signature"),
    ]
    for send, status, error in cases:
        refused(await asyncio.to_thread(send), status, error)
        await still_serving(server, client)

    first = await asyncio.to_thread(exchange, client, approved_token, verifier)
    assert first.status_code == 200, first.text
    assert list(pumpclient.form_answer(first)) == ["oauth_token", "oauth_token_secret"]
    refused(await asyncio.to_thread(exchange, client, approved_token, verifier), 401, "Request token already used")
    await still_serving(server, client)


async def test_authorize_page_refusals(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    used = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    approved = await asyncio.to_thread(pumpclient.approve, server.url, used[0], "alice", PASSWORD)
    await asyncio.to_thread(pumpclient.access_token, server.url, client, used, Page(approved.text).verifier)
    authorized = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    await asyncio.to_thread(pumpclient.approve, server.url, authorized[0], "alice", PASSWORD)
    page = f"{server.url}/oauth/authorize"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("GET", {}, 400, "Name a request token (oauth_token, OAuth 1.0a) or a client (response_type and "
                         "client_id, OAuth 2.0)"),
        ("GET", {"params": {"oauth_token": "unknown"}}, 400, "Unknown or expired request token"),
        ("GET", {"params": {"oauth_token": "not/a key!"}}, 400, "Unknown or expired request token"),
        ("GET", {"params": {"oauth_token": used[0]}}, 400, "Request token already used"),
        ("GET", {"params": {"oauth_token": authorized[0]}}, 400, "Request token already authorized"),
        ("POST", {"data": {"oauth_token": "unknown", "username": "alice", "password": PASSWORD}}, 400,
         "Unknown or expired request token"),
        ("POST", {"data": {"oauth_token": used[0], "username": "alice", "password": PASSWORD}}, 400,
         "Request token already used"),
    ]
    for method, options, status, error in cases:
        refused(await asyncio.to_thread(call, method, page, **options), status, error)
        await still_serving(server, client)


async def test_protected_call_refusals(server: Running, replica: str) -> None:
    client = await pumpclient.register_client(server.url)
    other = await pumpclient.register_client(server.url)
    token = await pumpclient.authorize(server.url, client, "alice", PASSWORD)
    now = int(time.time())
    cases: list[tuple[Any, int, str]] = [
        (None, 401, "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"),
        (signer(client), 401, "Missing access token (oauth_token)"),
        (signer(client, ("unknown-token", token[1])), 401, "Invalid access token"),
        (signer(other, token), 401, "Invalid access token"),
        (signer(client, (token[0], "wrong-secret")), 401, "Invalid signature"),
        (signer(("unknown-client", client[1]), token), 401, "Unknown client"),
        (signer(client, token, timestamp=str(now - 3600)), 401,
         "oauth_timestamp is more than 10 minutes away from the server's clock"),
    ]
    for auth, status, error in cases:
        refused(await via_replica(server, replica, "/test/principal", auth), status, error)
    # Signed for the replica's own address rather than the public URL: the Host header does not count.
    response = await asyncio.to_thread(call, "GET", f"{replica}/test/principal", auth=signer(client, token))
    refused(response, 401, "Invalid signature")

    prepared = requests.Request("GET", f"{server.url}/test/principal", auth=signer(client, token)).prepare()
    assert (await asyncio.to_thread(send, prepared, f"{replica}/test/principal")).status_code == 200
    refused(await asyncio.to_thread(send, prepared, f"{replica}/test/principal"), 401, "This nonce was already used")
    ok = await via_replica(server, replica, "/test/principal", signer(client, token))
    assert ok.json() == {"user_id": "alice", "client_id": client[0]}


async def test_signed_form_bodies_count_and_json_bodies_do_not(server: Running, replica: str) -> None:
    client = await pumpclient.register_client(server.url)
    token = await pumpclient.authorize(server.url, client, "alice", PASSWORD)
    path = "/test/principal?x=1"
    for body in ({"data": {"a": "1", "b": "two words"}}, {"json": {"verb": "post"}}):
        response = await via_replica(server, replica, path, signer(client, token), method="POST", **body)
        assert response.status_code == 200, response.text
    prepared = requests.Request("POST", server.url + path, data={"a": "1"}, auth=signer(client, token)).prepare()
    prepared.body = "a=2"
    refused(await asyncio.to_thread(send, prepared, replica + path), 401, "Invalid signature")


async def test_tokens_work_with_trailing_slashes(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    session = OAuth1Session(client[0], client_secret=client[1], callback_uri="oob")
    answer = await asyncio.to_thread(session.fetch_request_token, f"{server.url}/oauth/request_token/")
    assert answer["oauth_callback_confirmed"] == "true"


# ---- the shared OAuth state ----------------------------------------------------------------------------


async def test_oauth_state_lives_in_expiring_buckets_named_after_the_stream(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    await asyncio.to_thread(pumpclient.request_token, server.url, client)
    stream = server.events.stream
    tokens = await server.events.jetstream.key_value(f"{stream}_oauth_request_tokens")
    nonces = await server.events.jetstream.key_value(f"{stream}_oauth_nonces")
    assert (await tokens.status()).ttl == REQUEST_TOKEN_TTL == 30 * 60
    assert (await nonces.status()).ttl == NONCE_TTL == 21 * 60
    assert (await tokens.status()).values == 1
    assert (await nonces.status()).values == 1  # the signed request for the request token


async def test_an_expired_request_token_is_refused(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    state = await OAuthState.open(JetStreamBuckets(server.events.client, server.events.stream))
    issued = time.time() - REQUEST_TOKEN_TTL - 1
    await state.issue("old-token", RequestToken(secret="s", client_id=client[0], callback="oob", issued_at=issued))
    page = f"{server.url}/oauth/authorize"
    response = await asyncio.to_thread(call, "GET", page, params={"oauth_token": "old-token"})
    refused(response, 400, "Unknown or expired request token")


async def test_racing_exchanges_of_one_request_token_grant_one_access_token(server: Running, replica: str) -> None:
    client = await pumpclient.register_client(server.url)
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client)
    approved = await asyncio.to_thread(pumpclient.approve, server.url, token[0], "alice", PASSWORD)
    verifier = Page(approved.text).verifier
    public = f"{server.url}/oauth/access_token"
    first, second = (requests.Request("POST", public, auth=signer(client, token, verifier=verifier)).prepare()
                     for _ in range(2))
    answers = await asyncio.gather(asyncio.to_thread(send, first, public),
                                   asyncio.to_thread(send, second, f"{replica}/oauth/access_token"))
    assert sorted(a.status_code for a in answers) == [200, 401]
    loser = next(a for a in answers if a.status_code == 401)
    refused(loser, 401, "Request token already used")
    rows = await server.projection.read(
        lambda db: db.execute("SELECT count(*) FROM oauth_tokens WHERE client_id = ?", (client[0],)).fetchone()[0]
    )
    assert rows == 1


async def test_approving_without_the_pages_csrf_token_is_refused(server: Running) -> None:
    client = await pumpclient.register_client(server.url)
    token = await asyncio.to_thread(pumpclient.request_token, server.url, client)

    def without_token() -> requests.Response:
        with requests.Session() as browser:
            page = browser.get(f"{server.url}/oauth/authorize", params={"oauth_token": token[0]}, timeout=TIMEOUT)
            fields = {k: v for k, v in Page(page.text).fields.items() if k != "csrf_token"}
            return browser.post(f"{server.url}/oauth/authorize", timeout=TIMEOUT,
                                data={**fields, "username": "alice", "password": PASSWORD})

    refused(await asyncio.to_thread(without_token), 403,
            "The form's CSRF token is missing or wrong: open the authorize page again")
    # The request token is still pending: the real page approves it.
    approved = await asyncio.to_thread(pumpclient.approve, server.url, token[0], "alice", PASSWORD)
    assert approved.status_code == 200 and Page(approved.text).verifier
