"""The lead lists a manager opens from /leads, and /find: one page at a time, each line a
lead to open."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.common.contacts import InvalidContactField, normalise_email, normalise_phone
from bot.common.lifecycle import SUPERVISING
from bot.config import AppConfig
from bot.leads.overdue import overdue_leads
from bot.scoring.scores import scores_for
from storage.models import CALL_BACK_TASK, OPEN_STATUSES, Contact, Lead, LeadStatus, Staff, Task

PAGE = 8  # lines per page: one phone screen of buttons
FOUND_LIMIT = 20


class LeadList(enum.StrEnum):
    MINE = "mine"  # my open leads
    NEW = "new"  # new, nobody took them
    TODAY = "today"  # call-backs due by the end of today
    OVERDUE = "overdue"  # past a time limit now


@dataclass(frozen=True)
class ListedLead:
    lead: Lead
    due: datetime | None = None  # the call-back time, or when it became overdue


@dataclass(frozen=True)
class ListPage:
    items: list[ListedLead]
    page: int
    pages: int
    total: int


def _page_of(items: list[ListedLead], page: int) -> ListPage:
    pages = max(1, -(-len(items) // PAGE))
    page = min(max(page, 0), pages - 1)
    return ListPage(items[page * PAGE : (page + 1) * PAGE], page, pages, len(items))


def end_of_day(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return tomorrow.astimezone(now.tzinfo)


async def lead_list(
    session: AsyncSession,
    kind: LeadList,
    reader: Staff,
    now: datetime,
    config: AppConfig,
    page: int = 0,
) -> ListPage:
    """A manager sees their own leads (and the new ones); a supervisor sees the team's."""
    supervising = reader.role in SUPERVISING
    owned: list[ColumnElement[bool]] = [] if supervising else [Lead.owner_id == reader.id]
    with_owner = joinedload(Lead.owner)
    if kind is LeadList.MINE:
        rows = await session.scalars(
            select(Lead)
            .options(with_owner)
            .where(Lead.owner_id == reader.id, Lead.status.in_(OPEN_STATUSES))
            .order_by(Lead.updated_at.desc(), Lead.id.desc())
        )
        return _page_of([ListedLead(lead) for lead in rows], page)
    if kind is LeadList.NEW:
        rows = await session.scalars(
            select(Lead)
            .options(with_owner)
            .where(Lead.status == LeadStatus.NEW)
            .order_by(Lead.created_at, Lead.id)
        )
        fresh = await by_score_within_age(session, list(rows), now, config)
        return _page_of([ListedLead(lead) for lead in fresh], page)
    if kind is LeadList.TODAY:
        due = await session.execute(
            select(Lead, Task.due_at)
            .options(with_owner)
            .join(Task, Task.lead_id == Lead.id)
            .where(
                Task.kind == CALL_BACK_TASK,
                Task.done_at.is_(None),
                Task.due_at < end_of_day(now, config.zone),
                Lead.status == LeadStatus.CALL_BACK,
                *owned,
            )
            .order_by(Task.due_at, Lead.id)
        )
        return _page_of([ListedLead(lead, at) for lead, at in due], page)
    late = await overdue_leads(session, now, config, None if supervising else reader.id)
    return _page_of([ListedLead(item.lead, item.since) for item in late], page)


async def by_score_within_age(
    session: AsyncSession, leads: list[Lead], now: datetime, config: AppConfig
) -> list[Lead]:
    """Oldest first, by bands of `[scoring] list_band` (an hour): within a band, the likeliest
    to buy first, so a hot lead is not queued behind a cold one of the same hour, and no lead
    waits behind fresher ones. `leads` come oldest first; ties keep that order."""
    band = config.scoring.list_band
    if not band or len(leads) < 2:
        return leads
    scores = await scores_for(session, leads, config)

    def key(lead: Lead) -> tuple[int, int]:
        score = scores.get(lead.id)
        return (-((now - lead.created_at) // band), -(score.percent if score else 0))

    return sorted(leads, key=key)


_LEAD_ID = re.compile(r"^(?:#|№)?\s*(\d{1,9})$")


async def find_leads(session: AsyncSession, query: str, phone_region: str) -> list[Lead]:
    """By lead id (`#12`), e-mail, phone in any format, or a fragment of the name; the newest
    first. Leads are found through their contact too (a phone the contact has)."""
    text = " ".join(query.split())[:200]
    if not text:
        return []
    conditions: list[ColumnElement[bool]] = []
    if found := _LEAD_ID.match(text):
        conditions.append(Lead.id == int(found.group(1)))
    if "@" in text:
        try:
            email = normalise_email(text)
        except InvalidContactField:
            email = None
        if email:
            conditions += [Lead.email == email, Contact.email == email]
    if sum(ch.isdigit() for ch in text) >= 5:
        try:
            phone = normalise_phone(text, phone_region)
        except InvalidContactField:
            phone = None
        if phone:
            conditions += [Lead.phone == phone, Contact.phone == phone]
    if len(text) >= 2 and not text.isdigit():
        fragment = f"%{_escape_like(text.lower())}%"
        conditions += [
            func.lower(Lead.name).like(fragment, escape="\\"),
            func.lower(Contact.name).like(fragment, escape="\\"),
        ]
    if not conditions:
        return []
    rows = await session.scalars(
        select(Lead)
        .options(joinedload(Lead.owner))
        .outerjoin(Contact, Contact.id == Lead.contact_id)
        .where(or_(*conditions), Lead.merged_into_id.is_(None))
        .order_by(Lead.id.desc())
        .limit(FOUND_LIMIT)
    )
    return list(rows.unique().all())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
