"""Auto-close: leads left new or in call-back for `[sla] auto_close_after` (since their last
change) are closed as junk with the reason "stale" by the daily job (bot/reports/daily.py).

Closed in batches (one transaction each: the leads, their events, tasks and card refreshes),
so thousands of leads never make one giant transaction; each owner then gets one message
listing their leads, not one message per lead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.common.hook_events import HookEvent
from bot.common.lifecycle import CLOSED_EVENT, RULES, STALE_REASON, STALE_STATUSES, Action
from bot.common.outbox import card_refresh, enqueue, text_message
from bot.common.reasons import idle_age
from bot.common.webhooks import Happened, announce, lead_json, wanted
from bot.config import AppConfig
from bot.sla.lead_timers import lead_alert
from storage.models import Lead, LeadEvent, LeadStatus, Staff, Task

BATCH = 500  # leads closed per transaction
NOTICE_LINES = 50  # leads listed in an owner's message; the rest are counted ("and N more")

# the system's close is the machine's junk transition (from fewer statuses; a test checks)
STALE_TARGET = RULES[Action.JUNK].target or LeadStatus.JUNK

# Called at the start of each batch's transaction; False stops the closing (the daily run
# takes its lock there and stops when another instance has finished today's run).
BatchGuard = Callable[[AsyncSession], Awaitable[bool]]


@dataclass(frozen=True)
class StaleLead:
    id: int
    name: str | None
    phone: str | None
    email: str | None
    owner_id: int | None


def _stale(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [Lead.status.in_(STALE_STATUSES), Lead.updated_at <= cutoff]


async def close_stale_leads(
    session: AsyncSession, now: datetime, config: AppConfig, guard: BatchGuard | None = None
) -> list[int]:
    """Close every lead left new or in call-back since `now - auto_close_after` or earlier;
    the ids this call closed. Each batch commits on its own; the UPDATE re-checks status and
    age, so a lead someone touched meanwhile, or that another instance closed, is left alone."""
    after = config.sla.auto_close_after
    if after is None:
        return []
    cutoff = now - after
    closed: list[int] = []
    while True:
        if guard is not None and not await guard(session):
            await session.rollback()
            return closed
        candidates = list(
            (
                await session.scalars(
                    select(Lead.id).where(*_stale(cutoff)).order_by(Lead.id).limit(BATCH)
                )
            ).all()
        )
        closed += await _close_batch(session, candidates, cutoff, now, config)
        await session.commit()
        if len(candidates) < BATCH:
            return closed


async def _close_batch(
    session: AsyncSession,
    lead_ids: list[int],
    cutoff: datetime,
    now: datetime,
    config: AppConfig,
) -> list[int]:
    if not lead_ids:
        return []
    listening = wanted(config, HookEvent.LEAD_CLOSED, HookEvent.LEAD_STATUS_CHANGED)
    # a receiver hears the status each lead moved from: one UPDATE per source status then
    groups = [[status] for status in sorted(STALE_STATUSES)] if listening else [None]
    before: dict[int, LeadStatus] = {}
    for group in groups:
        changed = await session.execute(
            update(Lead)
            .where(
                Lead.id.in_(lead_ids),
                *_stale(cutoff),
                *([Lead.status.in_(group)] if group else []),
            )
            .values(**closed_without_staff(STALE_TARGET, STALE_REASON, now, config))
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        for lead_id in changed.scalars().all():
            before[lead_id] = LeadStatus(group[0]) if group else STALE_TARGET
    closed = sorted(before)
    if not closed:
        return []
    data = {"reason": STALE_REASON, "status": STALE_TARGET.value}
    await session.execute(
        insert(LeadEvent.__table__),
        [
            {
                "lead_id": lead_id,
                "kind": CLOSED_EVENT,
                "actor_id": None,
                "data": data,
                "created_at": now,
            }
            for lead_id in closed
        ],
    )
    await tasks_done(session, closed, now)
    await enqueue(session, [card_refresh(lead_id, now) for lead_id in closed])
    if listening:
        await _announce(session, closed, before, now, config)
    return closed


def closed_without_staff(
    target: LeadStatus, reason: str, now: datetime, config: AppConfig
) -> dict[str, Any]:
    """A lead's columns when the system (the auto-close) or the client (a cancelled request)
    closes it: no member of staff closed it, so it is nobody's outcome in the reports."""
    return {
        "status": target,
        "close_reason": reason,
        "close_comment": None,
        "closed_at": now,
        "closed_by_id": None,
        "updated_at": now,
        "version": Lead.version + 1,
        "offered_to_id": None,
        "offered_at": None,
        "waiting_since": None,
        **lead_alert(target, False, now, config),
    }


