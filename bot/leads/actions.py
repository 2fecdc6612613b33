"""Lead lifecycle: the actions a manager takes on a lead, each one transaction."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.common.lifecycle import CLOSED_STATUSES, RULES, SUPERVISING, Action, may_act, next_status
from bot.common.outbox import card_refresh, enqueue
from bot.common.webhooks import announce
from bot.config import AppConfig, default_config
from bot.leads.announce import listened, transition_events
from bot.scoring.counts import closed_state, transition_counted
from bot.sequences.enrol import enrol
from bot.sequences.stops import StopReason, stop_lead_sequences
from bot.sla.lead_timers import record_work_waits, restarted_alert
from storage.models import (
    OPEN_STATUSES,
    Lead,
    LeadCard,
    LeadEvent,
    LeadStatus,
    Role,
    Staff,
    Task,
)

CLOSE_COMMENT_LIMIT = 1000  # characters of a close's words kept (the card shows fewer)


class Refusal(enum.StrEnum):
    """Why an action changed nothing; each has an alert template `refusal_<value>`."""

    NOT_FOUND = "not_found"
    ALREADY_TAKEN = "already_taken"
    CLOSED = "closed"
    NOT_YOURS = "not_yours"
    NOT_ALLOWED = "not_allowed"  # the role may not (a manager reopening)
    OUTDATED = "outdated"  # the lead's status no longer offers this (an old card's button)
    UNKNOWN_REASON = "unknown_reason"
    MISSING_FIELDS = "missing_fields"
    OFFERED_TO_OTHER = "offered_to_other"  # round robin: the lead is offered to someone else
    DEAL_NOT_MERGED = "deal_not_merged"  # a converted lead is never merged into another


@dataclass(frozen=True)
class ActionResult:
    lead: Lead | None
    refusal: Refusal | None = None
    # who holds the lead when the refusal is ALREADY_TAKEN / NOT_YOURS
    owner_name: str | None = None
    # the required fields still empty when the refusal is MISSING_FIELDS (DealField.field)
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def load_leads(session: AsyncSession, lead_ids: list[int]) -> list[Lead]:
    """The leads as they are now (never a stale copy from the session), owners loaded."""
    found = await session.scalars(
        select(Lead)
        .where(Lead.id.in_(lead_ids))
        .options(joinedload(Lead.owner), joinedload(Lead.offered_to))
        .execution_options(populate_existing=True)
    )
    return list(found.all())


async def load_lead(session: AsyncSession, lead_id: int) -> Lead | None:
    found = await load_leads(session, [lead_id])
    return found[0] if found else None


async def open_lead_counts(
    session: AsyncSession, staff_ids: list[int] | None = None, with_offers: bool = False
) -> dict[int, int]:
    """Open leads per person (of `staff_ids`, or everyone who has some). With offers, a lead
    offered to someone counts towards their load until they take it or it passes on."""
    holder = func.coalesce(Lead.owner_id, Lead.offered_to_id) if with_offers else Lead.owner_id
    whose = holder.in_(staff_ids) if staff_ids is not None else holder.is_not(None)
    counted = await session.execute(
        select(holder, func.count()).where(whose, Lead.status.in_(OPEN_STATUSES)).group_by(holder)
    )
    return {person: count for person, count in counted}


# the manager reached the client: the lead stops waiting for a first contact
CONTACT_ACTIONS = frozenset(
    {Action.SCHEDULE_CALL_BACK, Action.CALL_BACK_DONE, Action.QUALIFY, Action.CONVERT}
)


def _bump(now: datetime) -> dict[str, object]:
    return {"updated_at": now, "version": Lead.version + 1}


def why_refused(action: Action, lead: Lead | None, actor: Staff) -> ActionResult:
    """Explain, from the lead as it is now, why `actor` cannot do `action` to it."""
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    owner_name = lead.owner.name if lead.owner else None
    if next_status(action, LeadStatus(lead.status), lead.owner_id is not None) is None:
        if lead.status in CLOSED_STATUSES and action is not Action.REOPEN:
            return ActionResult(lead, Refusal.CLOSED)
        if action is Action.TAKE and lead.owner_id is not None:
            return ActionResult(lead, Refusal.ALREADY_TAKEN, owner_name)
        return ActionResult(lead, Refusal.OUTDATED)
    offered = lead.offered_to_id
    if (
        action in (Action.TAKE, Action.JUNK)
        and lead.owner_id is None
        and offered not in (None, actor.id)
        and actor.role not in SUPERVISING
    ):
        name = lead.offered_to.name if lead.offered_to else None
        return ActionResult(lead, Refusal.OFFERED_TO_OTHER, name)
    if not may_act(action, Role(actor.role), actor.id, lead.owner_id):
        if lead.owner_id is not None and action not in (Action.REOPEN, Action.REASSIGN):
            return ActionResult(lead, Refusal.NOT_YOURS, owner_name)
        return ActionResult(lead, Refusal.NOT_ALLOWED)
    return ActionResult(lead)


async def check_allowed(
    session: AsyncSession, lead_id: int, actor: Staff, action: Action
) -> ActionResult:
    """Before a picker or a dialogue: would `actor` be allowed to do `action` now?"""
    return why_refused(action, await load_lead(session, lead_id), actor)


def _permitted(action: Action, actor: Staff) -> list[ColumnElement[bool]]:
    """may_act() as a WHERE clause, so the check and the change are one statement."""
    if actor.role in SUPERVISING:
        return []
    if action in (Action.REOPEN, Action.REASSIGN):
        return [false()]
    if action in (Action.TAKE, Action.JUNK):
        offered_here = or_(Lead.offered_to_id.is_(None), Lead.offered_to_id == actor.id)
        return [or_(and_(Lead.owner_id.is_(None), offered_here), Lead.owner_id == actor.id)]
    return [Lead.owner_id == actor.id]


async def apply_action(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    action: Action,
    now: datetime,
    *,
    values: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    event_kind: str | None = None,
    then: Callable[[Lead], Awaitable[None]] | None = None,
    expected_version: int | None = None,
    config: AppConfig | None = None,
    reached_client: bool | None = None,
    announced: dict[str, Any] | None = None,
) -> ActionResult:
    """One transition as one transaction: a conditional UPDATE (status allows it, actor may do
    it), its event row, `then`'s rows, the refresh of every copy of the card and the webhook
    events it announces (`announced`: what they carry beyond the event's data). Of concurrent
    presses on a lead exactly one matches; the others are told why from the lead as it is.
    With `expected_version` the change applies only to the lead as the actor last saw it.
    `reached_client` overrides whether the action counts as contact with the client
    (CONTACT_ACTIONS); one that does not and keeps the status leaves the time limit running."""
    rule = RULES[action]
    kind = event_kind or action.value
    config_or_default = config or default_config()
    target: Any = rule.target or Lead.status
    if action is Action.REOPEN:
        target = case((Lead.owner_id.is_(None), LeadStatus.NEW), else_=LeadStatus.IN_WORK)
    if action is Action.REASSIGN:
        target = case((Lead.status == LeadStatus.NEW, LeadStatus.IN_WORK), else_=Lead.status)
    seen = [Lead.version == expected_version] if expected_version is not None else []
    # the lead's own time limit starts afresh with its new status (SET sees the old row)
    contact = action in CONTACT_ACTIONS if reached_client is None else reached_client
    contacted = true() if contact else Lead.contacted_at.is_not(None)
    timer: dict[str, Any] = {}
    if contact or target is not Lead.status:
        timer = restarted_alert(target, contacted, now, config_or_default)
    if contact:
        timer["contacted_at"] = func.coalesce(Lead.contacted_at, now)
    milestones = _milestones(action, kind, actor, values or {}, now)
    listening = listened(config_or_default, action, kind)
    before: LeadStatus | None = None
    # the lead score's counts take a reopened lead back: what it was, and when it closed
    reopened = await closed_state(session, lead_id) if action is Action.REOPEN else None
    for _ in range(3):
        # a receiver hears the status it moved from: read, then changed only from that status
        # (re-read if it moved meanwhile), so the UPDATE itself proves it
        if listening:
            before = await session.scalar(select(Lead.status).where(Lead.id == lead_id))
        known = before is not None and before in rule.sources
        changed = await session.execute(
            update(Lead)
            .where(
                Lead.id == lead_id,
                Lead.status == before if known else Lead.status.in_(rule.sources),
                *_permitted(action, actor),
                *seen,
            )
            .values(status=target, **timer, **(values or {}), **milestones, **_bump(now))
        )
        if changed.rowcount == 1 or not known:  # type: ignore[attr-defined]
            break
        now_status = await session.scalar(select(Lead.status).where(Lead.id == lead_id))
        if now_status == before or now_status not in rule.sources:
            break  # refused for another reason, or the status left the action's sources
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        lead = await load_lead(session, lead_id)
        await session.commit()  # ends the transaction (it wrote nothing), keeps `lead` loaded
        refused = why_refused(action, lead, actor)
        return refused if not refused.ok else ActionResult(lead, Refusal.OUTDATED)
    lead = await load_lead(session, lead_id)
    assert lead is not None
    record_work_waits(lead, config_or_default)
    await transition_counted(session, action, lead, reopened, config_or_default.zone)
    session.add(
        LeadEvent(
            lead=lead,
            kind=kind,
            actor_id=actor.id,
            data=event or {},
            created_at=now,
        )
    )
    if target is not Lead.status and action is not Action.REASSIGN:  # the status moved
        await stop_lead_sequences(session, [lead.id], StopReason.STATUS_CHANGED, now)
    if then is not None:  # more rows of the same change (a task), in the same transaction
        await then(lead)
    await enqueue(session, [card_refresh(lead.id, now)])
    if listening:
        data = {**(event or {}), **(announced or {})}
        happened = transition_events(action, kind, before, lead, actor, data, config_or_default)
        await announce(session, config_or_default, happened, now)
    await session.commit()
    return ActionResult(lead, owner_name=lead.owner.name if lead.owner else None)


QUALIFYING_EVENTS = ("qualified", "convert")


def _milestones(
    action: Action, kind: str, actor: Staff, values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What the transition adds to the lead's milestones (the columns reports read): the first
    owner (a take, or a reassign of a lead nobody had taken), the last closer, the first
    qualification (converting qualifies too; QUALIFY is also the rule of a call's outcome,
    which qualifies nothing: the event's kind tells them apart)."""
    milestones: dict[str, Any] = {}
    owner = actor.id if action is Action.TAKE else values.get("owner_id")
    if action in (Action.TAKE, Action.REASSIGN) and owner is not None:
        milestones["first_owner_id"] = func.coalesce(Lead.first_owner_id, owner)
        milestones["first_taken_at"] = func.coalesce(Lead.first_taken_at, now)
    if action in (Action.CONVERT, Action.REFUSE, Action.JUNK):
        milestones["closed_by_id"] = actor.id
    if kind in QUALIFYING_EVENTS:
        milestones["qualified_at"] = func.coalesce(Lead.qualified_at, now)
    return milestones


async def take_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    now: datetime,
    config: AppConfig | None = None,
    kept_copy: tuple[int, int] | None = None,
) -> ActionResult:
    """First press wins: of any number of presses exactly one finds the lead still new.

    `kept_copy` (chat id, message id): the card the press came from, which the caller redraws
    itself (with a picker on it); it is marked current in the same transaction, so the
    refresh of the other copies never replaces that picker."""
    taken = {
        "owner_id": actor.id,
        "taken_at": now,
        "offered_to_id": None,
        "offered_at": None,
        "waiting_since": None,
    }

    async def keep(lead: Lead) -> None:
        if kept_copy is None:
            return
        chat_id, message_id = kept_copy
        kept = await session.execute(
            update(LeadCard)
            .where(
                LeadCard.lead_id == lead.id,
                LeadCard.chat_id == chat_id,
                LeadCard.message_id == message_id,
            )
            .values(rendered_version=lead.version)
        )
        if kept.rowcount:  # type: ignore[attr-defined]
            return
        # pressed before the notifier recorded the card it sent: recorded here, as current,
        # so the notifier keeps this row and its refresh leaves the picker alone
        try:
            async with session.begin_nested():
                session.add(
                    LeadCard(
                        lead_id=lead.id,
                        chat_id=chat_id,
                        message_id=message_id,
                        staff_id=actor.id,
                        locale=actor.language or (config or default_config()).locale,
                        rendered_version=lead.version,
                        created_at=now,
                    )
                )
        except IntegrityError:  # the notifier recorded it meanwhile: that row is made current
            await session.execute(
                update(LeadCard)
                .where(LeadCard.lead_id == lead.id, LeadCard.chat_id == chat_id)
                .values(message_id=message_id, rendered_version=lead.version)
            )

    return await apply_action(
        session,
        lead_id,
        actor,
        Action.TAKE,
        now,
        values=taken,
        event_kind="taken",
        then=keep,
        config=config,
    )


