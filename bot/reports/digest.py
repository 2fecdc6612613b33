"""The supervisors' daily digest: yesterday's leads (the local calendar day's cohort, counted by
`report_summary`, so the digest and `/report` → Yesterday say the same numbers), what is overdue
now, leads waiting for somebody on duty, leads closed as stale today; and one chart, the last
seven days' leads a day by channel. Sent by the daily job (bot/reports/daily.py) and on demand
(/digest)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_EVENT, STALE_REASON, SUPERVISING
from bot.common.outbox import charts_message, text_message
from bot.common.reasons import idle_age
from bot.common.render import local_time
from bot.config import AppConfig
from bot.leads.overdue import Breach, overdue_leads
from bot.leads.qualify import format_amount
from bot.reports.album import DAILY, Album
from bot.reports.chart_data import chart_data
from bot.reports.periods import local_today
from bot.reports.summary import report_summary
from bot.sla.working_hours import local_midnight
from storage.models import Lead, LeadEvent, LeadStatus, Staff

SHOWN = 5  # the oldest overdue / waiting leads listed by id
CHANNELS = 8  # channels listed; the rest are summed as "other"
CHART_DAYS = 7  # the chart: leads a day by channel, the week up to yesterday


@dataclass(frozen=True)
class DayCounts:
    """Yesterday's leads and where they stand now: the report's funnel for that day."""

    new: int  # received: created yesterday
    taken: int  # of them, ever taken
    contacted: int  # the client reached
    converted: int
    amount: str  # the deals' sum, formatted ("150 000.50")
    refused: int
    junk: int
    open: int  # still open now


@dataclass(frozen=True)
class DigestLead:
    id: int
    name: str | None
    phone: str | None
    breach: str | None  # Breach value; None for a waiting lead
    since: str  # local "dd.mm HH:MM": when it became overdue / started waiting


@dataclass(frozen=True)
class Digest:
    day: str  # yesterday, local "dd.mm.yyyy"
    counts: DayCounts
    channels: list[tuple[str, int]]  # (source, new leads), most first
    overdue: dict[str, int]  # Breach value -> leads now
    oldest_overdue: list[DigestLead]
    waiting: int  # new leads that found nobody on duty
    oldest_waiting: list[DigestLead]
    stale_today: int  # closed as stale since local midnight
    currency: str
    stale_age: dict[str, Any]  # idle_age of auto_close_after ({} when off)
    chart: Album | None = None  # leads a day for the last CHART_DAYS days; None: no leads

    @property
    def overdue_total(self) -> int:
        return sum(self.overdue.values())

    def context(self) -> dict[str, Any]:
        """Template values, JSON only (an outbox row's payload; rendered at send time)."""
        values = asdict(self)
        values.pop("chart")  # drawn, not written: its own row
        values["channels"] = [{"source": source, "count": n} for source, n in self.channels]
        values["overdue_total"] = self.overdue_total
        return values


async def _stale_today(session: AsyncSession, since: datetime) -> int:
    found = await session.scalars(
        select(LeadEvent.data).where(LeadEvent.kind == CLOSED_EVENT, LeadEvent.created_at >= since)
    )
    return sum(1 for data in found if (data or {}).get("reason") == STALE_REASON)


async def daily_digest(session: AsyncSession, now: datetime, config: AppConfig) -> Digest:
    """The digest as of `now`: "yesterday" is the local calendar day before `now`'s."""
    zone = config.zone
    day = local_today(now, config) - timedelta(days=1)
    summary = await report_summary(session, (day, day), config)
    funnel = summary.funnel
    counts = DayCounts(
        new=funnel.received,
        taken=funnel.taken,
        contacted=funnel.contacted,
        converted=funnel.converted,
        amount=format_amount(funnel.amount),
        refused=funnel.refused,
        junk=funnel.junk,
        open=funnel.open,
    )
    channels = [(row.source, row.received) for row in summary.by_source]  # most first
    if len(channels) > CHANNELS:
        rest = sum(n for _, n in channels[CHANNELS - 1 :])
        channels = [*channels[: CHANNELS - 1], ("other", rest)]
    overdue = await overdue_leads(session, now, config)
    per_breach = {breach.value: 0 for breach in Breach}
    for item in overdue:
        per_breach[item.breach.value] += 1
    oldest = [
        DigestLead(
            item.lead.id,
            item.lead.name,
            item.lead.phone,
            item.breach.value,
            local_time(item.since, zone),
        )
        for item in overdue[:SHOWN]
    ]
    waiting_now = (Lead.status == LeadStatus.NEW, Lead.waiting_since.is_not(None))
    waiting = await session.scalar(select(func.count()).select_from(Lead).where(*waiting_now))
    first_waiting = await session.scalars(
        select(Lead).where(*waiting_now).order_by(Lead.waiting_since, Lead.id).limit(SHOWN)
    )
    week = await chart_data(session, (day - timedelta(days=CHART_DAYS - 1), day), config)
    chart = Album.of(week, charts=(DAILY,))
    return Digest(
        day=day.strftime("%d.%m.%Y"),
        counts=counts,
        channels=channels,
        overdue={key: n for key, n in per_breach.items() if n},
        oldest_overdue=oldest,
        waiting=waiting or 0,
        oldest_waiting=[
            DigestLead(
                lead.id,
                lead.name,
                lead.phone,
                None,
                local_time(lead.waiting_since or lead.created_at, zone),
            )
            for lead in first_waiting
        ],
        stale_today=await _stale_today(session, local_midnight(now, zone)),
        currency=config.currency,
        stale_age=idle_age(config.sla.auto_close_after),
        chart=None if chart.empty else chart,
    )


async def digest_messages(
    session: AsyncSession, digest: Digest, now: datetime
) -> list[dict[str, Any]]:
    """The digest as outbox rows for every active supervisor and admin: its text, then its
    chart (each read in the person's own language: rendered and drawn at send time)."""
    people = await session.scalars(
        select(Staff)
        .where(Staff.is_active.is_(True), Staff.role.in_(SUPERVISING))
        .order_by(Staff.id)
    )
    context = digest.context()
    chart = digest.chart.payload() if digest.chart is not None else None
    rows = []
    for person in people:
        rows.append(text_message(None, person.telegram_id, person.id, "digest", context, now))
        if chart is not None:
            rows.append(charts_message(person.telegram_id, person.id, chart, now))
    return rows
