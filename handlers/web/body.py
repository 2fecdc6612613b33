"""What every HTTP route shares: reading a body within its limit, the one error shape, the
secret check (constant time).

Bad input is the sender's fault and is answered 4xx, never 5xx: a body that cannot be read
(malformed JSON or multipart, not UTF-8, JSON nested deeper than 32 levels) is 400. Text that
no database column or Bot API request can carry (an unpaired UTF-16 surrogate such as the JSON
escape "\\ud800", NUL) is not refused: it is stored as U+FFFD, in keys and nested values too,
on every route (bot.intake.input.storable).
"""

from __future__ import annotations

import hmac
import logging
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin
from urllib.parse import parse_qsl

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.intake.input import PayloadError, read_json, storable, storable_text
from handlers.web.schemas.common import refusal

log = logging.getLogger("leadbot.http")


def error_response(
    status: int, message: str, field: str | None = None, **more: Any
) -> web.Response:
    """Every refusal of the HTTP intake and its connectors: `{"error", "field", ...}`."""
    return web.json_response({"error": message, "field": field, **more}, status=status)


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, **more: Any) -> M | web.Response:
    """`data` read by the route's typed model (the one its OpenAPI entry is generated from),
    or the 422 naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, field = refusal(exc)
        return error_response(422, message, field, **more)


def json_answer(answer: BaseModel, status: int = 200) -> web.Response:
    """An answer serialised by its model (the schema the document gives for it)."""
    return web.Response(
        text=answer.model_dump_json(), status=status, content_type="application/json"
    )


def validated_query(request: web.Request, model: type[M]) -> M | web.Response:
    """The query string read by the route's typed query model, or the 422 naming the field."""
    return validated(model, query_fields(request, model))


def query_fields(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    """The query parameters by name, for `model` to read (a list for a list field:
    `?status=a&status=b`); a parameter the model does not know is passed on for it to refuse.
    Text is made storable like a body's (an undecodable %ff or a NUL is U+FFFD, never a 500)."""
    lists = {
        info.alias or name for name, info in model.model_fields.items() if _is_list(info.annotation)
    }
    fields: dict[str, Any] = {}
    for key in request.query:
        values = [storable_text(value) for value in request.query.getall(key)]
        fields[storable_text(key)] = values if key in lists else values[0]
    return fields


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        _is_list(arg) for arg in get_args(annotation)
    )


def refuse_reader(request: web.Request, token: str | None, what: str) -> web.Response | None:
    """The refusal of a request to read (`what`: "the reports API") without API_TOKEN: 503
    while it is unset, 401 a missing or wrong one. Only the header: a reading token in a URL
    ends up in logs and browser history; INTAKE_TOKEN is never accepted."""
    if token is None:
        return error_response(503, f"{what} is off: API_TOKEN is not set")
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not given or not same_secret(given, token):
        return error_response(401, "missing or wrong token")
    return None


def same_secret(given: str, secret: str) -> bool:
    # compare_digest: the answer time must not tell how much of a guess was right
    return hmac.compare_digest(given.encode(), secret.encode())


def authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else None
    return same_secret(given or request.query.get("token", ""), token)


MULTIPART = "multipart/form-data"


INTAKE_TYPES = ("application/json", "application/x-www-form-urlencoded", MULTIPART)


def refuse_unauthorised(request: web.Request, token: str | None) -> web.Response | None:
    """The refusal of a request to the API without the intake's token (503 while none is
    configured, 401 a missing or wrong one); None when it may go on."""
    if token is None:
        return error_response(503, "HTTP intake is off: INTAKE_TOKEN is not set")
    if not authorised(request, token):
        return error_response(401, "missing or wrong token")
    return None


async def read_fields(
    request: web.Request, limit: int, types: tuple[str, ...] = INTAKE_TYPES
) -> dict[str, Any] | web.Response:
    """The body as a dict (a JSON object, or a form's fields) of one of `types`, or the
    refusal to answer with (413 too large, 415 other type, 400 unreadable)."""
    data = await read_body(request, limit, types)
    if isinstance(data, web.Response | dict):
        return data
    return error_response(400, "JSON body must be an object")


async def read_body(request: web.Request, limit: int, types: tuple[str, ...]) -> Any | web.Response:
    """The body of one of `types`: a form's fields as a dict, JSON as it parses (an object,
    a list...); or the refusal to answer with (413 too large, 415 other type, 400
    unreadable)."""

    def too_large() -> web.Response:
        return error_response(413, f"body is larger than {limit} bytes")

    if request.content_length is not None and request.content_length > limit:
        return too_large()
    content_type = request.content_type
    if content_type not in types:
        named = " or ".join(kind for kind in types if kind != MULTIPART)
        return error_response(415, f"send {named}")
    if content_type == MULTIPART:
        try:
            form = await request.post()  # bounded by the app's client_max_size
        except web.HTTPRequestEntityTooLarge:
            return too_large()
        except Exception as exc:  # boundary, part headers, charset, truncation: aiohttp's
            # errors for a broken body are not all ValueError (BadHttpMessage, LookupError...)
            log.info("malformed multipart body path=%s: %s", request.path, type(exc).__name__)
            return error_response(400, "malformed multipart form body")
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        return storable(fields)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        return too_large()
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "body is not UTF-8")
    if content_type == "application/x-www-form-urlencoded":
        return storable(dict(parse_qsl(decoded, keep_blank_values=True)))
    try:
        return read_json(decoded)
    except PayloadError as exc:
        return error_response(400, str(exc))
