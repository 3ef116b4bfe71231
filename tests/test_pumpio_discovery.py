"""pump.io discovery over real HTTP: HEAD /, host-meta in XRD and JSON, WebFinger."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.servers import Running

XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"
API = "http://apinamespace.org"


pytestmark = pytest.mark.server(processor=False, users={"alice": "secret"})


def expected_host_links(base: str) -> list[dict[str, str]]:
    return [
        {"rel": "lrdd", "type": "application/json", "template": f"{base}/.well-known/webfinger?resource={{uri}}"},
        {"rel": "registration_endpoint", "href": f"{base}/api/client/register"},
        {"rel": f"{API}/oauth/request_token", "href": f"{base}/oauth/request_token"},
        {"rel": f"{API}/oauth/authorize", "href": f"{base}/oauth/authorize"},
        {"rel": f"{API}/oauth/access_token", "href": f"{base}/oauth/access_token"},
        {"rel": f"{API}/activitypub/whoami", "href": f"{base}/api/whoami"},
    ]


async def test_head_root_answers(server: Running, http: aiohttp.ClientSession) -> None:
    async with http.head(f"{server.url}/") as response:
        assert response.status == 200


async def test_host_meta_is_xrd(server: Running, http: aiohttp.ClientSession) -> None:
    for path in ("/.well-known/host-meta", "/.well-known/host-meta/"):
        async with http.get(server.url + path) as response:
            assert response.status == 200
            assert response.content_type == "application/xrd+xml"
            root = ET.fromstring(await response.read())
        assert root.tag == f"{XRD_NS}XRD"
        links = [dict(link.attrib) for link in root.findall(f"{XRD_NS}Link")]
        assert links == expected_host_links(server.url)


async def test_host_meta_json(server: Running, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/.well-known/host-meta.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == {"links": expected_host_links(server.url)}


async def test_host_meta_answers_json_to_who_accepts_it(server: Running, http: aiohttp.ClientSession) -> None:
    wanting_json = ("application/json", "application/xrd+xml;q=0.5, application/json",
                    "text/html, application/JSON; q=0.9, */*; q=0.1", "application/json, application/xrd+xml")
    for path in ("/.well-known/host-meta", "/.well-known/host-meta/"):
        for accept in wanting_json:
            async with http.get(server.url + path, headers={"Accept": accept}) as response:
                assert response.status == 200
                assert (response.content_type, response.headers["Vary"]) == ("application/json", "Accept"), accept
                assert await response.json() == {"links": expected_host_links(server.url)}
    for accept in ("*/*", "application/*", "application/xrd+xml", "application/json;q=0", "application/json;q=x",
                   "application/json;q=0.2, application/xrd+xml;q=0.8", "text/html", ""):
        async with http.get(f"{server.url}/.well-known/host-meta", headers={"Accept": accept}) as response:
            assert response.status == 200
            assert (response.content_type, response.headers["Vary"]) == ("application/xrd+xml", "Accept"), accept
            assert ET.fromstring(await response.read()).tag == f"{XRD_NS}XRD"


async def test_the_lrdd_template_leads_to_webfinger(server: Running, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/.well-known/host-meta.json") as response:
        template = (await response.json())["links"][0]["template"]
    host = urlsplit(server.url).netloc
    async with http.get(template.replace("{uri}", f"acct:alice@{host}")) as response:
        assert response.status == 200
        assert response.content_type == "application/jrd+json"
        body = await response.json()
    api = f"{server.url}/api/user/alice"
    assert body == {
        "subject": f"acct:alice@{host}",
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "application/json", "href": f"{api}/profile"},
            {"rel": "self", "href": f"{api}/profile"},
            {"rel": "activity-inbox", "href": f"{api}/inbox"},
            {"rel": "activity-outbox", "href": f"{api}/feed"},
        ],
    }


async def test_webfinger_without_acct_prefix(server: Running, http: aiohttp.ClientSession) -> None:
    host = urlsplit(server.url).netloc
    async with http.get(f"{server.url}/.well-known/webfinger", params={"resource": f"alice@{host}"}) as response:
        assert response.status == 200
        assert (await response.json())["subject"] == f"acct:alice@{host}"


async def test_webfinger_refusals(server: Running, http: aiohttp.ClientSession) -> None:
    host = urlsplit(server.url).netloc
    cases = [
        ({}, 400, "No resource parameter"),
        ({"resource": ""}, 404, "Unrecognized resource parameter"),
        ({"resource": f"acct:bob@{host}"}, 404, "No such user: bob"),
        ({"resource": "acct:alice@elsewhere.example"}, 404, "No such host: elsewhere.example"),
        ({"resource": "https://elsewhere.example/alice"}, 404,
         "Unrecognized resource https://elsewhere.example/alice"),
        ({"resource": f"acct:@{host}"}, 404, f"Unrecognized resource acct:@{host}"),
    ]
    for params, status, error in cases:
        async with http.get(f"{server.url}/.well-known/webfinger", params=params) as response:
            assert (response.status, await response.json()) == (status, {"error": error}), params
    empty = {"error": "Unrecognized resource parameter"}
    for query in ("?resource=", "?resource", "/?resource="):
        async with http.get(f"{server.url}/.well-known/webfinger{query}") as response:
            assert (response.status, await response.json()) == (404, empty), query
        async with http.head(f"{server.url}/") as response:
            assert response.status == 200

