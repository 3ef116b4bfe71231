"""The OpenAPI document: a valid OpenAPI 3.1 document listing exactly the routes the gateway app has."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from openapi_spec_validator import validate

from gateways import health
from gateways.app import create_app
from gateways.kit import openapi
from gateways.kit.openapi import Fragment
from gateways.mastodon import openapi as mastodon
from gateways.posts import openapi as posts
from gateways.presigned import openapi as presigned
from gateways.pumpio import openapi as pumpio
from gateways.registry import GATEWAYS
from gateways.transform import openapi as transform
from tests.servers import make_config, start

METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


def routed() -> set[tuple[str, str]]:
    """The API's operations: every gateway's but the web gallery's, whose pages are for people, not clients."""
    found = set()
    for route in create_app(g for g in GATEWAYS if g.openapi is not None).router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        assert path, f"a route without a path: {route}"
        found.add((route.method.lower(), path))
    return found


def documented(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in METHODS}


async def test_the_live_document_is_valid_and_lists_exactly_the_routed_operations(
    nats_url: str, data_dir: Path
) -> None:
    running = await start(make_config(nats_url, data_dir), processor=False)
    try:
        async with aiohttp.ClientSession() as http, http.get(running.url + "/openapi.json") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            document = await response.json()
    finally:
        await running.server.stop()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": running.config.base_url}]
    missing = routed() - documented(document)
    invented = documented(document) - routed()
    assert not missing, f"routed but not documented: {sorted(missing)}"
    assert not invented, f"documented but not routed: {sorted(invented)}"


def test_operation_ids_are_unique_and_every_operation_answers_something() -> None:
    fragments = [m.fragment() for m in (mastodon, pumpio, presigned, posts, transform, health)]
    document = openapi.build(fragments, base_url="https://media.example", version="1")
    ids = [op["operationId"] for item in document["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for item in document["paths"].values():
        for method, operation in item.items():
            if method in METHODS:
                assert operation["responses"], operation["operationId"]


def test_error_shapes_follow_each_protocol() -> None:
    document = openapi.build([mastodon.fragment(), posts.fragment()], base_url="http://x", version="0")
    media = document["paths"]["/api/v1/media/{id}"]["get"]["responses"]["404"]
    assert media["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PlainError"}
    post = document["paths"]["/posts/{id}"]["get"]["responses"]["404"]
    assert post["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CodedError"}
    coded = document["components"]["schemas"]["CodedError"]
    assert coded["required"] == ["error", "code"] and "parameter" in coded["properties"]


def test_head_is_derived_from_get_without_a_body() -> None:
    fragment = Fragment(paths={"/thing": {"get": {"operationId": "getThing", "responses": {
        "200": openapi.answer("A thing", {"type": "object"})}}}})
    item = openapi.build([fragment], base_url="http://x", version="0")["paths"]["/thing"]
    assert item["head"]["operationId"] == "getThingHead"
    assert item["head"]["responses"] == {"200": {"description": "A thing"}}


def test_a_path_described_twice_is_refused() -> None:
    twice = Fragment(paths={"/a": {"get": {"responses": {"200": {"description": "A"}}}}})
    with pytest.raises(ValueError, match="/a is described twice"):
        openapi.build([twice, twice], base_url="http://x", version="0")