async def tasks_done(session: AsyncSession, lead_ids: list[int], now: datetime) -> None:
    """The closed leads' open tasks are done, and no longer alert."""
    await session.execute(
        update(Task)
        .where(Task.lead_id.in_(lead_ids), Task.done_at.is_(None))
        .values(done_at=now, alert_at=None)
        .execution_options(synchronize_session=False)
    )


async def _announce(
    session: AsyncSession,
    closed: list[int],
    before: dict[int, LeadStatus],
    now: datetime,
    config: AppConfig,
) -> None:
    """Each lead closed as stale, by the system (no actor): lead.closed, lead.status_changed."""
    leads = await session.scalars(
        select(Lead)
        .where(Lead.id.in_(closed))
        .options(joinedload(Lead.owner))
        .order_by(Lead.id)
        .execution_options(populate_existing=True)
    )
    data = {"status": STALE_TARGET.value, "reason": STALE_REASON, "comment": None}
    happened: list[Happened] = []
    for lead in leads:
        snapshot = lead_json(lead, lead.owner, config.currency)
        moved = {"from": str(before[lead.id]), "to": STALE_TARGET.value}
        happened += [
            Happened(HookEvent.LEAD_CLOSED, lead.id, snapshot, None, data),
            Happened(HookEvent.LEAD_STATUS_CHANGED, lead.id, snapshot, None, moved),
        ]
    await announce(session, config, happened, now)


async def stale_closed_since(session: AsyncSession, since: datetime) -> list[StaleLead]:
    """Leads closed as stale at `since` or later and still closed, by id."""
    found = await session.execute(
        select(Lead.id, Lead.name, Lead.phone, Lead.email, Lead.owner_id)
        .where(
            Lead.status == STALE_TARGET, Lead.close_reason == STALE_REASON, Lead.closed_at >= since
        )
        .order_by(Lead.id)
    )
    return [StaleLead(*row) for row in found]


async def stale_notices(
    session: AsyncSession, closed: list[StaleLead], config: AppConfig, now: datetime
) -> list[dict[str, Any]]:
    """One message per active owner listing their leads just closed as stale (the first
    NOTICE_LINES, then "and N more"); unowned leads are counted in the supervisors' digest."""
    by_owner: dict[int, list[StaleLead]] = {}
    for lead in closed:
        if lead.owner_id is not None:
            by_owner.setdefault(lead.owner_id, []).append(lead)
    if not by_owner:
        return []
    owners = (
        await session.scalars(
            select(Staff)
            .where(Staff.id.in_(list(by_owner)), Staff.is_active.is_(True))
            .order_by(Staff.id)
        )
    ).all()
    age = idle_age(config.sla.auto_close_after)
    rows = []
    for owner in owners:
        leads = by_owner[owner.id]
        shown = [
            {"id": lead.id, "name": lead.name, "phone": lead.phone, "email": lead.email}
            for lead in leads[:NOTICE_LINES]
        ]
        context = {"leads": shown, "total": len(leads), "more": len(leads) - len(shown), "age": age}
        rows.append(text_message(None, owner.telegram_id, owner.id, "stale_closed", context, now))
    return rows
