"""HTTP intake: POST /api/v1/leads from web forms and API clients; GET /healthz."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import text

from bot.common.clock import Clock
from bot.intake.input import IntakeError, parse_lead_input
from bot.intake.queue import IntakeQueue
from bot.sequences.links import deep_link, link_token_for
from handlers.web.body import (
    error_response,
    json_answer,
    read_fields,
    refuse_unauthorised,
    validated,
)
from handlers.web.openapi import (
    FORM,
    INTAKE_AUTH,
    JSON,
    MULTIPART,
    Answer,
    Operation,
    documented,
    refused,
)
from handlers.web.schemas.common import HealthAnswer
from handlers.web.schemas.intake import LeadAccepted, LeadRequest
from storage.db import SessionFactory

log = logging.getLogger("leadbot.http")


@dataclass(frozen=True)
class IntakeSettings:
    token: str | None
    phone_region: str
    max_body_bytes: int
    # the answer's telegram_link (follow-up sequences): the bot's username, and the clock
    bot_username: Callable[[], Awaitable[str | None]] | None = None
    clock: Clock | None = None


INTAKE_SETTINGS = web.AppKey("intake_settings", IntakeSettings)
INTAKE_QUEUE = web.AppKey("intake_queue", IntakeQueue)
SESSIONS = web.AppKey("sessions", SessionFactory)


@documented(
    Operation(
        summary="A lead from a web form or an API client",
        tag="intake",
        body=LeadRequest,
        body_media=(JSON, FORM, MULTIPART),
        security=INTAKE_AUTH,
        answers=(
            Answer(201, "a new lead", LeadAccepted),
            Answer(
                200, "joined the person's open lead, or the same external_id again", LeadAccepted
            ),
            *refused(400, 401, 413, 415, 422, 503),
        ),
    )
)
async def post_lead(request: web.Request) -> web.Response:
    settings = request.app[INTAKE_SETTINGS]
    refused = refuse_unauthorised(request, settings.token)
    if refused is not None:
        return refused
    fields = await read_fields(request, settings.max_body_bytes)
    if isinstance(fields, web.Response):
        return fields
    typed = validated(LeadRequest, fields)
    if isinstance(typed, web.Response):
        return typed
    # a form builder may echo the URL's token into the body: checked for its shape (above),
    # then dropped, not kept as an extra field
    fields.pop("token", None)
    try:
        item = parse_lead_input(fields, settings.phone_region)
    except IntakeError as exc:
        return error_response(422, str(exc), exc.field)
    # the bot's username first: a getMe it may need goes before the lead's cards
    username = await settings.bot_username() if settings.bot_username is not None else None
    try:
        result = await request.app[INTAKE_QUEUE].submit(item)
    except Exception:
        log.exception("intake failed source=%s", item.source)
        return error_response(503, "the lead could not be stored; try again")
    link = await _telegram_link(request, result.lead_id, username)
    answer = LeadAccepted(
        id=result.lead_id,
        status=result.status,
        duplicate_of=result.duplicate_of,
        telegram_link=link,
    )
    return json_answer(answer, 201 if result.created else 200)


async def _telegram_link(request: web.Request, lead_id: int, username: str | None) -> str | None:
    """A one-time t.me link for the lead's client, unless Telegram reaches them already."""
    clock = request.app[INTAKE_SETTINGS].clock
    if not username or clock is None:
        return None
    try:
        async with request.app[SESSIONS]() as session:
            token = await link_token_for(session, lead_id, clock.now())
    except Exception:  # the lead is stored: its answer goes out without a link
        log.exception("telegram link failed lead=%s", lead_id)
        return None
    return deep_link(username, token) if token else None


@documented(
    Operation(
        summary="Health: 200 while the database answers",
        tag="meta",
        answers=(
            Answer(200, "the database answers", HealthAnswer),
            Answer(503, "the database does not answer", HealthAnswer),
        ),
    )
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
