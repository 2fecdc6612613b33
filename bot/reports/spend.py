"""Advertising spend: what a source cost in a month (`/spend vk_ads 15000 11.2026`, entered by a
supervisor or an admin), and the cost per lead and per deal the report divides out of it.

Spend is kept per source (a lead's `source`) and calendar month, one amount each: entering the
same source and month again replaces the amount. A report's period is a pair of local dates
while spend is per month, so a period takes from each month the share of its days it covers:
20.11–09.12 (20 days) takes 11/30 of November's spend and 9/31 of December's. Costs divide that
by the period's leads of the source (`cost_per_lead`) and by its deals (`cost_per_deal`),
rounded half up to two places; None when there is nothing to divide by."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import SUPERVISING
from bot.intake.connectors import SOURCES as CONNECTOR_SOURCES
from bot.intake.input import DEFAULT_SOURCE
from bot.leads.qualify import MAX_AMOUNT
from storage.models import TELEGRAM_SOURCE, AdSpend, Lead, Role, Staff

CENT = Decimal("0.01")
# the channels leadbot itself names (bot/telephony's "call" repeated: reports and telephony are
# siblings that may not import each other): spend may be entered for them before a first lead
KNOWN_CHANNELS = frozenset({DEFAULT_SOURCE, TELEGRAM_SOURCE, "call", *CONNECTOR_SOURCES.values()})
SOURCE_LIMIT = 64  # Lead.source's length
_SOURCE = re.compile(r"^[a-z0-9_.-]+$")
_MONTH = re.compile(r"^([0-9]{1,2})[./]([0-9]{4})$")  # 11.2026, 1.2027, 11/2026
# 15000, 15000.50, 15000,50; or grouped by thousands: 15 000, 1 500 000,50 (any space)
_AMOUNT = re.compile(r"^(?:[0-9]+|[0-9]{1,3}(?: [0-9]{3})+)(?:[.,]([0-9]+))?$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_CURRENCY = re.compile(r"\s*(?:₽|руб\.?|р\.|rub|\$|€)$", re.IGNORECASE)
FIRST_MONTH = date(2000, 1, 1)  # earlier is a typo, not an advertising budget
RECENT = timedelta(days=30)  # the sources listed to pick from: those with leads this long ago
RECENT_LIMIT = 10
LISTED = 20  # entries /spend lists (this month's and last month's); the rest counted


class SpendProblem(enum.StrEnum):
    """Why a /spend recorded nothing (the branches of spend_refused.html.j2)."""

    NO_AMOUNT = "no_amount"  # a source and nothing else (or only a month)
    SOURCE_TOO_LONG = "source_too_long"
    SOURCE_SHAPE = "source_shape"  # other characters than a-z 0-9 _ . -
    UNKNOWN_SOURCE = "unknown_source"  # no lead ever came from it: a typo would show nowhere
    NEGATIVE = "negative"
    DECIMALS = "decimals"  # more than two places after the point
    NOT_AN_AMOUNT = "not_an_amount"  # letters, "15k", two numbers...
    TOO_LARGE = "too_large"
    NO_SUCH_MONTH = "no_such_month"  # 13.2026, 0.2026, before 2000
    FUTURE_MONTH = "future_month"  # after next month: a typo (2062) rather than a budget
    NOT_ALLOWED = "not_allowed"  # not (or no longer) a supervisor or an admin


class SpendUnreadable(ValueError):
    """A /spend that cannot be recorded; `problem` names the answer, `text` what was typed."""

    def __init__(self, problem: SpendProblem, text: str = "") -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.text = text


@dataclass(frozen=True)
class SpendEntry:
    source: str
    amount: Decimal
    month: date  # the month's first day


def month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def read_source(text: str) -> str:
    """A lead's source as typed: lower case (as intake stores it), a-z 0-9 _ . - only."""
    source = text.strip().lower()
    if len(source) > SOURCE_LIMIT:
        raise SpendUnreadable(SpendProblem.SOURCE_TOO_LONG, text)
    if not _SOURCE.match(source):
        raise SpendUnreadable(SpendProblem.SOURCE_SHAPE, text)
    return source


