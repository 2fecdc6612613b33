"""What a client does to their open request: move its call, cancel it, nudge the team.

Each re-checks, from the database, that the lead is the client's and still open (a forged or
foreign id, or a request closed meanwhile, changes nothing). Staff hear of each step.

A cancel is not the managers' close core (bot/leads/actions.close_lead): that takes a member
of staff as the actor and refuses only leads in work, while a client may cancel a request
nobody has taken yet. It is the same transition the system makes for stale leads
(bot/sla/stale.py): one conditional UPDATE from any open status, with no actor (webhooks say
`actor: null`, "the system or a client"), `closed_by_id` empty (nobody's outcome in the
reports), its event, the tasks done, the card refreshed and webhooks announced.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.common.hook_events import HookEvent
from bot.common.lifecycle import CLIENT_CANCELLED_REASON, SUPERVISING
from bot.common.outbox import card_refresh, enqueue, text_message
from bot.common.render import local_time
from bot.common.webhooks import Happened, announce, lead_json, wanted
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.call_backs import schedule_call_back
from bot.self_service.requests import (
    CLIENT_TIME_EVENT,
    Outcome,
    SelfRefusal,
    lead_message,
    their_open_lead,
)
from bot.self_service.slots import is_free_slot
from bot.sla.stale import closed_without_staff, tasks_done
from storage.models import (
    TELEGRAM_SOURCE,
    Lead,
    LeadEvent,
    LeadStatus,
    Staff,
)

CLIENT_CANCELLED = CLIENT_CANCELLED_REASON  # a system reason: not in the managers' picker
CANCELLED_EVENT = "client_cancelled"
NUDGED_EVENT = "client_nudged"
MOVED_EVENT = CLIENT_TIME_EVENT


async def _staff_to_tell(session: AsyncSession, lead: Lead) -> list[Staff]:
    """Who hears of a client's step: the owner; while nobody owns it, the supervisors."""
    if lead.owner_id is not None:
        owner = await session.get(Staff, lead.owner_id)
        return [owner] if owner is not None and owner.is_active else []
    found = await session.scalars(
        select(Staff)
        .where(Staff.role.in_(SUPERVISING), Staff.is_active.is_(True))
        .order_by(Staff.id)
    )
    return list(found.all())


async def _tell(
    session: AsyncSession,
    lead: Lead,
    template: str,
    context: dict[str, object],
    now: datetime,
) -> None:
    people = await _staff_to_tell(session, lead)
    await enqueue(
        session,
        [
            text_message(lead.id, person.telegram_id, person.id, template, context, now)
            for person in people
        ],
    )


async def move_call(
    session: AsyncSession,
    telegram_id: int,
    lead_id: int,
    at: datetime,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None = None,
) -> Outcome:
    """The client picks another time. A lead in call-back moves its call-back (the owner's
    call-back core: the task, the card, webhooks); a lead not yet there hears the new time as
    the client's next message (the intake: its card, its owner told). Commits."""
    lead = await their_open_lead(session, telegram_id, lead_id)
    if lead is None:
        return Outcome(SelfRefusal.NOT_THEIRS)
    if not is_free_slot(at, now, config):
        return Outcome(SelfRefusal.SLOT_GONE, lead.id)
    if lead.status == LeadStatus.CALL_BACK and lead.owner_id is not None:
        owner = await session.get(Staff, lead.owner_id)
        assert owner is not None
        # the owner's own call-back, moved at the client's word (the event below says so)
        moved = await schedule_call_back(session, lead.id, owner, at, now, config)
        if not moved.ok:  # it left call-back meanwhile
            return Outcome(SelfRefusal.NOT_THEIRS)
        local = local_time(at, config.zone, owner.language or config.locale)
        await _tell(session, lead, "client_moved_call", {"lead_id": lead.id, "at": local}, now)
    else:
        item = LeadInput(
            source=TELEGRAM_SOURCE, message=lead_message(at, config), telegram_id=telegram_id
        )
        await intake_leads(session, [item], now, None, config, commit=False)
    session.add(
        LeadEvent(
            lead_id=lead.id,
            kind=MOVED_EVENT,
            actor_id=None,
            data={"at": at.isoformat()},
            created_at=now,
        )
    )
    await session.commit()
    return Outcome(lead_id=lead.id)


