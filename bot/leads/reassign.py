"""A supervisor hands a lead to another manager: the picker's numbers, and the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import Action
from bot.common.outbox import card_message, enqueue, text_message
from bot.common.webhooks import person
from bot.config import AppConfig
from bot.leads.actions import ActionResult, Refusal, apply_action, load_lead, open_lead_counts
from storage.models import Lead, Role, Staff

WORKERS = (Role.MANAGER, Role.SUPERVISOR)


def may_own_leads(person: Staff | None) -> bool:
    """Managers and supervisors work leads; admins run the team and are given none."""
    return person is not None and person.is_active and person.role in WORKERS


@dataclass(frozen=True)
class Candidate:
    staff_id: int
    name: str
    open_leads: int
    on_duty: bool
    capacity: int | None


async def reassign_candidates(session: AsyncSession, lead: Lead) -> list[Candidate]:
    """Active managers (and supervisors, who may work leads too) other than the owner, the
    least loaded first."""
    people = await session.scalars(
        select(Staff).where(Staff.is_active.is_(True), Staff.role.in_(WORKERS)).order_by(Staff.id)
    )
    counts = await open_lead_counts(session)
    found = [
        Candidate(person.id, person.name, counts.get(person.id, 0), person.on_duty, person.capacity)
        for person in people
        if person.id != lead.owner_id
    ]
    return sorted(found, key=lambda c: (c.open_leads, c.name))


async def reassign_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    new_owner_id: int,
    seen_version: int,
    now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """Give the lead to `new_owner_id`. Applies only to the lead as the supervisor saw it in
    the picker (`seen_version`): of two supervisors reassigning at once, one wins and the
    other is told the lead changed. Old and new owner are told; the new one gets the card."""
    new_owner = await session.get(Staff, new_owner_id)
    if new_owner is None or not may_own_leads(new_owner):
        lead = await load_lead(session, lead_id)
        await session.commit()
        return ActionResult(lead, Refusal.NOT_ALLOWED)
    before = await load_lead(session, lead_id)
    old_owner = before.owner if before is not None else None
    if old_owner is not None and old_owner.id == new_owner_id:
        await session.commit()
        return ActionResult(before, Refusal.OUTDATED)

    async def tell_owners(lead: Lead) -> None:
        context = {"lead_id": lead.id, "by": actor.name, "to": new_owner.name}
        notes = [
            # the new owner's copy (from the pool) may be far up the chat: a fresh card, with
            # who gave it on top
            card_message(
                lead.id,
                new_owner.telegram_id,
                new_owner.id,
                now,
                fresh=True,
                headline=("reassigned_to_you", context),
            ),
        ]
        if old_owner is not None and old_owner.id != actor.id:
            notes.append(
                text_message(
                    lead.id, old_owner.telegram_id, old_owner.id, "reassigned_away", context, now
                )
            )
        await enqueue(session, notes)

    event = {"from": old_owner.id if old_owner else None, "to": new_owner.id}
    return await apply_action(
        session,
        lead_id,
        actor,
        Action.REASSIGN,
        now,
        values={
            "owner_id": new_owner.id,
            "taken_at": func.coalesce(Lead.taken_at, now),
            "offered_to_id": None,
            "offered_at": None,
        },
        event=event,
        event_kind="reassigned",
        then=tell_owners,
        expected_version=seen_version,
        config=config,
        announced={"from_owner": person(old_owner)},
    )