def read_amount(text: str) -> Decimal:
    """`15000`, `15 000`, `15000.50`, `15000,50` (a currency sign after it is allowed): a
    non-negative amount with at most two decimals. A comma is always the decimal point, so
    `15,000` is refused as three decimals rather than read as fifteen thousand."""
    cleaned = _SPACES.sub(" ", _CURRENCY.sub("", text.strip()))
    found = _AMOUNT.match(cleaned.removeprefix("+"))
    if found is None and _AMOUNT.match(cleaned.removeprefix("-").lstrip()):
        raise SpendUnreadable(SpendProblem.NEGATIVE, text)
    if found is None:
        raise SpendUnreadable(SpendProblem.NOT_AN_AMOUNT, text)
    if found.group(1) is not None and len(found.group(1)) > 2:
        raise SpendUnreadable(SpendProblem.DECIMALS, text)
    amount = Decimal(found.group(0).replace(" ", "").replace(",", "."))
    if amount > MAX_AMOUNT:
        raise SpendUnreadable(SpendProblem.TOO_LARGE, text)
    return amount.quantize(CENT)


def read_month(text: str, today: date) -> date:
    """`11.2026` (or `11/2026`, `1.2027`) as the month's first day: from 01.2000 to the month
    after today's. Two-digit years (`11.26`) are not read: `/spend vk 15000 11.26` would be
    ambiguous with an amount of 11.26."""
    found = _MONTH.match(text.strip())
    if found is None:
        raise SpendUnreadable(SpendProblem.NO_SUCH_MONTH, text)
    number, year = int(found.group(1)), int(found.group(2))
    if not 1 <= number <= 12 or date(year, 1, 1) < FIRST_MONTH:
        raise SpendUnreadable(SpendProblem.NO_SUCH_MONTH, text)
    month = date(year, number, 1)
    if month > _next_month(month_start(today)):
        raise SpendUnreadable(SpendProblem.FUTURE_MONTH, text)
    return month


def read_spend(args: str, today: date) -> SpendEntry:
    """What follows `/spend`: `SOURCE AMOUNT [MM.YYYY]`; no month is the current local month
    (`today`'s). The last word is the month when it is shaped like one (`11.2026`); the words
    between the source and it are the amount (`15 000` is two words)."""
    words = args.split()
    if not words:
        raise SpendUnreadable(SpendProblem.NO_AMOUNT)
    source = read_source(words[0])
    rest = words[1:]
    month = month_start(today)
    if rest and _MONTH.match(rest[-1]):
        month = read_month(rest.pop(), today)
    if not rest:
        raise SpendUnreadable(SpendProblem.NO_AMOUNT, source)
    return SpendEntry(source, read_amount(" ".join(rest)), month)


@dataclass(frozen=True)
class SpendResult:
    entry: SpendEntry
    replaced: Decimal | None = None  # the amount entered before for that source and month
    problem: SpendProblem | None = None
    recent_sources: tuple[str, ...] = ()  # UNKNOWN_SOURCE: what leads did come from lately

    @property
    def ok(self) -> bool:
        return self.problem is None


async def known_source(session: AsyncSession, source: str) -> bool:
    """A source spend may be entered for: one of leadbot's own channels, one some lead came
    from (any time), or one with spend entered already."""
    if source in KNOWN_CHANNELS:
        return True
    lead = exists().where(Lead.source == source)  # ix: uq_leads_source_external_id
    spent = exists().where(AdSpend.source == source)
    return bool(await session.scalar(select(lead | spent)))


async def recent_sources(session: AsyncSession, now: datetime) -> list[str]:
    """The sources of the leads of the last 30 days, most leads first: what /spend takes."""
    count = func.count()
    rows = await session.execute(
        select(Lead.source, count)
        .where(Lead.created_at >= now - RECENT)
        .group_by(Lead.source)
        .order_by(count.desc(), Lead.source)
        .limit(RECENT_LIMIT)
    )
    return [source for source, _ in rows]


