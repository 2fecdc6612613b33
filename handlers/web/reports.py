"""GET /api/v1/reports/summary: the report's numbers for other systems (BI, spreadsheets),
the same implementation as the chat's report (bot/reports/summary.py)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.common.clock import Clock
from bot.config import AppConfig
from bot.reports.summary import report_summary, summary_json
from handlers.web.body import error_response, refuse_reader, validated_query
from handlers.web.metrics import timed_report
from handlers.web.openapi import READ_AUTH, Answer, Operation, documented, refused
from handlers.web.schemas.reports import SummaryAnswer, SummaryQuery
from storage.db import SessionFactory


@dataclass(frozen=True)
class ReportSettings:
    token: str | None  # API_TOKEN; None: the reports API is off
    config: AppConfig
    sessions: SessionFactory
    clock: Clock  # "overdue now" is read at the request's moment


REPORT_SETTINGS = web.AppKey("report_settings", ReportSettings)


@documented(
    Operation(
        summary="The report's numbers for a period",
        description="The leads created from `from` to `to` (local dates, both included), as "
        "they are now: the same numbers as the chat's /report.",
        tag="reports",
        query=SummaryQuery,
        security=READ_AUTH,
        answers=(
            Answer(200, "the report's numbers", SummaryAnswer),
            *refused(401, (422, "a missing or malformed date, from after to (named)"), 503),
        ),
    )
)
async def get_summary(request: web.Request) -> web.Response:
    settings = request.app[REPORT_SETTINGS]
    if (refusal := refuse_reader(request, settings.token, "the reports API")) is not None:
        return refusal
    query = validated_query(request, SummaryQuery)
    if isinstance(query, web.Response):
        return query
    if query.from_ > query.to:
        return error_response(422, "from is after to", "from")
    async with timed_report(request, "api_summary"), settings.sessions() as session:
        summary = await report_summary(
            session,
            (query.from_, query.to),
            settings.config,
            source=query.source,
            manager_telegram_id=query.manager,
            now=settings.clock.now(),
        )
    return web.json_response(summary_json(summary))


def add_report_routes(app: web.Application, settings: ReportSettings) -> None:
    app[REPORT_SETTINGS] = settings
    app.router.add_get("/api/v1/reports/summary", get_summary)
