"""Merging two leads of one person: a supervisor joins a flagged duplicate into the earlier
lead (events and tasks move to the survivor, the two contacts become one; nothing is deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.hook_events import HookEvent
from bot.common.lifecycle import RULES, SUPERVISING, Action
from bot.common.outbox import card_refresh, enqueue
from bot.common.webhooks import Happened, announce, lead_json, person, wanted
from bot.config import AppConfig, default_config
from bot.leads.actions import ActionResult, Refusal, close_open_tasks, load_lead
from bot.sequences.stops import StopReason, stop_lead_sequences
from storage.models import Contact, Lead, LeadEvent, LeadStatus, Staff, Task


async def merge_proposal(
    session: AsyncSession, lead_id: int, actor: Staff
) -> tuple[ActionResult, int | None]:
    """Before the Merge confirmation: may `actor` merge this flagged lead, and into which?"""
    lead = await load_lead(session, lead_id)
    if actor.role not in SUPERVISING:
        return ActionResult(lead, Refusal.NOT_ALLOWED), None
    if lead is None or lead.possible_duplicate_of_id is None:
        return ActionResult(lead, Refusal.OUTDATED), None
    if lead.status == LeadStatus.CONVERTED:
        return ActionResult(lead, Refusal.DEAL_NOT_MERGED), None
    return ActionResult(lead), lead.possible_duplicate_of_id


async def merge_leads(
    session: AsyncSession,
    lead_id: int,
    into_id: int,
    actor: Staff,
    now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """Merge lead `lead_id` into `into_id` (the survivor), one transaction: its history and
    tasks move over, it is closed as a duplicate and marked merged; the two people become one
    contact when they were two. Supervisors only; the survivor is returned.

    The merged lead's status follows the lifecycle: an open one is junked as a duplicate (as
    Junk would), a refused or junk one keeps its status and reason, and a converted one (a deal)
    is refused: merge the other lead into it instead."""
    if actor.role not in SUPERVISING:
        return ActionResult(await load_lead(session, lead_id), Refusal.NOT_ALLOWED)
    if lead_id == into_id:
        return ActionResult(await load_lead(session, lead_id), Refusal.OUTDATED)
    loser, survivor = await load_lead(session, lead_id), await load_lead(session, into_id)
    if loser is None or survivor is None:
        await session.commit()
        return ActionResult(survivor or loser, Refusal.NOT_FOUND)
    if loser.merged_into_id is not None or survivor.merged_into_id is not None:
        await session.commit()
        return ActionResult(survivor, Refusal.OUTDATED)
    if loser.status == LeadStatus.CONVERTED:
        await session.commit()
        return ActionResult(loser, Refusal.DEAL_NOT_MERGED)
    junked = Lead.status.in_(RULES[Action.JUNK].sources)  # still open: closed as a duplicate
    rules = config or default_config()
    listening = wanted(rules, HookEvent.LEAD_CLOSED, HookEvent.LEAD_STATUS_CHANGED)
    # a receiver hears the status it moved from: the UPDATE changes only the status read
    was = LeadStatus(loser.status)
    as_read = [Lead.status == was] if listening else []
    closed = await session.execute(
        update(Lead)
        .where(
            Lead.id == lead_id,
            Lead.merged_into_id.is_(None),
            Lead.status != LeadStatus.CONVERTED,  # converted meanwhile: never merged away
            *as_read,
        )
        .values(
            merged_into_id=into_id,
            status=case((junked, LeadStatus.JUNK), else_=Lead.status),
            close_reason=case((junked, "duplicate"), else_=Lead.close_reason),
            closed_at=func.coalesce(Lead.closed_at, now),
            closed_by_id=actor.id,  # the merge is its last close (as its merged_into event)
            possible_duplicate_of_id=None,
            offered_to_id=None,
            offered_at=None,
            waiting_since=None,
            version=Lead.version + 1,
            updated_at=now,
            alert_at=None,
            alert_level=0,
            alert_since=None,
        )
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        await session.commit()
        return ActionResult(survivor, Refusal.OUTDATED)  # merged meanwhile
    # its promises end with it (the survivor's own call-back stands); the rows move over
    await close_open_tasks(session, lead_id, now)
    await stop_lead_sequences(session, [lead_id, into_id], StopReason.MERGED, now)
    await session.execute(update(Task).where(Task.lead_id == lead_id).values(lead_id=into_id))
    await session.execute(
        update(LeadEvent).where(LeadEvent.lead_id == lead_id).values(lead_id=into_id)
    )
    await _merge_contacts(session, loser.contact_id, survivor.contact_id)
    data: dict[str, Any] = {"from": lead_id}
    session.add(
        LeadEvent(lead_id=into_id, kind="merged", actor_id=actor.id, data=data, created_at=now)
    )
    session.add(
        LeadEvent(
            lead_id=lead_id,
            kind="merged_into",
            actor_id=actor.id,
            data={"into": into_id},
            created_at=now,
        )
    )
    await session.execute(
        update(Lead)
        .where(Lead.id == into_id)
        .values(possible_duplicate_of_id=None, version=Lead.version + 1, updated_at=now)
    )
    await enqueue(session, [card_refresh(lead_id, now), card_refresh(into_id, now)])
    if listening and was in RULES[Action.JUNK].sources:
        await _announce_closed(session, lead_id, into_id, was, actor, now, rules)
    await session.commit()
    return ActionResult(await load_lead(session, into_id))


async def _announce_closed(
    session: AsyncSession,
    lead_id: int,
    into_id: int,
    before: LeadStatus,
    actor: Staff,
    now: datetime,
    config: AppConfig,
) -> None:
    """The merged lead was open: it closed as a duplicate of the survivor."""
    merged = await load_lead(session, lead_id)
    assert merged is not None  # leads are never deleted
    snapshot = lead_json(merged, merged.owner, config.currency)
    who = person(actor)
    closed = {"status": str(merged.status), "reason": "duplicate", "merged_into": into_id}
    moved = {"from": str(before), "to": str(merged.status)}
    await announce(
        session,
        config,
        [
            Happened(HookEvent.LEAD_CLOSED, lead_id, snapshot, who, closed),
            Happened(HookEvent.LEAD_STATUS_CHANGED, lead_id, snapshot, who, moved),
        ],
        now,
    )


async def _merge_contacts(session: AsyncSession, loser: int | None, survivor: int | None) -> None:
    """Everything of the loser's person moves to the survivor's; the survivor learns the
    fields it lacked. The loser's contact stays, marked merged."""
    if loser is None or survivor is None or loser == survivor:
        return
    gone = await session.get(Contact, loser)
    kept = await session.get(Contact, survivor)
    if gone is None or kept is None:
        return
    for name in ("name", "phone", "email", "telegram_id", "name_key"):
        if getattr(kept, name) is None and getattr(gone, name) is not None:
            setattr(kept, name, getattr(gone, name))
    gone.merged_into_id = survivor
    await session.execute(update(Lead).where(Lead.contact_id == loser).values(contact_id=survivor))
