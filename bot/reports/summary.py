"""The report's numbers for a period, computed once for every reader: the API
(`GET /api/v1/reports/summary`), the chat's `/report` and its exports.

The period is a pair of local dates in `timezone`, both included; its leads (the cohort) are
those created in it. Every count is a GROUP BY in the database over the period's leads (an
index range on `created_at`), and every percentile is ranked there too (bot/reports/
measures.py): whatever the period's size, only a handful of rows come to Python.

Who gets the credit for a lead: the take (and its times) belongs to whoever took it first (a
take, or a supervisor's reassign of a lead nobody had taken), the outcome (and the deal's
amount) to whoever closed it last (a lead the system closed as stale is nobody's). Each lead
carries those milestones in its own row (`first_owner_id`, `first_taken_at`,
`first_take_work_s`, `closed_by_id`, `qualified_at`: kept by bot/leads/actions.py), so a
report never searches the leads' histories."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.common.money import CENT, amount_text
from bot.config import AlertKind, AppConfig
from bot.leads.overdue import overdue_counts
from bot.reports.campaigns import CampaignRow, campaign_rows, campaigns_json
from bot.reports.measures import quarter_start, seconds_between, utc_quarter
from bot.reports.spend import cost, period_spend
from bot.sla.deadlines import alert_time
from bot.sla.working_hours import is_open
from storage.models import (
    ANSWER_TASK,
    OPEN_STATUSES,
    AlertCopy,
    Call,
    Lead,
    LeadEvent,
    LeadStatus,
    Role,
    Staff,
    Task,
)

Period = tuple[date, date]  # first and last local day, both included

NO_SERVICE = "no_service"  # the junk reason whose words are the demand we do not meet
# bot/telephony's vocabulary, repeated: reports and telephony are siblings that may not import
# each other (pyproject's contracts); an incoming call with one of these wants calling back
UNANSWERED_CALLS = ("missed", "busy", "no_answer")
CALL_BACK_EVENT = "missed_call_done"  # the caller was reached (a call, or Called back)
ANSWER_EVENT = "replied"  # a manager's answer to the client, queued (bot/intake/client_chat)
# a client's "Still waiting?" in the bot (bot/self_service/manage.py NUDGED_EVENT; a sibling
# package, so the name is repeated here and a test keeps the two equal)
NUDGED_EVENT = "client_nudged"
TAKE, TAKE_WORK, CONTACT = (
    1,
    2,
    3,
)  # a taker's waits, ranked together: to take, in working time, to reach


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
    # the period's share of the spend entered by /spend (bot/reports/spend.py); None: none
    # entered, or the report is one manager's (spend buys a source's leads, not a person's)
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
    contacted: int = 0  # of the leads they took first, those whose client was reached
    first_contact_work_p50_s: float | None = None
    reminders: int = 0  # reminders and escalations they got about the period's leads
    escalations: int = 0
    missed_calls_not_returned: int = 0  # the period's missed calls on their leads, never returned
    overdue_now: int | None = None  # their leads overdue now (None: the report knows no "now")


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
class ClientMessages:
    count: int = 0  # waits begun: a client's message nobody had answered yet
    answered: int = 0
    answered_within_limit: int = 0  # within the `answer` reminder limit
    answer_p50_s: float | None = None


@dataclass(frozen=True)
class AfterHours:
    arrived: int = 0  # leads that came while the team was not working
    taken: int = 0
    take_p50_s: float | None = None  # arrival -> first take, wall time
    take_p90_s: float | None = None


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
    client_messages: ClientMessages = ClientMessages()
    after_hours: AfterHours = AfterHours()
    by_campaign: list[CampaignRow] = field(default_factory=list)  # utm and deep-link tags
    client_nudges: int = 0  # clients' "Still waiting?" in the period (self-service)


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


class Scope:
    """The leads a report reads: those created in [start, end), narrowed by the filters (one
    source; one manager's: those they took first or own now)."""

    def __init__(
        self, start: datetime, end: datetime, source: str | None, manager_id: int | None
    ) -> None:
        self.start, self.end = start, end
        self.source = source
        self.manager_id = manager_id

    def filters(self) -> list[ColumnElement[bool]]:
        """The filters alone (for a query that finds its leads by something else)."""
        found: list[ColumnElement[bool]] = []
        if self.source is not None:
            found.append(Lead.source == self.source)
        if self.manager_id is not None:
            found.append(
                or_(Lead.first_owner_id == self.manager_id, Lead.owner_id == self.manager_id)
            )
        return found

    def where(self, stmt: Select[Any]) -> Select[Any]:
        """`stmt` (which reads `Lead`) kept to the period's leads and the filters."""
        return stmt.where(Lead.created_at >= self.start, Lead.created_at < self.end).where(
            *self.filters()
        )


async def report_scope(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> Scope:
    """The scope of a report for `period` and its filters; a manager is named by Telegram id
    (nobody known by it: no leads)."""
    start, end = period_bounds(period, config)
    manager_id: int | None = None
    if manager_telegram_id is not None:
        manager_id = await session.scalar(
            select(Staff.id).where(Staff.telegram_id == manager_telegram_id)
        )
        if manager_id is None:
            manager_id = -1  # matches no lead: an unknown person took nothing
    return Scope(start, end, source, manager_id)


async def report_summary(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
    now: datetime | None = None,
) -> ReportSummary:
    """Every section of the report for the leads created in `period` (local dates, both
    included), optionally only those of one source, or those one manager took first or owns
    now (by Telegram id; nobody known by it: no leads). With `now`, each manager's leads
    overdue at that moment too."""
    scope = await report_scope(session, period, config, source, manager_telegram_id)
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
            Lead.is_repeat.label("is_repeat"),
            Lead.close_reason.label("close_reason"),
            Lead.close_comment.label("close_comment"),
            Lead.utm.label("utm"),
            Lead.first_owner_id.label("taker_id"),
            Lead.first_taken_at.label("taken_at"),
            Lead.first_take_work_s.label("take_work_s"),
            Lead.first_contact_work_s.label("contact_work_s"),
            Lead.closed_by_id.label("closer_id"),
            Lead.qualified_at.label("qualified_at"),
        ).select_from(Lead)
    ).subquery("cohort")
    funnel, by_source = await _funnel(session, cohort)
    # one manager's report has no spend: it bought the source's leads, not theirs
    spend = {} if scope.manager_id is not None else await period_spend(session, *period, source)
    by_source = _with_spend(by_source, spend)
    funnel = replace(funnel, convert_p50_s=await _time_to_deal(session, cohort))
    junk_reasons, refusal_reasons, unmet = await _reasons(session, cohort)
    takes = await _taken_leads(session, cohort)
    missed_calls, not_returned = await _missed_calls(session, scope, config)
    people = _Credits(
        alerts=await _alerts_received(session, scope),
        not_returned=not_returned,
        overdue=None if now is None else await overdue_counts(session, now, config),
    )
    quarters = await _arrival_quarters(session, cohort)
    arrivals = _arrivals(quarters, config)
    return ReportSummary(
        first=period[0],
        last=period[1],
        timezone=config.timezone,
        funnel=funnel,
        by_source=by_source,
        by_manager=await _managers(session, cohort, takes, people),
        repeat=await _repeat(session, cohort),
        junk_reasons=junk_reasons,
        refusal_reasons=refusal_reasons,
        unmet_demand=unmet,
        missed_calls=missed_calls,
        client_messages=await _client_messages(session, scope, config),
        arrivals=arrivals,
        after_hours=_after_hours(quarters, takes, config),
        by_campaign=await campaign_rows(session, cohort),
        client_nudges=await _client_nudges(session, scope),
    )


