"""The report's numbers for a period, computed once for every reader: the API
(`GET /api/v1/reports/summary`) now, the chat's `/report` and its exports later.

The period is a pair of local dates in `timezone`, both included; its leads (the cohort) are
those created in it. Every count is a GROUP BY in the database; only the durations the
percentiles need (one row per taken lead, one per missed call) come to Python.

Who gets the credit for a lead: the take (and its times) belongs to whoever took it first (the
first `taken` event, or the first `reassigned` one when a supervisor gave out a lead nobody had
taken), the outcome (and the deal's amount) to whoever closed it (the last closing event's
actor; a lead the system closed as stale is nobody's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, and_, case, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.common.lifecycle import CLOSED_EVENT
from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import alert_time
from bot.sla.working_hours import working_time_between
from storage.models import (
    OPEN_STATUSES,
    Call,
    Lead,
    LeadEvent,
    LeadStatus,
    Role,
    Staff,
)

Period = tuple[date, date]  # first and last local day, both included

# events that give a lead its first owner: a take, or a supervisor's reassign of a new lead
TAKE_EVENTS = ("taken", "reassigned")
# events that close a lead, by a person (merged_into: a supervisor merged it away) or not
CLOSING_EVENTS = ("convert", "refuse", "junk", "merged_into", CLOSED_EVENT)
QUALIFYING_EVENTS = ("qualified", "convert")
NO_SERVICE = "no_service"  # the junk reason whose words are the demand we do not meet
# bot/telephony's vocabulary, repeated: reports and telephony are siblings that may not import
# each other (pyproject's contracts); an incoming call with one of these wants calling back
UNANSWERED_CALLS = ("missed", "busy", "no_answer")
CALL_BACK_EVENT = "missed_call_done"  # the caller was reached (a call, or Called back)
CENT = Decimal("0.01")
QUARTER = timedelta(minutes=15)  # every time zone's offset is a multiple of it


@dataclass(frozen=True)
class Funnel:
    received: int = 0
    taken: int = 0
    contacted: int = 0
    qualified: int = 0
    converted: int = 0
    refused: int = 0
    junk: int = 0
    open: int = 0
    amount: Decimal = Decimal("0.00")
    convert_p50_s: float | None = None  # arrival -> deal, the median of the period's deals


@dataclass(frozen=True)
class SourceRow:
    source: str
    received: int
    taken: int
    converted: int
    refused: int
    junk: int
    amount: Decimal
    # no spend is recorded yet (/spend comes later): the costs are None until it is
    spend: Decimal | None = None
    cost_per_lead: Decimal | None = None
    cost_per_deal: Decimal | None = None


@dataclass(frozen=True)
class ManagerRow:
    telegram_id: int
    name: str
    taken: int = 0
    converted: int = 0
    refused: int = 0
    junk: int = 0
    amount: Decimal = Decimal("0.00")
    take_p50_s: float | None = None
    take_p90_s: float | None = None
    take_work_p50_s: float | None = None
    first_contact_p50_s: float | None = None


@dataclass(frozen=True)
class Repeat:
    new: int = 0
    repeat: int = 0


@dataclass(frozen=True)
class MissedCalls:
    count: int = 0
    called_back: int = 0
    called_back_within_limit: int = 0
    callback_p50_s: float | None = None


@dataclass(frozen=True)
class Arrivals:
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    by_weekday: list[int] = field(default_factory=lambda: [0] * 7)  # Monday first


@dataclass(frozen=True)
class ReportSummary:
    first: date
    last: date
    timezone: str
    funnel: Funnel
    by_source: list[SourceRow]
    by_manager: list[ManagerRow]
    repeat: Repeat
    junk_reasons: dict[str, int]  # reason code -> leads, most first
    refusal_reasons: dict[str, int]
    unmet_demand: dict[str, int]  # the no_service words, trimmed and case-folded -> leads
    missed_calls: MissedCalls
    arrivals: Arrivals


def period_bounds(period: Period, config: AppConfig) -> tuple[datetime, datetime]:
    """[start, end) in UTC of local days `first`..`last` (midnight to midnight, DST-proof)."""
    first, last = period
    zone = config.zone
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between the closest ranks (numpy's
    default, "type 7"); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    value = ordered[below] + (ordered[above] - ordered[below]) * (rank - below)
    return round(value, 3)


def money(value: Any) -> Decimal:
    """A sum from the database as a two-place Decimal (SQLite sums NUMERIC as a float)."""
    return Decimal(str(value or 0)).quantize(CENT)


def _first_take(lead_id: Any) -> Any:
    return (
        select(func.min(LeadEvent.id))
        .where(LeadEvent.lead_id == lead_id, LeadEvent.kind.in_(TAKE_EVENTS))
        .scalar_subquery()
    )


def first_taker(take: Any) -> ColumnElement[Any]:
    """Who took a lead first, given its first take event (one of TAKE_EVENTS): a take's actor;
    a reassign names in its data whom the lead was given to."""
    return case((take.kind == "taken", take.actor_id), else_=take.data["to"].as_integer())


class _Scope:
    """The leads a report reads and who took each first: `Lead` joined to its first take event
    (outer: an untaken lead has none), narrowed by the filters."""

    def __init__(self, source: str | None, manager_id: int | None) -> None:
        self.take = aliased(LeadEvent, name="first_take")
        self.taker_id = first_taker(self.take)
        self.source = source
        self.manager_id = manager_id

    def where(self, stmt: Select[Any]) -> Select[Any]:
        stmt = stmt.outerjoin(self.take, self.take.id == _first_take(Lead.id))
        if self.source is not None:
            stmt = stmt.where(Lead.source == self.source)
        if self.manager_id is not None:
            stmt = stmt.where(
                or_(self.taker_id == self.manager_id, Lead.owner_id == self.manager_id)
            )
        return stmt


async def report_summary(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> ReportSummary:
    """Every section of the report for the leads created in `period` (local dates, both
    included), optionally only those of one source, or those one manager took first or owns
    now (by Telegram id; nobody known by it: no leads)."""
    start, end = period_bounds(period, config)
    manager_id: int | None = None
    if manager_telegram_id is not None:
        manager_id = await session.scalar(
            select(Staff.id).where(Staff.telegram_id == manager_telegram_id)
        )
        if manager_id is None:
            manager_id = -1  # matches no lead: an unknown person took nothing
    scope = _Scope(source, manager_id)
    cohort = scope.where(
        select(
            Lead.id.label("id"),
            Lead.created_at.label("created_at"),
            Lead.source.label("source"),
            Lead.status.label("status"),
            Lead.owner_id.label("owner_id"),
            Lead.amount.label("amount"),
            Lead.contacted_at.label("contacted_at"),
            Lead.closed_at.label("closed_at"),
            Lead.contact_id.label("contact_id"),
            Lead.close_reason.label("close_reason"),
            Lead.close_comment.label("close_comment"),
            scope.taker_id.label("taker_id"),
            scope.take.created_at.label("taken_at"),
        )
        .select_from(Lead)
        .where(Lead.created_at >= start, Lead.created_at < end)
    ).subquery("cohort")
    funnel, by_source = await _funnel(session, cohort)
    funnel = replace(funnel, convert_p50_s=await _time_to_deal(session, cohort))
    junk_reasons, refusal_reasons, unmet = await _reasons(session, cohort)
    by_manager = await _managers(session, cohort, config)
    return ReportSummary(
        first=period[0],
        last=period[1],
        timezone=config.timezone,
        funnel=funnel,
        by_source=by_source,
        by_manager=by_manager,
        repeat=await _repeat(session, cohort),
        junk_reasons=junk_reasons,
        refusal_reasons=refusal_reasons,
        unmet_demand=unmet,
        missed_calls=await _missed_calls(session, scope, start, end, config),
        arrivals=await _arrivals(session, cohort, config),
    )


async def _time_to_deal(session: AsyncSession, cohort: Any) -> float | None:
    """Median seconds from arrival to the deal, over the period's converted leads only."""
    c = cohort.c
    deals = await session.execute(
        select(c.created_at, c.closed_at).where(
            c.status == LeadStatus.CONVERTED, c.closed_at.is_not(None)
        )
    )
    return percentile([(closed - created).total_seconds() for created, closed in deals], 0.5)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _funnel(session: AsyncSession, cohort: Any) -> tuple[Funnel, list[SourceRow]]:
    """The funnel and the rows per source: one GROUP BY source; the funnel is their sum."""
    c = cohort.c
    qualified = exists().where(LeadEvent.lead_id == c.id, LeadEvent.kind.in_(QUALIFYING_EVENTS))
    converted = c.status == LeadStatus.CONVERTED
    rows = await session.execute(
        select(
            c.source,
            func.count(),
            _count(or_(c.taker_id.is_not(None), c.owner_id.is_not(None))),
            _count(c.contacted_at.is_not(None)),
            _count(or_(converted, qualified)),
            _count(converted),
            _count(c.status == LeadStatus.REFUSED),
            _count(c.status == LeadStatus.JUNK),
            _count(c.status.in_(OPEN_STATUSES)),
            func.sum(case((converted, c.amount))),
        ).group_by(c.source)
    )
    by_source: list[SourceRow] = []
    totals = [0] * 8
    amount = Decimal("0.00")
    for source, *counts, total in rows:
        numbers = [int(n) for n in counts]
        totals = [a + b for a, b in zip(totals, numbers, strict=True)]
        amount += money(total)
        received, taken, _, _, converted_n, refused, junk, _ = numbers
        by_source.append(
            SourceRow(source, received, taken, converted_n, refused, junk, money(total))
        )
    by_source.sort(key=lambda row: (-row.received, row.source))
    return Funnel(*totals, amount=amount), by_source


