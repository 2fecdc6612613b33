"""GET /api/v1/leads (filtered pages, a cursor) and GET /api/v1/leads/{id} (with its events),
for other systems: read with API_TOKEN, like the reports API (bot/leads/api_view.py reads)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.config import AppConfig
from bot.leads.api_view import LeadFilter, lead_detail, lead_page
from bot.leads.cursor import MAX_ID, CursorError, Position, decode_cursor, encode_cursor
from handlers.web.body import (
    error_response,
    json_answer,
    refuse_reader,
    validated,
    validated_query,
)
from handlers.web.openapi import READ_AUTH, Answer, Operation, documented, refused
from handlers.web.schemas.leads import LeadDetailAnswer, LeadPageAnswer, LeadsQuery
from handlers.web.schemas.query import WholeNumber
from storage.db import SessionFactory

READER = "the leads API"


@dataclass(frozen=True)
class LeadApiSettings:
    token: str | None  # API_TOKEN; None: the read API is off
    sessions: SessionFactory
    config: AppConfig | None = None  # the lead score's settings and time zone (None: defaults)


LEAD_API_SETTINGS = web.AppKey("lead_api_settings", LeadApiSettings)


class LeadPath(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: WholeNumber = Field(ge=1, le=MAX_ID, description="the lead's number (#7)")


@documented(
    Operation(
        summary="Leads, filtered, a page at a time",
        description="Pages in `sort` order, oldest first. The cursor is a position, not an "
        "offset: leads added or changed while a client pages land after it, so no lead is "
        "skipped or repeated in `id` order; in `updated_at` order a lead changed after its page "
        "was read comes again, at the end, as it is now. A kept `next_cursor` reads what came "
        "later.",
        tag="leads",
        query=LeadsQuery,
        security=READ_AUTH,
        answers=(
            Answer(200, "a page of leads", LeadPageAnswer),
            *refused(401, (422, "a parameter that cannot be used (named)"), 503),
        ),
    )
)
async def list_leads(request: web.Request) -> web.Response:
    settings = request.app[LEAD_API_SETTINGS]
    if (refusal := refuse_reader(request, settings.token, READER)) is not None:
        return refusal
    query = validated_query(request, LeadsQuery)
    if isinstance(query, web.Response):
        return query
    after: Position | None = None
    if query.cursor is not None:
        try:
            after = decode_cursor(query.cursor, query.sort)
        except CursorError as exc:
            return error_response(422, str(exc), "cursor")
    filters = LeadFilter(
        statuses=tuple(query.status or ()),
        source=query.source,
        owner_telegram_id=query.owner,
        created_since=query.created_since,
        updated_since=query.updated_since,
    )
    async with settings.sessions() as session:
        page = await lead_page(session, filters, query.sort, after, query.limit, settings.config)
    answer = LeadPageAnswer.model_validate(
        {
            "leads": page.leads,
            "has_more": page.has_more,
            "next_cursor": encode_cursor(page.end) if page.end is not None else None,
        },
        from_attributes=True,
    )
    return json_answer(answer)


@documented(
    Operation(
        summary="One lead with its history",
        tag="leads",
        path=LeadPath,
        security=READ_AUTH,
        answers=(
            Answer(200, "the lead and its events, oldest first", LeadDetailAnswer),
            *refused(
                401, (404, "no lead with this id"), (422, "the id is not a lead's number"), 503
            ),
        ),
    )
)
async def get_lead(request: web.Request) -> web.Response:
    settings = request.app[LEAD_API_SETTINGS]
    if (refusal := refuse_reader(request, settings.token, READER)) is not None:
        return refusal
    path = validated(LeadPath, dict(request.match_info))
    if isinstance(path, web.Response):
        return path
    async with settings.sessions() as session:
        detail = await lead_detail(session, path.id, config=settings.config)
    if detail is None:
        return error_response(404, f"no lead #{path.id}", "id")
    answer = LeadDetailAnswer.model_validate(
        {**vars(detail.lead), "events": detail.events, "events_omitted": detail.events_omitted},
        from_attributes=True,
    )
    return json_answer(answer)


def add_lead_routes(app: web.Application, settings: LeadApiSettings) -> None:
    app[LEAD_API_SETTINGS] = settings
    app.router.add_get("/api/v1/leads", list_leads)
    app.router.add_get("/api/v1/leads/{id}", get_lead)
