"""HTTP intake: POST /api/v1/leads from web forms and API clients; GET /healthz."""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from sqlalchemy import text

from bot.intake.input import IntakeError, parse_lead_input
from bot.intake.queue import IntakeQueue
from storage.db import SessionFactory

log = logging.getLogger("leadbot.http")


@dataclass(frozen=True)
class IntakeSettings:
    token: str | None
    phone_region: str
    max_body_bytes: int


INTAKE_SETTINGS = web.AppKey("intake_settings", IntakeSettings)
INTAKE_QUEUE = web.AppKey("intake_queue", IntakeQueue)
SESSIONS = web.AppKey("sessions", SessionFactory)


def error_response(
    status: int, message: str, field: str | None = None, **more: Any
) -> web.Response:
    """Every refusal of the HTTP intake and its connectors: `{"error", "field", ...}`."""
    return web.json_response({"error": message, "field": field, **more}, status=status)


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


async def read_body(
    request: web.Request, limit: int, types: tuple[str, ...]
) -> Any | web.Response:
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
        except ValueError:
            return error_response(400, "malformed form body")
        return {key: value for key, value in form.items() if isinstance(value, str)}
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        return too_large()
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "body is not UTF-8")
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(decoded, keep_blank_values=True))
    try:
        return json.loads(decoded)
    except json.JSONDecodeError as exc:
        return error_response(400, f"malformed JSON: {exc}")


async def post_lead(request: web.Request) -> web.Response:
    settings = request.app[INTAKE_SETTINGS]
    refused = refuse_unauthorised(request, settings.token)
    if refused is not None:
        return refused
    fields = await read_fields(request, settings.max_body_bytes)
    if isinstance(fields, web.Response):
        return fields
    fields.pop("token", None)  # a form builder may echo the URL's token into the body
    try:
        item = parse_lead_input(fields, settings.phone_region)
    except IntakeError as exc:
        return error_response(422, str(exc), exc.field)
    try:
        result = await request.app[INTAKE_QUEUE].submit(item)
    except Exception:
        log.exception("intake failed source=%s", item.source)
        return error_response(503, "the lead could not be stored; try again")
    return web.json_response(
        {"id": result.lead_id, "status": result.status.value, "duplicate_of": result.duplicate_of},
        status=201 if result.created else 200,
    )


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check failed: %s", type(exc).__name__)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def add_intake_routes(
    app: web.Application, queue: IntakeQueue, sessions: SessionFactory, settings: IntakeSettings
) -> None:
    app[INTAKE_QUEUE] = queue
    app[SESSIONS] = sessions
    app[INTAKE_SETTINGS] = settings
    app.router.add_post("/api/v1/leads", post_lead)
    app.router.add_get("/healthz", healthz)