async def record_spend(
    session: AsyncSession,
    source: str,
    amount: Decimal,
    month: date,
    staff: Staff,
    now: datetime,
) -> SpendResult:
    """Record what `source` cost in `month` (its first day), replacing an earlier amount for
    the same source and month. Only an active supervisor or admin may; a source no lead ever
    came from is refused (a typo would silently show nowhere) unless it is one of leadbot's
    own channels. One transaction."""
    entry = SpendEntry(source, amount, month_start(month))
    staff_id = staff.id  # read now: a rollback below expires the object
    if not staff.is_active or Role(staff.role) not in SUPERVISING:
        return SpendResult(entry, problem=SpendProblem.NOT_ALLOWED)
    if not await known_source(session, source):
        recent = tuple(await recent_sources(session, now))
        return SpendResult(entry, problem=SpendProblem.UNKNOWN_SOURCE, recent_sources=recent)
    for _ in range(2):  # a second try: another /spend inserted the same month meanwhile
        row = await session.scalar(
            select(AdSpend)
            .where(AdSpend.source == entry.source, AdSpend.month == entry.month)
            .with_for_update()
        )
        replaced = None if row is None else Decimal(row.amount).quantize(CENT)
        if row is None:
            row = AdSpend(source=entry.source, month=entry.month)
            session.add(row)
        row.amount = entry.amount
        row.entered_by_id = staff_id
        row.entered_at = now
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            continue
        return SpendResult(entry, replaced=replaced)
    raise RuntimeError(f"spend for {entry.source} {entry.month} could not be recorded")


@dataclass(frozen=True)
class SpendLine:
    """An entry as /spend lists it."""

    source: str
    month: date
    amount: Decimal
    entered_by: str | None  # the person's name; None when they are gone from the table
    entered_at: datetime


async def spend_list(session: AsyncSession, first_month: date, last_month: date) -> list[SpendLine]:
    """The entries of the months `first_month`..`last_month` (any day of each), newest month
    first, then by source."""
    rows = await session.execute(
        select(AdSpend, Staff.name)
        .outerjoin(Staff, Staff.id == AdSpend.entered_by_id)
        .where(AdSpend.month >= month_start(first_month), AdSpend.month <= month_start(last_month))
        .order_by(AdSpend.month.desc(), AdSpend.source)
    )
    return [
        SpendLine(row.source, row.month, Decimal(row.amount).quantize(CENT), name, row.entered_at)
        for row, name in rows
    ]


def prorated(amount: Decimal, month: date, first: date, last: date) -> Decimal:
    """The part of a month's `amount` that falls in the days `first`..`last` (both included),
    unrounded: amount × days covered / days in the month."""
    days = calendar.monthrange(month.year, month.month)[1]
    start = max(first, month)
    end = min(last, month.replace(day=days))
    covered = (end - start).days + 1
    if covered <= 0:
        return Decimal(0)
    return Decimal(amount) * covered / days


async def period_spend(
    session: AsyncSession, first: date, last: date, source: str | None = None
) -> dict[str, Decimal]:
    """Spend per source over the local days `first`..`last` (both included), each month's
    amount prorated by the share of its days the period covers, rounded to cents at the end;
    only `source`'s when given. Sources without spend in those months are absent."""
    stmt = select(AdSpend.source, AdSpend.month, AdSpend.amount).where(
        AdSpend.month >= month_start(first), AdSpend.month <= month_start(last)
    )
    if source is not None:
        stmt = stmt.where(AdSpend.source == source)
    totals: dict[str, Decimal] = {}
    for name, month, amount in await session.execute(stmt):
        share = prorated(Decimal(str(amount)), month, first, last)
        totals[name] = totals.get(name, Decimal(0)) + share
    return {name: total.quantize(CENT, ROUND_HALF_UP) for name, total in totals.items()}


def cost(spend: Decimal | None, count: int) -> Decimal | None:
    """Spend per lead or per deal, two places rounded half up; None without spend or count."""
    if spend is None or count == 0:
        return None
    return (spend / count).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class SpendOverview:
    """What `/spend` alone answers: the entries of last month and this one, and the sources
    of the last 30 days (what may be typed)."""

    this_month: date
    last_month: date
    lines: list[SpendLine]
    more: int  # entries beyond LISTED
    recent_sources: list[str]


async def spend_overview(session: AsyncSession, today: date, now: datetime) -> SpendOverview:
    this_month = month_start(today)
    last_month = month_start(this_month - timedelta(days=1))
    lines = await spend_list(session, last_month, this_month)
    recent = await recent_sources(session, now)
    return SpendOverview(
        this_month, last_month, lines[:LISTED], max(0, len(lines) - LISTED), recent
    )