async def _client_nudges(session: AsyncSession, scope: Scope) -> int:
    """Clients' "Still waiting?" presses that reached the team in the period (on leads of
    the report's filters, whenever those leads arrived)."""
    found = await session.scalar(
        select(func.count())
        .select_from(LeadEvent)
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(
            LeadEvent.kind == NUDGED_EVENT,
            LeadEvent.created_at >= scope.start,
            LeadEvent.created_at < scope.end,
            *scope.filters(),
        )
    )
    return int(found or 0)


def _with_spend(rows: list[SourceRow], spend: dict[str, Decimal]) -> list[SourceRow]:
    """The sources' rows with their spend and costs; a source with spend and no leads in the
    period gets a row of its own after the others (the money bought nothing)."""
    priced = [
        replace(
            row,
            spend=spend.get(row.source),
            cost_per_lead=cost(spend.get(row.source), row.received),
            cost_per_deal=cost(spend.get(row.source), row.converted),
        )
        for row in rows
    ]
    listed = {row.source for row in rows}
    idle = [
        SourceRow(name, 0, 0, 0, 0, 0, Decimal("0.00"), spend=amount)
        for name, amount in sorted(spend.items())
        if name not in listed
    ]
    return priced + idle


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name


async def _time_to_deal(session: AsyncSession, cohort: Any) -> float | None:
    """Median seconds from arrival to the deal, over the period's converted leads only."""
    c = cohort.c
    waited = seconds_between(c.created_at, c.closed_at, _dialect(session))
    deals = await session.scalars(select(waited).where(c.status == LeadStatus.CONVERTED))
    return percentile([float(seconds) for seconds in deals if seconds is not None], 0.5)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _funnel(session: AsyncSession, cohort: Any) -> tuple[Funnel, list[SourceRow]]:
    """The funnel and the rows per source: one GROUP BY source; the funnel is their sum."""
    c = cohort.c
    converted = c.status == LeadStatus.CONVERTED
    rows = await session.execute(
        select(
            c.source,
            func.count(),
            _count(or_(c.taker_id.is_not(None), c.owner_id.is_not(None))),
            _count(c.contacted_at.is_not(None)),
            _count(or_(converted, c.qualified_at.is_not(None))),
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
    # the distinct words with their counts: as many rows as different words, not leads
    words = await session.execute(
        select(c.close_comment, func.count())
        .where(
            c.status == LeadStatus.JUNK, c.close_reason == NO_SERVICE, c.close_comment.is_not(None)
        )
        .group_by(c.close_comment)
    )
    demand: Counter[str] = Counter()
    for text, count in words:
        demand[" ".join(text.split()).casefold()] += int(count)
    demand.pop("", None)  # the reason picked without words: nothing to group
    return _ranked(junk), _ranked(refused), _ranked(demand.items())


async def _repeat(session: AsyncSession, cohort: Any) -> Repeat:
    """A lead is repeat when its person had a lead before it came (recorded on arrival)."""
    c = cohort.c
    row = (await session.execute(select(func.count(), _count(c.is_repeat.is_(True))))).one()
    total, repeat = int(row[0]), int(row[1])
    return Repeat(new=total - repeat, repeat=repeat)


@dataclass(frozen=True)
class _Credits:
    """What else each person's row counts, by staff id: reminders and escalations received,
    missed calls not returned, leads overdue now (None: not asked)."""

    alerts: dict[int, dict[str, int]]
    not_returned: dict[int, int]
    overdue: dict[int, int] | None


async def _alerts_received(session: AsyncSession, scope: Scope) -> dict[int, dict[str, int]]:
    """Reminders and escalations each person got about the period's leads (each message they
    were sent: a reminder to the pool reaches everybody on duty)."""
    step = AlertCopy.payload["step"].as_string()
    rows = await session.execute(
        scope.where(
            select(AlertCopy.staff_id, step, func.count())
            .select_from(AlertCopy)
            .join(Lead, Lead.id == AlertCopy.lead_id)
            .where(AlertCopy.staff_id.is_not(None))
        ).group_by(AlertCopy.staff_id, step)
    )
    found: dict[int, dict[str, int]] = {}
    for staff_id, kind, count in rows:
        found.setdefault(staff_id, {})[kind] = int(count)
    return found


async def _managers(
    session: AsyncSession, cohort: Any, takes: list[TakenLead], credits: _Credits
) -> list[ManagerRow]:
    """Every active manager (one with no leads too), and anyone else credited with a lead in
    the period (a supervisor who took one, somebody deactivated since)."""
    c = cohort.c
    closed = (LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK)
    outcome_rows = await session.execute(
        select(c.closer_id, c.status, func.count(), func.sum(c.amount))
        .where(c.status.in_(closed), c.closer_id.is_not(None))  # NULL: closed as stale
        .group_by(c.closer_id, c.status)
    )
    outcomes: dict[int, dict[str, Any]] = {}
    for actor_id, status, count, total in outcome_rows:
        row = outcomes.setdefault(actor_id, {"amount": Decimal("0.00")})
        row[LeadStatus(status).value] = int(count)
        if status == LeadStatus.CONVERTED:
            row["amount"] = money(total)
    waits: dict[int, tuple[list[float], ...]] = {}
    for take in takes:
        series = waits.setdefault(take.taker_id, ([], [], [], []))
        series[0].append(take.seconds)
        if take.work_seconds is not None:  # a lead from before 0010, until the start fills it
            series[1].append(take.work_seconds)
        if take.contact_seconds is not None:
            series[2].append(take.contact_seconds)
        if take.contact_work_seconds is not None:
            series[3].append(take.contact_work_seconds)
    taken = {taker: len(series[0]) for taker, series in waits.items()}
    credited = set(outcomes) | set(taken)
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
        takes, works, contacts, contact_works = waits.get(person.id, ([], [], [], []))
        alerts = credits.alerts.get(person.id, {})
        rows.append(
            ManagerRow(
                telegram_id=person.telegram_id,
                name=person.name,
                taken=taken.get(person.id, 0),
                converted=done.get(LeadStatus.CONVERTED.value, 0),
                refused=done.get(LeadStatus.REFUSED.value, 0),
                junk=done.get(LeadStatus.JUNK.value, 0),
                amount=done.get("amount", Decimal("0.00")),
                take_p50_s=percentile(takes, 0.5),
                take_p90_s=percentile(takes, 0.9),
                take_work_p50_s=percentile(works, 0.5),
                first_contact_p50_s=percentile(contacts, 0.5),
                contacted=len(contacts),
                first_contact_work_p50_s=percentile(contact_works, 0.5),
                reminders=alerts.get("remind", 0),
                escalations=alerts.get("escalate", 0),
                missed_calls_not_returned=credits.not_returned.get(person.id, 0),
                overdue_now=None if credits.overdue is None else credits.overdue.get(person.id, 0),
            )
        )
    return rows


async def _missed_calls(
    session: AsyncSession, scope: Scope, config: AppConfig
) -> tuple[MissedCalls, dict[int, int]]:
    """Missed incoming calls made in the period (their leads filtered as the report's), each
    with the first call-back after it: several missed calls on one open task are returned by
    one call-back, each timed from its own call. And those never returned, by the owner of
    their lead now."""
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
    calls = (
        select(called_at, called_back, Lead.owner_id)
        .select_from(Call)
        .join(Lead, Lead.id == Call.lead_id)
        .where(
            Call.direction == "in",
            Call.status.in_(UNANSWERED_CALLS),
            called_at >= scope.start,
            called_at < scope.end,
            *scope.filters(),
        )
    )
    count = within = 0
    waits: list[float] = []
    not_returned: dict[int, int] = {}
    for at, back, owner_id in await session.execute(calls):
        count += 1
        if back is None:
            if owner_id is not None:
                not_returned[owner_id] = not_returned.get(owner_id, 0) + 1
            continue
        waits.append((back - at).total_seconds())
        limit = alert_time(AlertKind.MISSED_CALL, at, 0, config)
        if limit is None or back <= limit:
            within += 1
    return MissedCalls(count, len(waits), within, percentile(waits, 0.5)), not_returned


async def _arrival_quarters(session: AsyncSession, cohort: Any) -> dict[int, int]:
    """Leads per UTC quarter hour of arrival (its number, `utc_quarter`): the database counts
    (it knows no time zones on SQLite); at most 96 quarters a day come to Python."""
    quarter = utc_quarter(cohort.c.created_at, _dialect(session))
    rows = await session.execute(select(quarter, func.count()).group_by(quarter))
    return {int(number): int(count) for number, count in rows}


def _arrivals(quarters: dict[int, int], config: AppConfig) -> Arrivals:
    """Leads by local hour and weekday of arrival: each quarter placed locally, so a summer
    time change moves nothing to the wrong hour."""
    arrivals = Arrivals()
    for number, count in quarters.items():
        local = quarter_start(number).astimezone(config.zone)
        arrivals.by_hour[local.hour] += count
        arrivals.by_weekday[local.weekday()] += count
    return arrivals


@dataclass(frozen=True)
class TakenLead:
    """A taken lead of the period as plain numbers: who took it first and its waits."""

    taker_id: int
    quarter: int  # the UTC quarter hour it arrived in
    seconds: float  # arrival -> first take
    work_seconds: float | None  # the same in working hours
    contact_seconds: float | None  # arrival -> the client reached
    contact_work_seconds: float | None  # the same in working hours


async def _taken_leads(session: AsyncSession, cohort: Any) -> list[TakenLead]:
    """One row per taken lead, the durations computed in SQL: the percentiles are sorted
    here (ranking them in SQLite with window functions cost three times as much)."""
    c = cohort.c
    dialect = _dialect(session)
    rows = await session.execute(
        select(
            c.taker_id,
            utc_quarter(c.created_at, dialect),
            seconds_between(c.created_at, c.taken_at, dialect),
            c.take_work_s,
            seconds_between(c.created_at, c.contacted_at, dialect),
            c.contact_work_s,
        ).where(c.taker_id.is_not(None))
    )
    return [
        TakenLead(
            taker,
            int(quarter),
            float(take),
            work,
            None if contact is None else float(contact),
            contact_work,
        )
        for taker, quarter, take, work, contact, contact_work in rows
    ]


def _after_hours(quarters: dict[int, int], takes: list[TakenLead], config: AppConfig) -> AfterHours:
    """The leads that arrived while the team was not working (judged by the quarter hour of
    arrival) and how long those taken waited for it, in wall time."""
    closed = {
        number
        for number in quarters
        if not is_open(quarter_start(number), config.working_hours, config.zone)
    }
    waits = [take.seconds for take in takes if take.quarter in closed]
    return AfterHours(
        arrived=sum(quarters[number] for number in closed),
        taken=len(waits),
        take_p50_s=percentile(waits, 0.5),
        take_p90_s=percentile(waits, 0.9),
    )


async def _client_messages(
    session: AsyncSession, scope: Scope, config: AppConfig
) -> ClientMessages:
    """Clients' messages that waited for an answer, started in the period (a wait is the
    first unanswered message and any after it, on a lead someone owns), each with the first
    answer a manager sent after it began."""
    answered = (
        select(func.min(LeadEvent.created_at))
        .where(
            LeadEvent.lead_id == Task.lead_id,
            LeadEvent.kind == ANSWER_EVENT,
            LeadEvent.created_at >= Task.created_at,
        )
        .scalar_subquery()
    )
    waits = (
        select(Task.created_at, answered)
        .join(Lead, Lead.id == Task.lead_id)
        .where(
            Task.kind == ANSWER_TASK,
            Task.created_at >= scope.start,
            Task.created_at < scope.end,
            *scope.filters(),
        )
    )
    count = within = 0
    answers: list[float] = []
    for began, answer in await session.execute(waits):
        count += 1
        if answer is None:
            continue
        answers.append((answer - began).total_seconds())
        limit = alert_time(AlertKind.ANSWER, began, 0, config)
        if limit is None or answer <= limit:
            within += 1
    return ClientMessages(count, len(answers), within, percentile(answers, 0.5))


def _seconds(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == int(value) else value


def summary_json(summary: ReportSummary) -> dict[str, Any]:
    """The summary as the API answers it: amounts as two-place strings, seconds as numbers
    (whole ones as integers) or null."""

    amount = amount_text

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
                "contacted": row.contacted,
                "first_contact_work_p50_s": _seconds(row.first_contact_work_p50_s),
                "reminders": row.reminders,
                "escalations": row.escalations,
                "missed_calls_not_returned": row.missed_calls_not_returned,
                "overdue_now": row.overdue_now,
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
        "client_messages": {
            "count": summary.client_messages.count,
            "answered": summary.client_messages.answered,
            "answered_within_limit": summary.client_messages.answered_within_limit,
            "answer_p50_s": _seconds(summary.client_messages.answer_p50_s),
        },
        "after_hours": {
            "arrived": summary.after_hours.arrived,
            "taken": summary.after_hours.taken,
            "take_p50_s": _seconds(summary.after_hours.take_p50_s),
            "take_p90_s": _seconds(summary.after_hours.take_p90_s),
        },
        "by_campaign": campaigns_json(summary.by_campaign),
    }
