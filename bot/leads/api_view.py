"""Leads as other systems read them (GET /api/v1/leads, /api/v1/leads/{id}): filtered pages
in a stable order, and one lead with its history. A session in, plain data out.

Pages are keyset pages (bot/leads/cursor.py): each page is the first `limit` leads after the
previous page's last one, in `id` order (the order of arrival, which nothing changes) or in
`(updated_at, id)` order (a lead changed after its page was read comes again, at the end, with
its new state: a change feed). A lead inserted while a client pages gets a larger id and a
later `updated_at` than any lead read before, so it lands after the cursor: nothing already
read moves, nothing is skipped or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import AppConfig, default_config
from bot.leads.cursor import Position, Sort
from bot.scoring.model import LeadScore
from bot.scoring.scores import scores_for
from storage.models import Lead, LeadEvent, LeadStatus, Staff

EVENTS_MAX = 1000  # the newest events a single lead's answer holds; older ones are counted


@dataclass(frozen=True)
class LeadFilter:
    """Which leads a page holds; every field set narrows it (all of them at once)."""

    statuses: tuple[LeadStatus, ...] = ()
    source: str | None = None
    owner_telegram_id: int | None = None
    created_since: datetime | None = None  # created at or after
    updated_since: datetime | None = None  # last changed at or after


@dataclass(frozen=True)
class Person:
    telegram_id: int
    name: str


@dataclass(frozen=True)
class LeadRecord:
    id: int
    status: LeadStatus
    source: str
    external_id: str | None
    name: str | None
    phone: str | None
    email: str | None
    message: str | None
    service: str | None
    amount: Decimal | None
    utm: dict[str, Any]
    extra: dict[str, Any]
    is_repeat: bool
    owner: Person | None
    close_reason: str | None
    close_comment: str | None
    possible_duplicate_of: int | None
    merged_into: int | None
    created_at: datetime
    updated_at: datetime
    taken_at: datetime | None
    contacted_at: datetime | None
    closed_at: datetime | None
    version: int
    # the lead score (open leads; None when closed): percent and the reasons that moved it
    score: int | None = None
    score_factors: tuple[ScoreFactor, ...] = ()


@dataclass(frozen=True)
class ScoreFactor:
    factor: str
    value: str
    ratio: float | None  # the model's likelihood ratio; None for the rule score
    points: int | None  # the rule score's points; None for the model


def _scored(record: LeadRecord, score: LeadScore | None) -> LeadRecord:
    if score is None:
        return record
    factors = tuple(
        ScoreFactor(f.factor, f.value, round(f.ratio, 2) if f.ratio is not None else None, f.points)
        for f in score.factors
    )
    return replace(record, score=score.percent, score_factors=factors)


@dataclass(frozen=True)
class EventRecord:
    id: int
    kind: str
    at: datetime
    actor: Person | None
    data: dict[str, Any]


@dataclass(frozen=True)
class LeadPage:
    leads: list[LeadRecord]
    has_more: bool  # more leads follow now; read on from `end`
    end: Position | None  # after the last lead; None only for an empty first page


@dataclass(frozen=True)
class LeadDetail:
    lead: LeadRecord
    events: list[EventRecord]  # oldest first, at most EVENTS_MAX (the newest)
    events_omitted: int  # older events not in `events`


_Owner = aliased(Staff, name="owner")


def _person(telegram_id: int | None, name: str | None) -> Person | None:
    return None if telegram_id is None else Person(telegram_id, name or "")


def _record(lead: Lead, owner_telegram_id: int | None, owner_name: str | None) -> LeadRecord:
    return LeadRecord(
        id=lead.id,
        status=LeadStatus(lead.status),
        source=lead.source,
        external_id=lead.external_id,
        name=lead.name,
        phone=lead.phone,
        email=lead.email,
        message=lead.message,
        service=lead.service,
        amount=lead.amount,
        utm=dict(lead.utm or {}),
        extra=dict(lead.extra or {}),
        is_repeat=bool(lead.is_repeat),
        owner=_person(owner_telegram_id, owner_name),
        close_reason=lead.close_reason,
        close_comment=lead.close_comment,
        possible_duplicate_of=lead.possible_duplicate_of_id,
        merged_into=lead.merged_into_id,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        taken_at=lead.taken_at,
        contacted_at=lead.contacted_at,
        closed_at=lead.closed_at,
        version=lead.version,
    )


def _leads() -> Select[tuple[Lead, int | None, str | None]]:
    return select(Lead, _Owner.telegram_id, _Owner.name).outerjoin(
        _Owner, _Owner.id == Lead.owner_id
    )


def _conditions(filters: LeadFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.statuses:
        where.append(Lead.status.in_(filters.statuses))
    if filters.source is not None:
        where.append(Lead.source == filters.source)
    if filters.owner_telegram_id is not None:
        where.append(_Owner.telegram_id == filters.owner_telegram_id)
    if filters.created_since is not None:
        where.append(Lead.created_at >= filters.created_since)
    if filters.updated_since is not None:
        where.append(Lead.updated_at >= filters.updated_since)
    return where


def _after(position: Position) -> ColumnElement[bool]:
    if position.sort is Sort.ID:
        return Lead.id > position.lead_id
    moment = position.updated_at
    # spelled out rather than a row value: (a, b) > (x, y) reads the same on both databases,
    # and PostgreSQL still ranges over ix_leads_updated_at_id from `updated_at >= moment`
    return and_(
        Lead.updated_at >= moment,
        or_(Lead.updated_at > moment, Lead.id > position.lead_id),
    )


async def lead_page(
    session: AsyncSession,
    filters: LeadFilter,
    sort: Sort,
    after: Position | None,
    limit: int,
    config: AppConfig | None = None,
) -> LeadPage:
    """The first `limit` leads matching `filters` after `after` (from the start when None)."""
    query = _leads().where(*_conditions(filters))
    if after is not None:
        query = query.where(_after(after))
    if sort is Sort.ID:
        query = query.order_by(Lead.id)
    else:
        query = query.order_by(Lead.updated_at, Lead.id)
    rows = (await session.execute(query.limit(limit + 1))).all()
    scores = await scores_for(session, [row[0] for row in rows[:limit]], config or default_config())
    leads = [
        _scored(_record(lead, telegram_id, name), scores[lead.id])
        for lead, telegram_id, name in rows[:limit]
    ]
    if leads:
        last = leads[-1]
        end: Position | None = Position(
            sort, last.id, last.updated_at if sort is Sort.UPDATED_AT else None
        )
    else:
        end = after  # nothing new: the client keeps its place
    return LeadPage(leads=leads, has_more=len(rows) > limit, end=end)


async def lead_detail(
    session: AsyncSession,
    lead_id: int,
    events_max: int = EVENTS_MAX,
    config: AppConfig | None = None,
) -> LeadDetail | None:
    """One lead and its history (oldest first); None when there is no such lead."""
    row = (await session.execute(_leads().where(Lead.id == lead_id))).first()
    if row is None:
        return None
    lead, telegram_id, name = row
    actor = aliased(Staff, name="actor")
    newest = (
        await session.execute(
            select(LeadEvent, actor.telegram_id, actor.name)
            .outerjoin(actor, actor.id == LeadEvent.actor_id)
            .where(LeadEvent.lead_id == lead_id)
            .order_by(LeadEvent.id.desc())
            .limit(events_max)
        )
    ).all()
    omitted = 0
    if len(newest) == events_max:
        total = await session.scalar(
            select(func.count()).select_from(LeadEvent).where(LeadEvent.lead_id == lead_id)
        )
        omitted = int(total or 0) - events_max
    events = [
        EventRecord(
            id=event.id,
            kind=event.kind,
            at=event.created_at,
            actor=_person(actor_telegram_id, actor_name),
            data=dict(event.data or {}),
        )
        for event, actor_telegram_id, actor_name in reversed(newest)
    ]
    score = (await scores_for(session, [lead], config or default_config()))[lead.id]
    return LeadDetail(_scored(_record(lead, telegram_id, name), score), events, omitted)
