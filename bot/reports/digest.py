"""The supervisors' daily digest: yesterday's figures (local calendar day), what is overdue
now, leads waiting for somebody on duty, leads closed as stale today. Sent by the daily job
(bot/reports/daily.py) and on demand (/digest); the reports issue adds full analytics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_EVENT, STALE_REASON, SUPERVISING
from bot.common.outbox import text_message
from bot.common.reasons import idle_age
from bot.common.render import local_time
from bot.config import AppConfig
from bot.leads.overdue import Breach, overdue_leads
from bot.sla.working_hours import local_midnight
from storage.models import Lead, LeadEvent, LeadStatus, Staff

SHOWN = 5  # the oldest overdue / waiting leads listed by id
CHANNELS = 8  # channels listed; the rest are summed as "other"
# the event kinds yesterday's counts read (junk by a person; "closed" by the system)
COUNTED = ("taken", "convert", "refuse", "junk", CLOSED_EVENT)


@dataclass(frozen=True)
class DayCounts:
    new: int
    taken: int
    converted: int
    amount: str  # the deals' sum, formatted ("150 000.50")
    refused: int
    junk: int  # closed as junk by a person
    stale: int  # closed as stale by the daily job


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

    @property
    def overdue_total(self) -> int:
        return sum(self.overdue.values())

    def context(self) -> dict[str, Any]:
        """Template values, JSON only (an outbox row's payload; rendered at send time)."""
        values = asdict(self)
        values["channels"] = [{"source": source, "count": n} for source, n in self.channels]
        values["overdue_total"] = self.overdue_total
        return values


def _money(amount: Decimal) -> str:
    text = f"{amount:,.2f}".replace(",", " ")
    return text.removesuffix(".00")


def _amount(data: dict[str, Any]) -> Decimal:
    try:
        return Decimal(str(data.get("amount") or 0))
    except InvalidOperation:
        return Decimal(0)


def yesterday(now: datetime, config: AppConfig) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day before `now`'s, as UTC (DST-proof)."""
    zone = config.zone
    local_day = now.astimezone(zone).date() - timedelta(days=1)
    start = datetime.combine(local_day, time(), tzinfo=zone).astimezone(UTC)
    return start, local_midnight(now, zone)


async def _day_counts(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[DayCounts, list[tuple[str, int]]]:
    in_day = (Lead.created_at >= start, Lead.created_at < end)
    sources = await session.execute(
        select(Lead.source, func.count()).where(*in_day).group_by(Lead.source)
    )
    channels = sorted(((source, n) for source, n in sources), key=lambda item: (-item[1], item[0]))
    events = await session.execute(
        select(LeadEvent.kind, LeadEvent.lead_id, LeadEvent.data)
        .where(
            LeadEvent.kind.in_(COUNTED), LeadEvent.created_at >= start, LeadEvent.created_at < end
        )
        .order_by(LeadEvent.id)
    )
    # lead -> the event's data, per kind: a lead counts once a day (its last deal's amount)
    leads: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in COUNTED}
    for kind, lead_id, data in events:
        leads[kind][lead_id] = data or {}
    stale = [d for d in leads[CLOSED_EVENT].values() if d.get("reason") == STALE_REASON]
    counts = DayCounts(
        new=sum(n for _, n in channels),
        taken=len(leads["taken"]),
        converted=len(leads["convert"]),
        amount=_money(sum((_amount(d) for d in leads["convert"].values()), Decimal(0))),
        refused=len(leads["refuse"]),
        junk=len(leads["junk"]),
        stale=len(stale),
    )
    if len(channels) > CHANNELS:
        rest = sum(n for _, n in channels[CHANNELS - 1 :])
        channels = [*channels[: CHANNELS - 1], ("other", rest)]
    return counts, channels


async def _stale_today(session: AsyncSession, since: datetime) -> int:
    found = await session.scalars(
        select(LeadEvent.data).where(LeadEvent.kind == CLOSED_EVENT, LeadEvent.created_at >= since)
    )
    return sum(1 for data in found if (data or {}).get("reason") == STALE_REASON)


async def daily_digest(session: AsyncSession, now: datetime, config: AppConfig) -> Digest:
    """The digest as of `now`: "yesterday" is the local calendar day before `now`'s."""
    zone = config.zone
    start, end = yesterday(now, config)
    counts, channels = await _day_counts(session, start, end)
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
    return Digest(
        day=start.astimezone(zone).strftime("%d.%m.%Y"),
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
        stale_today=await _stale_today(session, end),
        currency=config.currency,
        stale_age=idle_age(config.sla.auto_close_after),
    )


async def digest_messages(
    session: AsyncSession, digest: Digest, now: datetime
) -> list[dict[str, Any]]:
    """The digest as outbox rows, one per active supervisor or admin (each reads it in their
    own language: rendered at send time)."""
    people = await session.scalars(
        select(Staff)
        .where(Staff.is_active.is_(True), Staff.role.in_(SUPERVISING))
        .order_by(Staff.id)
    )
    context = digest.context()
    return [
        text_message(None, person.telegram_id, person.id, "digest", context, now)
        for person in people
    ]