def _ranked(counts: Iterable[tuple[str, int]]) -> dict[str, int]:
    return dict(sorted(counts, key=lambda item: (-item[1], item[0])))


async def _reasons(
    session: AsyncSession, cohort: Any
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Junk and refusal reasons, ranked; and the words of "we do not offer it", folded in
    Python (SQLite's lower() knows only ASCII: "БАССЕЙН" would stay apart from "бассейн")."""
    c = cohort.c
    closed = (LeadStatus.JUNK, LeadStatus.REFUSED)
    rows = await session.execute(
        select(c.status, c.close_reason, func.count())
        .where(c.status.in_(closed), c.close_reason.is_not(None))
        .group_by(c.status, c.close_reason)
    )
    junk: list[tuple[str, int]] = []
    refused: list[tuple[str, int]] = []
    for status, reason, count in rows:
        (junk if status == LeadStatus.JUNK else refused).append((reason, int(count)))
    words = await session.scalars(
        select(c.close_comment).where(
            c.status == LeadStatus.JUNK, c.close_reason == NO_SERVICE, c.close_comment.is_not(None)
        )
    )
    demand = Counter(" ".join(text.split()).casefold() for text in words)
    demand.pop("", None)  # the reason picked without words: nothing to group
    return _ranked(junk), _ranked(refused), _ranked(demand.items())


async def _repeat(session: AsyncSession, cohort: Any) -> Repeat:
    """A lead is repeat when its contact had a lead before it (any time, any source)."""
    c = cohort.c
    earlier = aliased(Lead, name="earlier")
    had_lead = exists().where(earlier.contact_id == c.contact_id, earlier.created_at < c.created_at)
    row = (
        await session.execute(
            select(func.count(), _count(and_(c.contact_id.is_not(None), had_lead)))
        )
    ).one()
    total, repeat = int(row[0]), int(row[1])
    return Repeat(new=total - repeat, repeat=repeat)


async def _managers(session: AsyncSession, cohort: Any, config: AppConfig) -> list[ManagerRow]:
    """Every active manager (one with no leads too), and anyone else credited with a lead in
    the period (a supervisor who took one, somebody deactivated since)."""
    c = cohort.c
    # the closer: the last closing event's actor, for the leads closed now
    closer = (
        select(LeadEvent.actor_id)
        .where(LeadEvent.lead_id == c.id, LeadEvent.kind.in_(CLOSING_EVENTS))
        .order_by(LeadEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    closed = (LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK)
    outcome_rows = await session.execute(
        select(closer.label("closer"), c.status, func.count(), func.sum(c.amount))
        .where(c.status.in_(closed))
        .group_by(closer, c.status)
    )
    outcomes: dict[int, dict[str, Any]] = {}
    for actor_id, status, count, total in outcome_rows:
        if actor_id is None:
            continue  # closed by the system (stale)
        row = outcomes.setdefault(actor_id, {"amount": Decimal("0.00")})
        row[LeadStatus(status).value] = int(count)
        if status == LeadStatus.CONVERTED:
            row["amount"] = money(total)
    # the durations the percentiles need: one row per taken lead of the period, no more
    takes = await session.execute(
        select(c.taker_id, c.created_at, c.taken_at, c.contacted_at).where(c.taker_id.is_not(None))
    )
    waits: dict[int, list[float]] = {}
    work_waits: dict[int, list[float]] = {}
    contact_waits: dict[int, list[float]] = {}
    for taker_id, created_at, taken_at, contacted_at in takes:
        waits.setdefault(taker_id, []).append((taken_at - created_at).total_seconds())
        worked = working_time_between(created_at, taken_at, config.working_hours, config.zone)
        work_waits.setdefault(taker_id, []).append(worked.total_seconds())
        if contacted_at is not None:
            contact = (contacted_at - created_at).total_seconds()
            contact_waits.setdefault(taker_id, []).append(contact)
    credited = set(outcomes) | set(waits)
    people = await session.scalars(
        select(Staff)
        .where(
            or_(
                and_(Staff.is_active.is_(True), Staff.role == Role.MANAGER),
                Staff.id.in_(credited),
            )
        )
        .order_by(Staff.name, Staff.id)
    )
    rows = []
    for person in people:
        done = outcomes.get(person.id, {})
        mine = waits.get(person.id, [])
        rows.append(
            ManagerRow(
                telegram_id=person.telegram_id,
                name=person.name,
                taken=len(mine),
                converted=done.get(LeadStatus.CONVERTED.value, 0),
                refused=done.get(LeadStatus.REFUSED.value, 0),
                junk=done.get(LeadStatus.JUNK.value, 0),
                amount=done.get("amount", Decimal("0.00")),
                take_p50_s=percentile(mine, 0.5),
                take_p90_s=percentile(mine, 0.9),
                take_work_p50_s=percentile(work_waits.get(person.id, []), 0.5),
                first_contact_p50_s=percentile(contact_waits.get(person.id, []), 0.5),
            )
        )
    return rows


async def _missed_calls(
    session: AsyncSession, scope: _Scope, start: datetime, end: datetime, config: AppConfig
) -> MissedCalls:
    """Missed incoming calls made in the period (their leads filtered as the report's), each
    with the first call-back after it: several missed calls on one open task are returned by
    one call-back, each timed from its own call."""
    called_at = func.coalesce(Call.started_at, Call.created_at)
    called_back = (
        select(func.min(LeadEvent.created_at))
        .where(
            LeadEvent.lead_id == Call.lead_id,
            LeadEvent.kind == CALL_BACK_EVENT,
            LeadEvent.created_at >= called_at,
        )
        .scalar_subquery()
    )
    calls = scope.where(
        select(called_at, called_back)
        .select_from(Call)
        .join(Lead, Lead.id == Call.lead_id)
        .where(
            Call.direction == "in",
            Call.status.in_(UNANSWERED_CALLS),
            called_at >= start,
            called_at < end,
        )
    )
    count = within = 0
    waits: list[float] = []
    for at, back in await session.execute(calls):
        count += 1
        if back is None:
            continue
        waits.append((back - at).total_seconds())
        limit = alert_time(AlertKind.MISSED_CALL, at, 0, config)
        if limit is None or back <= limit:
            within += 1
    return MissedCalls(count, len(waits), within, percentile(waits, 0.5))


def _utc_quarter(column: Any, dialect: str) -> tuple[Any, Any]:
    """A moment's UTC hour ("YYYY-MM-DD HH") and quarter of it (0..3), as SQL: grouping by
    them counts per 15 minutes, which any time zone's offset maps onto whole local hours."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        return func.to_char(utc, "YYYY-MM-DD HH24"), func.floor(func.extract("minute", utc) / 15)
    minute = cast(func.strftime("%M", column), Integer)
    return func.strftime("%Y-%m-%d %H", column), minute / 15


async def _arrivals(session: AsyncSession, cohort: Any, config: AppConfig) -> Arrivals:
    """Leads by local hour and weekday of arrival. The database counts per UTC quarter hour
    (it knows no time zones on SQLite); each quarter (at most 96 a day) is placed locally
    here, so a summer time change moves nothing to the wrong hour."""
    hour, quarter = _utc_quarter(cohort.c.created_at, session.bind.dialect.name)
    rows = await session.execute(select(hour, quarter, func.count()).group_by(hour, quarter))
    arrivals = Arrivals()
    for utc_hour, part, count in rows:
        moment = datetime.strptime(utc_hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        local = (moment + int(part) * QUARTER).astimezone(config.zone)
        arrivals.by_hour[local.hour] += int(count)
        arrivals.by_weekday[local.weekday()] += int(count)
    return arrivals


def _seconds(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == int(value) else value


def summary_json(summary: ReportSummary) -> dict[str, Any]:
    """The summary as the API answers it: amounts as two-place strings, seconds as numbers
    (whole ones as integers) or null."""

    def amount(value: Decimal | None) -> str | None:
        return None if value is None else str(value.quantize(CENT))

    funnel = summary.funnel
    return {
        "period": {
            "from": summary.first.isoformat(),
            "to": summary.last.isoformat(),
            "timezone": summary.timezone,
        },
        "funnel": {
            "received": funnel.received,
            "taken": funnel.taken,
            "contacted": funnel.contacted,
            "qualified": funnel.qualified,
            "converted": funnel.converted,
            "refused": funnel.refused,
            "junk": funnel.junk,
            "open": funnel.open,
            "amount": amount(funnel.amount),
            "convert_p50_s": _seconds(funnel.convert_p50_s),
        },
        "by_source": [
            {
                "source": row.source,
                "received": row.received,
                "taken": row.taken,
                "converted": row.converted,
                "refused": row.refused,
                "junk": row.junk,
                "amount": amount(row.amount),
                "spend": amount(row.spend),
                "cost_per_lead": amount(row.cost_per_lead),
                "cost_per_deal": amount(row.cost_per_deal),
            }
            for row in summary.by_source
        ],
        "by_manager": [
            {
                "telegram_id": row.telegram_id,
                "name": row.name,
                "taken": row.taken,
                "converted": row.converted,
                "refused": row.refused,
                "junk": row.junk,
                "amount": amount(row.amount),
                "take_p50_s": _seconds(row.take_p50_s),
                "take_p90_s": _seconds(row.take_p90_s),
                "take_work_p50_s": _seconds(row.take_work_p50_s),
                "first_contact_p50_s": _seconds(row.first_contact_p50_s),
            }
            for row in summary.by_manager
        ],
        "repeat": {"new": summary.repeat.new, "repeat": summary.repeat.repeat},
        "junk_reasons": dict(summary.junk_reasons),
        "refusal_reasons": dict(summary.refusal_reasons),
        "unmet_demand": dict(summary.unmet_demand),
        "missed_calls": {
            "count": summary.missed_calls.count,
            "called_back": summary.missed_calls.called_back,
            "called_back_within_limit": summary.missed_calls.called_back_within_limit,
            "callback_p50_s": _seconds(summary.missed_calls.callback_p50_s),
        },
        "arrivals": {
            "by_hour": list(summary.arrivals.by_hour),
            "by_weekday": list(summary.arrivals.by_weekday),
        },
    }
