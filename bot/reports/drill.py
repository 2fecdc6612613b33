"""The leads behind a report's number ("junk: spam · 12" → those 12 leads), one page at a
time. The definitions are `report_summary`'s, imported from it: the cohort (leads created in
the period), the filters (a source; a manager: the leads they took first or own now), the
statuses and reasons, and a missed call never called back (a missed incoming call made in the
period with no call-back event after it). So a list holds as many leads as its number says."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.leads.lists import PAGE as LIST_PAGE
from bot.leads.lists import ListedLead, ListPage
from bot.reports.keys import find_by_key
from bot.reports.summary import (
    CALL_BACK_EVENT,
    UNANSWERED_CALLS,
    Period,
    Scope,
    report_scope,
)
from storage.models import OPEN_STATUSES, Call, Lead, LeadEvent, LeadStatus

PAGE = LIST_PAGE  # leads a page: one phone screen of buttons, as the lead lists


class DrillKind(enum.StrEnum):
    # the values travel in button data (`rd:junk:...`): short, and never renamed
    OPEN = "open"  # still open (new, in work, call-back)
    NOT_TAKEN = "new"  # nobody ever took it (received − taken)
    CONVERTED = "deal"
    REFUSED = "ref"
    JUNK = "junk"
    JUNK_REASON = "jr"  # junk for one reason
    REFUSAL_REASON = "rr"  # refused for one reason
    NOT_CALLED_BACK = "call"  # a missed call in the period nobody called back


REASON_KINDS = (DrillKind.JUNK_REASON, DrillKind.REFUSAL_REASON)


@dataclass(frozen=True)
class Drill:
    """Which leads: a kind, and for a reason's kinds the reason code."""

    kind: DrillKind
    reason: str | None = None


@dataclass(frozen=True)
class DrillPage:
    leads: list[Lead]  # newest first
    total: int  # every lead of the drill, not only this page's


def _condition(drill: Drill) -> ColumnElement[bool]:
    kind = drill.kind
    if kind is DrillKind.OPEN:
        return Lead.status.in_(OPEN_STATUSES)
    if kind is DrillKind.NOT_TAKEN:  # the summary's "taken", negated
        return and_(Lead.first_owner_id.is_(None), Lead.owner_id.is_(None))
    if kind is DrillKind.CONVERTED:
        return Lead.status == LeadStatus.CONVERTED
    if kind is DrillKind.REFUSED:
        return Lead.status == LeadStatus.REFUSED
    if kind is DrillKind.JUNK:
        return Lead.status == LeadStatus.JUNK
    if kind is DrillKind.JUNK_REASON:
        return and_(Lead.status == LeadStatus.JUNK, Lead.close_reason == drill.reason)
    if kind is DrillKind.REFUSAL_REASON:
        return and_(Lead.status == LeadStatus.REFUSED, Lead.close_reason == drill.reason)
    raise ValueError(f"not a cohort drill: {kind!r}")


def _missed_not_called_back(scope: Scope) -> ColumnElement[bool]:
    """The lead had a missed incoming call in the period with no call-back after it (the
    summary's `count - called_back`, by lead: a lead missed twice is one line)."""
    called_at = func.coalesce(Call.started_at, Call.created_at)
    called_back = exists().where(
        LeadEvent.lead_id == Call.lead_id,
        LeadEvent.kind == CALL_BACK_EVENT,
        LeadEvent.created_at >= called_at,
    )
    return exists().where(
        Call.lead_id == Lead.id,
        Call.direction == "in",
        Call.status.in_(UNANSWERED_CALLS),
        called_at >= scope.start,
        called_at < scope.end,
        ~called_back,
    )


async def _drill_query(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    drill: Drill,
    source: str | None,
    manager_telegram_id: int | None,
) -> Select[tuple[Lead]]:
    scope = await report_scope(session, period, config, source, manager_telegram_id)
    if drill.kind is DrillKind.NOT_CALLED_BACK:  # by the call's time, as the summary counts
        return select(Lead).where(*scope.filters(), _missed_not_called_back(scope))
    return scope.where(select(Lead)).where(_condition(drill))


async def drill_leads(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    what: Drill,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
    offset: int = 0,
    limit: int = PAGE,
) -> DrillPage:
    """The leads behind `what` in `period` (local dates, both included), with the report's
    filters, newest first: `limit` of them from `offset`, and how many there are in all."""
    found = await _drill_query(session, period, config, what, source, manager_telegram_id)
    counted = found.with_only_columns(Lead.id).subquery()
    total = int(await session.scalar(select(func.count()).select_from(counted)) or 0)
    leads = await session.scalars(
        found.order_by(Lead.created_at.desc(), Lead.id.desc()).offset(max(0, offset)).limit(limit)
    )
    return DrillPage(list(leads), total)


async def drill_reasons(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    kind: DrillKind,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> list[str]:
    """The reason codes the period's junk (JUNK_REASON) or refused (REFUSAL_REASON) leads
    carry, with the filters: what a reason button's key is looked up among."""
    status = LeadStatus.JUNK if kind is DrillKind.JUNK_REASON else LeadStatus.REFUSED
    scope = await report_scope(session, period, config, source, manager_telegram_id)
    rows = await session.scalars(
        scope.where(select(Lead.close_reason))
        .where(Lead.status == status, Lead.close_reason.is_not(None))
        .distinct()
    )
    return sorted(code for code in rows if code is not None)


async def find_drill(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    kind: DrillKind,
    reason_key: str,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> Drill | None:
    """The drill a button names: for a reason's kinds, its key looked up among the reasons
    the period's leads carry (None: no such reason there now, an outdated button)."""
    if kind not in REASON_KINDS:
        return Drill(kind)
    codes = await drill_reasons(
        session, period, config, kind, source=source, manager_telegram_id=manager_telegram_id
    )
    code = find_by_key(codes, reason_key)
    return None if code is None else Drill(kind, code)


async def drill_page(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    what: Drill,
    page: int,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> ListPage:
    """Page `page` of the drill's leads, as the lead lists page theirs; past the end (the
    list shrank since its page was drawn) its last page."""
    filters = {"source": source, "manager_telegram_id": manager_telegram_id}
    found = await drill_leads(session, period, config, what, offset=page * PAGE, **filters)
    pages = max(1, -(-found.total // PAGE))
    if page >= pages:
        page = pages - 1
        found = await drill_leads(session, period, config, what, offset=page * PAGE, **filters)
    return ListPage([ListedLead(lead) for lead in found.leads], page, pages, found.total)
