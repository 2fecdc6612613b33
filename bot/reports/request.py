"""What a report is asked for, and reading it back from a press: a button carries the period,
whose leads, and the filters as keys (bot/reports/filters.py); here they become the source and
the person again, or nothing when the button no longer names anything real."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.reports.filters import period_sources
from bot.reports.keys import find_by_key
from bot.reports.periods import PeriodKind, report_period
from bot.reports.summary import Period
from storage.models import Staff


@dataclass(frozen=True)
class ReportRequest:
    """Two local dates (both included), whose leads, which filters."""

    period: Period
    own: bool  # the reader's own leads (a manager's report), not everybody's
    kind: PeriodKind | None = None  # picked as a ready-made period: its name heads the report
    source: str | None = None
    manager: Staff | None = None  # everybody's report, narrowed to one manager's leads
    today: date | None = None  # the reader's local date: a period in another year shows it

    @property
    def filtered(self) -> bool:
        return self.source is not None or self.manager is not None

    def manager_telegram_id(self, reader_telegram_id: int) -> int | None:
        """Whose leads the numbers are read for (the `manager_telegram_id=` of the summary):
        the reader's on their own report, the filtered manager's, or everybody's (None)."""
        if self.own:
            return reader_telegram_id
        return self.manager.telegram_id if self.manager is not None else None


async def resolve_request(
    session: AsyncSession,
    config: AppConfig,
    period: Period,
    *,
    own: bool,
    reader: Staff,
    source_key: str,
    manager_staff_id: int | None,
    today: date,
) -> ReportRequest | None:
    """The request a pressed button stands for: its source key looked up among the period's
    sources (of the reader's own leads, on their own report), its manager by staff id (anyone
    on the staff list: someone deactivated since is still credited). None when either names
    nothing any more (or never did: a forged button)."""
    manager: Staff | None = None
    if manager_staff_id is not None:
        manager = await session.get(Staff, manager_staff_id)
        if manager is None:
            return None
    source: str | None = None
    if source_key:
        mine = reader.telegram_id if own else None
        sources = await period_sources(session, period, config, manager_telegram_id=mine)
        source = find_by_key([row.source for row in sources], source_key)
        if source is None:
            return None
    return ReportRequest(period, own, ready_made_kind(period, today), source, manager, today)


def ready_made_kind(period: Period, today: date) -> PeriodKind | None:
    """The ready-made period these dates are today (its name heads the report again once it
    is filtered); None for other dates, or once a day has passed ("Today" is then a date)."""
    return next((kind for kind in PeriodKind if report_period(kind, today) == period), None)
