"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every HTTP route, generated from the
typed models the routes validate with (handlers/web/schemas/).

A route is documented by decorating its handler with `@documented(Operation(...))` beside its
code: the operation names its models and answers, and the route's method and path come from
the aiohttp router itself, so a route cannot be documented under a path it is not served at.
`openapi_document(app)` walks the router when first asked and builds the document with
pydantic's own JSON Schema (OpenAPI 3.1 is JSON Schema 2020-12, which pydantic emits), every
model once under components/schemas. A route without the decorator is left out, and
tests/http/test_openapi.py fails naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from handlers.web.schemas.common import ErrorAnswer
from handlers.web.schemas.webhooks import EVENT_SUMMARIES, WebhookEnvelope

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
TEXT = "text/plain"
REF = "#/components/schemas/{model}"

H = TypeVar("H", bound=Callable[..., Any])

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "intakeToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "INTAKE_TOKEN: the secret web forms and the office phone system send",
    },
    "intakeTokenInUrl": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "INTAKE_TOKEN in the URL, for senders that can set only a URL",
    },
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "API_TOKEN: the read secret, in the header only (INTAKE_TOKEN never reads)",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICS_TOKEN, when it is set (unset: /metrics is open to whoever reaches "
        "the port); never INTAKE_TOKEN",
    },
}
INTAKE_AUTH = ("intakeToken", "intakeTokenInUrl")
HOOK_AUTH = ("intakeTokenInUrl",)
READ_AUTH = ("apiToken",)
METRICS_AUTH = ("metricsToken",)

# what a refusal means, when the operation does not say more
REFUSALS = {
    400: "a body that cannot be read (malformed JSON or form, not UTF-8, nested too deep)",
    401: "missing or wrong token",
    403: "wrong token, secret or signature",
    404: "no such thing",
    413: "the body is too large",
    415: "another content type",
    422: "a field or parameter that cannot be used (named in `field`)",
    503: "not configured, or the database is not answering",
}


@dataclass(frozen=True)
class Answer:
    status: int
    description: str
    model: type[BaseModel] | None = None  # None: the text/plain answer (or `schema`)
    media: str = JSON
    schema: dict[str, Any] | None = None  # a plain JSON Schema, for what has no model


def refused(*statuses: int | tuple[int, str]) -> tuple[Answer, ...]:
    """An operation's refusals, in the one error shape: refused(401, (404, "no such lead"))."""
    answers = []
    for status in statuses:
        code, text = status if isinstance(status, tuple) else (status, REFUSALS[status])
        answers.append(Answer(code, text, ErrorAnswer))
    return tuple(answers)


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    description: str = ""
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = (JSON,)
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None  # the path's {parameters}
    headers: tuple[Header, ...] = ()
    security: tuple[str, ...] = ()  # alternatives, names in SECURITY_SCHEMES
    operation_id: str | None = None


_ATTRIBUTE = "__openapi__"


def documented(operation: Operation, method: str = "*") -> Callable[[H], H]:
    """Put a handler in the OpenAPI document: for every method it serves, or one `method`
    (a handler serving GET and POST differently is decorated once per method)."""

    def mark(handler: H) -> H:
        by_method = dict(getattr(handler, _ATTRIBUTE, {}))
        by_method[method.upper()] = operation
        setattr(handler, _ATTRIBUTE, by_method)
        return handler

    return mark


def operation_of(route: web.AbstractRoute) -> Operation | None:
    by_method: dict[str, Operation] = getattr(route.handler, _ATTRIBUTE, {})
    return by_method.get(route.method) or by_method.get("*")


def served_routes(app: web.Application) -> Iterable[tuple[str, str, web.AbstractRoute]]:
    """(METHOD, path template, route) of every route but the HEADs aiohttp adds to GETs."""
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        yield route.method, route.resource.canonical, route


