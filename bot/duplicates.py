"""Possible duplicates and merging: the same person written twice with a slightly different
phone ("Ivan Petrov" +7 900 123-45-67 and +7 900 123-45-76) is flagged on the card; a
supervisor merges the two (events and leads move to the survivor; nothing is deleted)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.leads import ActionResult, Refusal, close_open_tasks, load_lead
from bot.lifecycle import SUPERVISING
from bot.outbox import card_refresh, enqueue
from storage.models import Contact, Lead, LeadEvent, LeadStatus, Staff, Task

_SPACES = re.compile(r"\s+")
NAME_KEY_LIMIT = 200


def name_key(name: str | None) -> str | None:
    """A name folded for comparison: case, spacing and ё do not make two people."""
    if not name:
        return None
    folded = _SPACES.sub(" ", name.casefold().replace("ё", "е")).strip()
    return folded[:NAME_KEY_LIMIT] or None


def similar_phones(a: str | None, b: str | None) -> bool:
    """Two different numbers one slip of a finger apart: one digit wrong, or two neighbours
    swapped (same length)."""
    if not a or not b or a == b or len(a) != len(b):
        return False
    wrong = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(wrong) == 1:
        return True
    if len(wrong) != 2:
        return False
    first, second = wrong
    return second == first + 1 and a[first] == b[second] and a[second] == b[first]


async def flag_possible_duplicates(
    session: AsyncSession, leads: Sequence[tuple[int, int, str | None, str | None]]
) -> dict[int, int]:
    """For new leads (id, contact id, name, phone) of contacts just created: the earlier lead
    of a person with the same name and a similar phone. Flags them; {lead id: earlier id}."""
    keyed = {lead_id: (contact_id, name_key(name), phone)
             for lead_id, contact_id, name, phone in leads if name_key(name) and phone}  # fmt: skip
    if not keyed:
        return {}
    keys = {key for _, key, _ in keyed.values()}
    fresh = {contact_id for contact_id, _, _ in keyed.values()}
    people = await session.execute(
        select(Contact.id, Contact.name_key, Contact.phone)
        .where(Contact.name_key.in_(keys), Contact.id.not_in(fresh),
               Contact.merged_into_id.is_(None))
    )  # fmt: skip
    by_key: dict[str, list[tuple[int, str | None]]] = {}
    for contact_id, key, phone in people:
        by_key.setdefault(key, []).append((contact_id, phone))
    twins = {
        lead_id: [cid for cid, other in by_key.get(key or "", []) if similar_phones(phone, other)]
        for lead_id, (_, key, phone) in keyed.items()
    }
    wanted = {cid for found in twins.values() for cid in found}
    if not wanted:
        return {}
    latest = dict((await session.execute(
        select(Lead.contact_id, func.max(Lead.id))
        .where(Lead.contact_id.in_(wanted), Lead.merged_into_id.is_(None))
        .group_by(Lead.contact_id)
    )).all())  # fmt: skip
    flagged: dict[int, int] = {}
    for lead_id, found in twins.items():
        earlier = [latest[cid] for cid in found if cid in latest and latest[cid] < lead_id]
        if earlier:
            flagged[lead_id] = max(earlier)
    for lead_id, earlier in flagged.items():
        await session.execute(
            update(Lead).where(Lead.id == lead_id).values(possible_duplicate_of_id=earlier)
        )
    return flagged


async def merge_proposal(
    session: AsyncSession, lead_id: int, actor: Staff
) -> tuple[ActionResult, int | None]:
    """Before the Merge confirmation: may `actor` merge this flagged lead, and into which?"""
    lead = await load_lead(session, lead_id)
    if actor.role not in SUPERVISING:
        return ActionResult(lead, Refusal.NOT_ALLOWED), None
    if lead is None or lead.possible_duplicate_of_id is None:
        return ActionResult(lead, Refusal.OUTDATED), None
    return ActionResult(lead), lead.possible_duplicate_of_id


async def merge_leads(
    session: AsyncSession, lead_id: int, into_id: int, actor: Staff, now: datetime
) -> ActionResult:
    """Merge lead `lead_id` into `into_id` (the survivor), one transaction: its history and
    tasks move over, it is closed as a duplicate and marked merged; the two people become one
    contact when they were two. Supervisors only; the survivor is returned."""
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
    closed = await session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.merged_into_id.is_(None))
        .values(merged_into_id=into_id, status=LeadStatus.JUNK, close_reason="duplicate",
                closed_at=now, possible_duplicate_of_id=None, offered_to_id=None,
                offered_at=None, waiting_since=None, version=Lead.version + 1, updated_at=now,
                alert_at=None, alert_level=0, alert_since=None)
    )  # fmt: skip
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        await session.commit()
        return ActionResult(survivor, Refusal.OUTDATED)  # merged meanwhile
    # its promises end with it (the survivor's own call-back stands); the rows move over
    await close_open_tasks(session, lead_id, now)
    await session.execute(update(Task).where(Task.lead_id == lead_id).values(lead_id=into_id))
    await session.execute(
        update(LeadEvent).where(LeadEvent.lead_id == lead_id).values(lead_id=into_id)
    )
    await _merge_contacts(session, loser.contact_id, survivor.contact_id)
    data: dict[str, Any] = {"from": lead_id}
    session.add(LeadEvent(lead_id=into_id, kind="merged", actor_id=actor.id, data=data,
                          created_at=now))  # fmt: skip
    session.add(LeadEvent(lead_id=lead_id, kind="merged_into", actor_id=actor.id,
                          data={"into": into_id}, created_at=now))  # fmt: skip
    await session.execute(
        update(Lead).where(Lead.id == into_id)
        .values(possible_duplicate_of_id=None, version=Lead.version + 1, updated_at=now)
    )  # fmt: skip
    await enqueue(session, [card_refresh(lead_id, now), card_refresh(into_id, now)])
    await session.commit()
    return ActionResult(await load_lead(session, into_id))


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