async def take_if_new(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    now: datetime,
    config: AppConfig,
    kept_copy: tuple[int, int] | None = None,
) -> ActionResult | None:
    """A working press (Refuse, Reply) on a new lead's card takes it first, as Take would
    (first press wins); None when the lead is not new (the press goes on as it is)."""
    lead = await load_lead(session, lead_id)
    if lead is None or lead.status != LeadStatus.NEW:
        return None
    return await take_lead(session, lead_id, actor, now, config, kept_copy)


async def close_open_tasks(
    session: AsyncSession, lead_id: int, now: datetime, kind: str | None = None
) -> None:
    """Tasks of a lead that no longer wait for anything (of one kind, or all) are done."""
    kinds = [Task.kind == kind] if kind is not None else []
    await session.execute(
        update(Task)
        .where(Task.lead_id == lead_id, Task.done_at.is_(None), *kinds)
        .values(done_at=now)
    )


async def close_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    outcome: Action,
    reason: str,
    comment: str | None,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    """Junk (not our client) or refuse (our client said no), with a reason from the list and
    the manager's words (kept to CLOSE_COMMENT_LIMIT characters)."""
    if config.close_reason(outcome, reason) is None:
        return ActionResult(await load_lead(session, lead_id), Refusal.UNKNOWN_REASON)
    comment = (comment or "").strip()[:CLOSE_COMMENT_LIMIT] or None
    data = {"reason": reason, **({"comment": comment} if comment else {})}
    values = {
        "close_reason": reason,
        "close_comment": comment,
        "closed_at": now,
        "offered_to_id": None,
        "offered_at": None,
        "waiting_since": None,
    }

    async def nothing_waits(lead: Lead) -> None:
        await close_open_tasks(session, lead.id, now)
        if outcome is Action.REFUSE:  # a refusal's reason may start follow-ups ([[sequences]])
            await enrol(session, lead, reason, now, config)

    return await apply_action(
        session,
        lead_id,
        actor,
        outcome,
        now,
        values=values,
        event=data,
        then=nothing_waits,
        config=config,
    )


async def junk_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    reason: str,
    comment: str | None,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    return await close_lead(session, lead_id, actor, Action.JUNK, reason, comment, now, config)


async def reopen_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    now: datetime,
    config: AppConfig | None = None,
    then: Callable[[Lead], Awaitable[None]] | None = None,
) -> ActionResult:
    """A supervisor brings a closed lead back: to its owner's work, or to the pool. `then`:
    more rows of the same change (a client's answer to a follow-up marks the lead hot)."""
    values = {"close_reason": None, "close_comment": None, "closed_at": None}
    return await apply_action(
        session, lead_id, actor, Action.REOPEN, now, values=values, config=config, then=then
    )