async def cancel_request(
    session: AsyncSession,
    telegram_id: int,
    lead_id: int,
    now: datetime,
    config: AppConfig,
) -> Outcome:
    """The client cancels their open request: refused with reason `client_cancelled`, the
    owner (or the supervisors) told. Of two presses one closes it. Commits."""
    lead = await their_open_lead(session, telegram_id, lead_id)
    if lead is None:
        return Outcome(SelfRefusal.NOT_THEIRS)
    before = LeadStatus(lead.status)
    target = LeadStatus.REFUSED
    changed = await session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.status == before)
        .values(**closed_without_staff(target, CLIENT_CANCELLED, now, config))
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()  # closed by someone else meanwhile
        return Outcome(SelfRefusal.NOT_THEIRS)
    data = {"reason": CLIENT_CANCELLED, "status": target.value}
    session.add(
        LeadEvent(lead_id=lead.id, kind=CANCELLED_EVENT, actor_id=None, data=data, created_at=now)
    )
    await tasks_done(session, [lead.id], now)
    await enqueue(session, [card_refresh(lead.id, now)])
    await _tell(session, lead, "client_cancelled", {"lead_id": lead.id}, now)
    await _announce_closed(session, lead.id, before, now, config)
    await session.commit()
    return Outcome(lead_id=lead.id)


async def _announce_closed(
    session: AsyncSession, lead_id: int, before: LeadStatus, now: datetime, config: AppConfig
) -> None:
    if not wanted(config, HookEvent.LEAD_CLOSED, HookEvent.LEAD_STATUS_CHANGED):
        return
    lead = await session.scalar(
        select(Lead)
        .where(Lead.id == lead_id)
        .options(joinedload(Lead.owner))
        .execution_options(populate_existing=True)
    )
    assert lead is not None
    snapshot = lead_json(lead, lead.owner, config.currency)
    closed = {"status": str(lead.status), "reason": CLIENT_CANCELLED, "comment": None}
    moved = {"from": str(before), "to": str(lead.status)}
    await announce(
        session,
        config,
        [
            Happened(HookEvent.LEAD_CLOSED, lead.id, snapshot, None, closed),
            Happened(HookEvent.LEAD_STATUS_CHANGED, lead.id, snapshot, None, moved),
        ],
        now,
    )


async def nudge_team(
    session: AsyncSession,
    telegram_id: int,
    lead_id: int,
    now: datetime,
    config: AppConfig,
) -> Outcome:
    """ "Still waiting?": the owner (or, while nobody owns it, the supervisors) is reminded of
    the request, at most once per `[self_service] nudge_every`; each nudge is a
    `client_nudged` event (reports count them). Commits."""
    lead = await their_open_lead(session, telegram_id, lead_id)
    if lead is None:
        return Outcome(SelfRefusal.NOT_THEIRS)
    # two presses at once: the second waits for the first's row lock, then sees its event
    await session.execute(select(Lead.id).where(Lead.id == lead.id).with_for_update())
    last = await session.scalar(
        select(LeadEvent.created_at)
        .where(LeadEvent.lead_id == lead.id, LeadEvent.kind == NUDGED_EVENT)
        .order_by(LeadEvent.id.desc())
        .limit(1)
    )
    every = config.self_service.nudge_every
    if last is not None and now < last + every:
        lead_id = lead.id
        await session.rollback()  # lets the row go
        return Outcome(SelfRefusal.TOO_SOON, lead_id, next_at=last + every)
    session.add(
        LeadEvent(lead_id=lead.id, kind=NUDGED_EVENT, actor_id=None, data={}, created_at=now)
    )
    await _tell(session, lead, "client_nudged", {"lead_id": lead.id, "client": lead.name}, now)
    await session.commit()
    return Outcome(lead_id=lead.id)
