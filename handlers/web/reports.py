"""GET /api/v1/reports/summary: the report's numbers for other systems (BI, spreadsheets),
the same implementation as the chat's report (bot/reports/summary.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from aiohttp import web

from bot.common.clock import Clock
from bot.config import AppConfig
from bot.reports.summary import report_summary, summary_json
from handlers.web.body import error_response, same_secret
from handlers.web.metrics import timed_report
from storage.db import SessionFactory

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
MAX_SOURCE = 64  # Lead.source's length: a longer one matches nothing anyway


@dataclass(frozen=True)
class ReportSettings:
    token: str | None  # API_TOKEN; None: the reports API is off
    config: AppConfig
    sessions: SessionFactory
    clock: Clock  # "overdue now" is read at the request's moment


REPORT_SETTINGS = web.AppKey("report_settings", ReportSettings)


class _BadParameter(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _refusal(request: web.Request, token: str | None) -> web.Response | None:
    """503 while API_TOKEN is unset, 401 without it. Only the header: a reading token in a URL
    ends up in logs and browser history; INTAKE_TOKEN is never accepted here."""
    if token is None:
        return error_response(503, "the reports API is off: API_TOKEN is not set")
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not given or not same_secret(given, token):
        return error_response(401, "missing or wrong token")
    return None


def _date(request: web.Request, name: str) -> date:
    text = request.query.get(name)
    if not text:
        raise _BadParameter(name, f"{name} is required: YYYY-MM-DD")
    # fromisoformat alone also takes "20261201" and week dates ("2026-W49-1"): one form only
    if not ISO_DATE.fullmatch(text):
        raise _BadParameter(name, f"{name} is not a date: write YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _BadParameter(name, f"{name} is not a date: write YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:  # the UTC bounds of year 1 or 9999 do not exist
        raise _BadParameter(name, f"{name} is out of range ({FIRST_DAY}..{LAST_DAY})")
    return day


def _filters(request: web.Request) -> tuple[date, date, str | None, int | None]:
    first, last = _date(request, "from"), _date(request, "to")
    if first > last:
        raise _BadParameter("from", "from is after to")
    source = request.query.get("source") or None
    if source is not None and len(source) > MAX_SOURCE:
        raise _BadParameter("source", f"source is longer than {MAX_SOURCE} characters")
    manager_text = request.query.get("manager")
    manager: int | None = None
    if manager_text:
        try:
            manager = int(manager_text)
        except ValueError:
            raise _BadParameter("manager", "manager is a Telegram id: a whole number") from None
        if not -(2**63) <= manager < 2**63:
            raise _BadParameter("manager", "manager is not a Telegram id")
    return first, last, source, manager


async def get_summary(request: web.Request) -> web.Response:
    settings = request.app[REPORT_SETTINGS]
    refused = _refusal(request, settings.token)
    if refused is not None:
        return refused
    try:
        first, last, source, manager = _filters(request)
    except _BadParameter as exc:
        return error_response(422, str(exc), exc.field)
    async with timed_report(request, "api_summary"), settings.sessions() as session:
        summary = await report_summary(
            session,
            (first, last),
            settings.config,
            source=source,
            manager_telegram_id=manager,
            now=settings.clock.now(),
        )
    return web.json_response(summary_json(summary))


def add_report_routes(app: web.Application, settings: ReportSettings) -> None:
    app[REPORT_SETTINGS] = settings
    app.router.add_get("/api/v1/reports/summary", get_summary)
