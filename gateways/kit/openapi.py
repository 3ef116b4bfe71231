"""One OpenAPI 3.1 document for every gateway, assembled from the fragments each gateway describes itself in.

A fragment holds the paths of the routes its gateway registers and the schemas they name. aiohttp answers
HEAD on every GET route, which `build` writes out as `head` operations; a gateway that routes a path with
and without a trailing slash describes both with `slashed`. So the document lists exactly the routes the
router has. `GET /openapi.json` serves the document with the configured public URL as
its server.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec
from aiohttp import web

from gateways.kit.services import SERVICES

JSON = "application/json"
SCHEMAS = "#/components/schemas/"
PATH = "/openapi.json"

Schema = dict[str, Any]
Operation = dict[str, Any]
# Operations by method, and the parameters they share under "parameters".
PathItem = dict[str, Any]


class Fragment(msgspec.Struct, frozen=True):
    """What one gateway adds to the document: its paths, and the schemas and security schemes they name."""

    paths: dict[str, PathItem]
    schemas: dict[str, Schema] = {}
    security_schemes: dict[str, Schema] = {}
    tags: tuple[dict[str, str], ...] = ()


Describe = Callable[[], Fragment]

# The two error shapes every gateway answers in, and the bearer token most of them take.
BASE_SCHEMAS: dict[str, Schema] = {
    "PlainError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "CodedError": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string", "description": "A machine-readable reason, one per kind of refusal"},
            "parameter": {"type": "string", "description": "The request parameter to blame"},
        },
    },
}
BASE_SECURITY: dict[str, Schema] = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token from `mediaplex token create`, with the scopes the operation names"},
}


def ref(name: str) -> Schema:
    return {"$ref": SCHEMAS + name}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def json_content(schema: Schema) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def answer(description: str, schema: Schema | None = None, *, media: str = JSON,
           headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response; `schema` None for one without a body."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


def plain_error(description: str) -> dict[str, Any]:
    return answer(description, ref("PlainError"))


def coded_error(description: str) -> dict[str, Any]:
    return answer(description, ref("CodedError"))


def in_path(name: str, schema: Schema, description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def in_query(name: str, schema: Schema, description: str = "", *, required: bool = False) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def in_header(name: str, schema: Schema, description: str = "", *, required: bool = False) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "header", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def slashed(path: str, item: PathItem) -> dict[str, PathItem]:
    """A path routed both without and with a trailing slash, as pump.io clients use either."""
    twin = copy.deepcopy(item)
    for operation in twin.values():
        if isinstance(operation, dict) and "operationId" in operation:
            operation["operationId"] += "Slash"
    return {path: item, path.rstrip("/") + "/": twin}


def struct_schemas(*types: Any) -> tuple[list[Schema], dict[str, Schema]]:
    """The schemas of msgspec Structs as the request decoders see them: a ref per type, and the components."""
    refs, components = msgspec.json.schema_components(types, ref_template=SCHEMAS + "{name}")
    # Through JSON and back, so that defaults such as () become the lists a validator expects.
    plain: tuple[list[Schema], dict[str, Schema]] = msgspec.json.decode(msgspec.json.encode((refs, components)))
    return plain


def _head(get: Operation) -> Operation:
    """HEAD as aiohttp answers it on a GET route: the same statuses and headers, never a body."""
    head = {k: copy.deepcopy(v) for k, v in get.items() if k not in ("responses", "operationId", "requestBody")}
    if "operationId" in get:
        head["operationId"] = get["operationId"] + "Head"
    head["responses"] = {
        status: {k: copy.deepcopy(v) for k, v in response.items() if k != "content"}
        for status, response in get["responses"].items()
    }
    return head


# What the kit's body readers may answer on any operation that takes a body (gateways/kit/bodies.py).
BODY_REFUSALS = {
    "400": "A malformed body (bad JSON, too deep, a bad multipart part or filename)",
    "413": "A body over its cap, or a multipart body with too many parts",
    "415": "A charset Python does not know, or one that is not a text encoding",
}


def _body_refusals(operation: Operation) -> Operation:
    """Operations that take a body also document the body readers' refusals, in their own error shape."""
    responses = operation.get("responses", {})
    errors = [r for status, r in responses.items() if status.startswith("4") and "content" in r]
    if "requestBody" not in operation or not errors:
        return operation
    for status, description in BODY_REFUSALS.items():
        if status not in responses:
            responses[status] = {**copy.deepcopy(errors[0]), "description": description}
    return operation


def _spread(item: PathItem) -> PathItem:
    """Path-level parameters written into each operation: some tools see only an operation's own."""
    shared = item.pop("parameters", [])
    for operation in item.values():
        operation["parameters"] = [*shared, *operation.get("parameters", [])]
        _body_refusals(operation)
    return item


def _document_itself() -> Fragment:
    item = {"get": {
        "operationId": "getOpenApi",
        "summary": "This document",
        "tags": ["meta"],
        "responses": {"200": answer("The OpenAPI 3.1 document of every route", {"type": "object"})},
    }}
    return Fragment(paths={PATH: item}, tags=({"name": "meta", "description": "About the service itself"},))


def build(fragments: Iterable[Fragment], *, base_url: str, version: str) -> dict[str, Any]:
    """The whole document; a path that two fragments both describe is a mistake and raises ValueError."""
    paths: dict[str, PathItem] = {}
    schemas = dict(BASE_SCHEMAS)
    security = dict(BASE_SECURITY)
    tags: list[dict[str, str]] = []
    for fragment in (*fragments, _document_itself()):
        for path, item in fragment.paths.items():
            if path in paths:
                raise ValueError(f"{path} is described twice")
            item = _spread(copy.deepcopy(item))
            if "get" in item and "head" not in item:
                item["head"] = _head(item["get"])
            paths[path] = item
        for name, schema in fragment.schemas.items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas are named {name}")
        security.update(fragment.security_schemes)
        tags.extend(fragment.tags)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mediaplex",
            "version": version,
            "description": "The Mastodon media API, the pump.io client API, presigned uploads, posts and "
                           "image transformations of one Mediaplex service.",
        },
        "servers": [{"url": base_url}],
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": security},
    }


def package_version() -> str:
    try:
        return version("mediaplex")
    except PackageNotFoundError:
        return "0"


def add_routes(app: web.Application, describe: Sequence[Describe]) -> None:
    """Serves the document at /openapi.json; it is built per request, which costs little next to a client's use."""

    async def serve(request: web.Request) -> web.Response:
        config = request.app[SERVICES].config
        return web.json_response(build((d() for d in describe), base_url=config.base_url, version=package_version()))

    app.router.add_get(PATH, serve)
