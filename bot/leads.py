"""Lead lifecycle: the actions a manager takes on a lead, each one transaction."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.config import AppConfig
from bot.outbox import card_refresh, enqueue
from storage.models import OPEN_STATUSES, Lead, LeadEvent, LeadStatus, Role, Staff


class Refusal(enum.StrEnum):
    """Why an action changed nothing; each has an alert template `refusal_<value>`."""

    NOT_FOUND = "not_found"
    ALREADY_TAKEN = "already_taken"
    CLOSED = "closed"
    NOT_YOURS = "not_yours"
    UNKNOWN_REASON = "unknown_reason"


@dataclass(frozen=True)
class ActionResult:
    lead: Lead | None
    refusal: Refusal | None = None
    # who holds the lead when the refusal is ALREADY_TAKEN / NOT_YOURS
    owner_name: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def load_leads(session: AsyncSession, lead_ids: list[int]) -> list[Lead]:
    """The leads as they are now (never a stale copy from the session), owners loaded."""
    found = await session.scalars(
        select(Lead)
        .where(Lead.id.in_(lead_ids))
        .options(joinedload(Lead.owner))
        .execution_options(populate_existing=True)
    )
    return list(found.all())


async def load_lead(session: AsyncSession, lead_id: int) -> Lead | None:
    found = await load_leads(session, [lead_id])
    return found[0] if found else None


async def _refusal(
    session: AsyncSession, lead_id: int, owned_by_other: Refusal = Refusal.ALREADY_TAKEN
) -> ActionResult:
    """Explain, from the lead as it is now, why the action lost."""
    lead = await load_lead(session, lead_id)
    await session.commit()  # ends the transaction (it wrote nothing) and keeps `lead` loaded
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    if lead.status not in OPEN_STATUSES:
        return ActionResult(lead, Refusal.CLOSED)
    owner_name = lead.owner.name if lead.owner else None
    if lead.owner_id is not None:
        return ActionResult(lead, owned_by_other, owner_name)
    return ActionResult(lead, Refusal.NOT_YOURS)


def _bump(now: datetime) -> dict[str, object]:
    return {"updated_at": now, "version": Lead.version + 1}


async def take_lead(
    session: AsyncSession, lead_id: int, actor: Staff, now: datetime
) -> ActionResult:
    """First press wins: one conditional UPDATE, so of any number of presses exactly one
    finds the lead still unowned."""
    taken = await session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.owner_id.is_(None), Lead.status == LeadStatus.NEW)
        .values(owner_id=actor.id, status=LeadStatus.IN_WORK, taken_at=now, **_bump(now))
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return await _refusal(session, lead_id)
    lead = await load_lead(session, lead_id)
    assert lead is not None
    session.add(LeadEvent(lead=lead, kind="taken", actor_id=actor.id, created_at=now))
    await enqueue(session, [card_refresh(lead.id, now)])
    await session.commit()
    return ActionResult(lead, owner_name=actor.name)


def may_close(actor: Staff) -> list[object]:
    """A new lead may be junked by anyone on staff; an owned one by its owner or a supervisor."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return []
    return [or_(Lead.owner_id.is_(None), Lead.owner_id == actor.id)]


async def junk_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    reason: str,
    comment: str | None,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    """Throw a lead out as not our client, with a reason from the configured list."""
    if config.junk_reason(reason) is None:
        return ActionResult(await load_lead(session, lead_id), Refusal.UNKNOWN_REASON)
    junked = await session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.status.in_(OPEN_STATUSES), *may_close(actor))
        .values(
            status=LeadStatus.JUNK,
            close_reason=reason,
            close_comment=comment,
            closed_at=now,
            **_bump(now),
        )
    )
    if junked.rowcount != 1:  # type: ignore[attr-defined]
        return await _refusal(session, lead_id, Refusal.NOT_YOURS)
    lead = await load_lead(session, lead_id)
    assert lead is not None
    data = {"reason": reason, **({"comment": comment} if comment else {})}
    session.add(LeadEvent(lead=lead, kind="junk", actor_id=actor.id, data=data, created_at=now))
    await enqueue(session, [card_refresh(lead.id, now)])
    await session.commit()
    return ActionResult(lead, owner_name=lead.owner.name if lead.owner else None)


async def check_junk_allowed(session: AsyncSession, lead_id: int, actor: Staff) -> ActionResult:
    """Before showing the reason picker: would this person be allowed to junk the lead now?"""
    lead = await load_lead(session, lead_id)
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    if lead.status not in OPEN_STATUSES:
        return ActionResult(lead, Refusal.CLOSED)
    if may_close(actor) and lead.owner_id not in (None, actor.id):
        return ActionResult(lead, Refusal.NOT_YOURS, lead.owner.name if lead.owner else None)
    return ActionResult(lead)
