"""The files under a report: the period's leads as CSV or XLSX, the report as XLSX, for the
report's period and filters (bot/reports/export.py writes them). Writing a workbook is
CPU-bound (80 000 leads take seconds): it runs in a thread, so the bot answers others."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.reports.export import (
    export_file_name,
    leads_csv,
    leads_xlsx,
    period_leads,
    report_xlsx,
)
from bot.reports.request import ReportRequest
from bot.reports.summary import report_summary

DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes: the largest file a bot may send (sendDocument)


class ReportFile(enum.StrEnum):
    LEADS_CSV = "leads_csv"
    LEADS_XLSX = "leads_xlsx"
    REPORT_XLSX = "report_xlsx"


@dataclass(frozen=True)
class MadeFile:
    name: str  # "leads_2026-11-01_2026-11-15.csv"
    content: bytes

    @property
    def too_big(self) -> bool:
        """More than Telegram takes from a bot: the reader is asked for a shorter period."""
        return len(self.content) > DOCUMENT_LIMIT


async def report_file(
    session: AsyncSession,
    request: ReportRequest,
    what: ReportFile,
    config: AppConfig,
    locale: str,
    reader_telegram_id: int,
    now: datetime,
) -> MadeFile:
    """The file for `request` (its period, whose leads, its filters), headers in `locale`;
    the report's figures as of `now` (the leads overdue then), as the chat's."""
    period = request.period
    filters = {
        "source": request.source,
        "manager_telegram_id": request.manager_telegram_id(reader_telegram_id),
    }
    if what is ReportFile.REPORT_XLSX:
        summary = await report_summary(session, period, config, now=now, **filters)
        content = await asyncio.to_thread(report_xlsx, summary, config, locale)
        return MadeFile(export_file_name("report", period, "xlsx"), content)
    rows = await period_leads(session, period, config, **filters)
    if what is ReportFile.LEADS_CSV:
        content = await asyncio.to_thread(leads_csv, rows, config, locale)
        return MadeFile(export_file_name("leads", period, "csv"), content)
    content = await asyncio.to_thread(leads_xlsx, rows, config, locale)
    return MadeFile(export_file_name("leads", period, "xlsx"), content)