# --- building the document -----------------------------------------------------------------


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is present or absent, never null: the model's `X | None` is just X here."""
    schema = {key: value for key, value in schema.items() if key != "title"}
    if schema.get("default", ...) is None:
        del schema["default"]
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [branch for branch in branches if branch != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
    return schema


def _parameters(
    model: type[BaseModel], where: Literal["query", "path"], defs: dict[str, Any]
) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(prop)
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _content(
    media: str, model: type[BaseModel] | None, mode: JsonSchemaMode, refs: dict[Any, Any]
) -> dict[str, Any]:
    if model is None:
        return {media: {"schema": {"type": "string"}}}
    return {media: {"schema": refs[(model, mode)]}}


def _operation_object(
    method: str, path: str, operation: Operation, refs: dict[Any, Any], defs: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": operation.operation_id
        or f"{method.lower()}_{path.strip('/').replace('/', '_').replace('.', '_')}".replace(
            "{", ""
        ).replace("}", ""),
        "summary": operation.summary,
        "tags": [operation.tag],
    }
    if operation.description:
        result["description"] = operation.description
    parameters: list[dict[str, Any]] = []
    templated = set(re.findall(r"\{(\w+)\}", path))
    named = set(operation.path.model_fields) if operation.path is not None else set()
    if templated != named:  # a path parameter the document would not describe, or vice versa
        raise ValueError(f"{method} {path}: path parameters {sorted(templated)} != {sorted(named)}")
    if operation.path is not None:
        parameters += _parameters(operation.path, "path", defs)
    if operation.query is not None:
        parameters += _parameters(operation.query, "query", defs)
    parameters += [
        {
            "name": header.name,
            "in": "header",
            "required": header.required,
            "description": header.description,
            "schema": {"type": "string"},
        }
        for header in operation.headers
    ]
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {
                media: _content(media, operation.body, "validation", refs)[media]
                for media in operation.body_media
            },
        }
    answers: dict[str, Any] = {}
    for answer in operation.answers:
        entry = answers.setdefault(str(answer.status), {"description": answer.description})
        if answer.schema is not None:
            content = {answer.media: {"schema": answer.schema}}
        else:
            content = _content(answer.media, answer.model, "serialization", refs)
        entry.setdefault("content", {}).update(content)
    result["responses"] = answers
    if operation.security:
        result["security"] = [{name: []} for name in operation.security]
    return result


def build_document(routes: Iterable[tuple[str, str, Operation]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these (method, path, operation)s."""
    listed = sorted(routes, key=lambda item: (item[1], item[0]))
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for _, _, operation in listed:
        if operation.body is not None:
            models.add((operation.body, "validation"))
        models.update(
            (answer.model, "serialization") for answer in operation.answers if answer.model
        )
    models.add((WebhookEnvelope, "validation"))
    ordered = sorted(models, key=lambda item: (item[0].__name__, item[1]))
    refs, schemas = models_json_schema(ordered, ref_template=REF)
    defs: dict[str, Any] = dict(schemas.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for method, path, operation in listed:
        paths.setdefault(path, {})[method.lower()] = _operation_object(
            method, path, operation, refs, defs
        )
    try:
        release = version("leadbot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        release = "0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "leadbot HTTP API",
            "version": release,
            "description": "Leads in (web forms, site builders, calls), leads and the report's "
            'numbers out. Refusals are JSON `{"error", "field"}`; see README.md.',
        },
        "paths": paths,
        "webhooks": _webhooks(refs[(WebhookEnvelope, "validation")]),
        "components": {"schemas": dict(sorted(defs.items())), "securitySchemes": SECURITY_SCHEMES},
    }


# what leadbot sends with every webhook POST (README: Sending changes to other systems)
HOOK_HEADERS = (
    ("X-Leadbot-Event", "the event, as in the body"),
    ("X-Leadbot-Timestamp", "Unix seconds when this attempt was sent"),
    (
        "X-Leadbot-Signature",
        "`sha256=` + hex HMAC-SHA256, with the secret, of `<timestamp>.<body>`",
    ),
    ("Idempotency-Key", "the event's `id`: the same on every retry"),
)


def _webhooks(envelope: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1's `webhooks`: what leadbot POSTs to a `[[webhooks]]` receiver, per event."""
    return {
        str(event): {
            "post": {
                "operationId": f"webhook_{event.value.replace('.', '_')}",
                "summary": summary,
                "tags": ["webhooks"],
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": description,
                        "schema": {"type": "string"},
                    }
                    for name, description in HOOK_HEADERS
                ],
                "requestBody": {"required": True, "content": {JSON: {"schema": envelope}}},
                "responses": {
                    "2XX": {"description": "delivered"},
                    "default": {
                        "description": "anything else, or no answer in 10 s: sent again with "
                        "back-off (2 s growing to 10 minutes) for 24 hours"
                    },
                },
            }
        }
        for event, summary in EVENT_SUMMARIES.items()
    }


def openapi_document(app: web.Application) -> dict[str, Any]:
    """The document of every documented route the app serves (built once, when first asked:
    by then every route is added)."""
    cache = app[_DOCUMENT]
    if "document" not in cache:
        routes = []
        for method, path, route in served_routes(app):
            operation = operation_of(route)
            if operation is not None:
                routes.append((method, path, operation))
        cache["document"] = build_document(routes)
    return cache["document"]


_DOCUMENT = web.AppKey("openapi_document", dict)


@documented(
    Operation(
        summary="This document",
        tag="meta",
        answers=(Answer(200, "the OpenAPI 3.1 document", schema={"type": "object"}),),
    )
)
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))


def add_openapi_route(app: web.Application) -> None:
    app[_DOCUMENT] = {}
    app.router.add_get("/api/v1/openapi.json", get_openapi)
