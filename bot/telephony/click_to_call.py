"""The card's 📞 Call: the office PBX rings the manager's extension, then the client.

The core side: who may press, what must be known (the manager's extension, the client's
phone, a PBX), one call set up at a time per lead (bot/telephony/dial_hold.py), the request
to the PBX through a `Dialer` (the adapter: bot/adapters/pbx/dialer.py), and the lead's
`call_requested` event. The call itself is recorded when the PBX reports it (its webhooks:
bot/telephony/calls.record_call), which also ends the hold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_STATUSES
from bot.config import AppConfig
from bot.leads.actions import ActionResult, Refusal, load_lead
from bot.telephony.dial_hold import claim_dial, release_dial
from storage.models import Lead, LeadEvent, LeadStatus, Staff

CALL_REQUESTED_EVENT = "call_requested"
# the lead's statuses whose owner's card has 📞 Call
DIALLING_STATUSES = frozenset({LeadStatus.IN_WORK, LeadStatus.CALL_BACK})


@dataclass(frozen=True)
class Dialled:
    """What the PBX said to a call request. `message`: its words when it refused (Zadarma's
    `message`, Mango's result code), or what went wrong on the way (time-out, HTTP 503)."""

    ok: bool
    unreachable: bool = False  # no usable answer: network, time-out, 5xx, unreadable
    message: str | None = None


class Dialer(Protocol):
    """A PBX that can ring an extension and then a number (the adapters implement it)."""

    @property
    def provider(self) -> str: ...

    async def dial(self, extension: str, phone: str) -> Dialled: ...


class DialOutcome(enum.StrEnum):
    """What a press came to; each but `refused_action` has an alert `dial_<value>`."""

    CALLING = "calling"
    NO_EXTENSION = "no_extension"
    NO_PHONE = "no_phone"
    NOT_CONFIGURED = "not_configured"
    IN_PROGRESS = "in_progress"  # a call is being set up for this lead already
    PBX_REFUSED = "pbx_refused"
    PBX_UNREACHABLE = "pbx_unreachable"
    REFUSED_ACTION = "refused_action"  # not the owner, closed, gone: `refusal` says


@dataclass(frozen=True)
class DialResult:
    outcome: DialOutcome
    lead_id: int
    refusal: ActionResult | None = None  # REFUSED_ACTION: why, as every card action says it
    message: str | None = None  # PBX_REFUSED / PBX_UNREACHABLE: the PBX's words
    extension: str | None = None


def dial_number(lead: Lead) -> str | None:
    """The number the PBX is asked to ring: the lead's phone (E.164 as stored)."""
    return lead.phone or None


def may_dial(lead: Lead | None, actor: Staff) -> ActionResult:
    """Only the lead's owner calls from its card, while it is worked."""
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    owner = lead.owner.name if lead.owner else None
    if lead.status in CLOSED_STATUSES:
        return ActionResult(lead, Refusal.CLOSED)
    if lead.owner_id is not None and lead.owner_id != actor.id:
        return ActionResult(lead, Refusal.NOT_YOURS, owner)
    if lead.status not in DIALLING_STATUSES or lead.owner_id is None:
        return ActionResult(lead, Refusal.OUTDATED)
    return ActionResult(lead, owner_name=owner)


async def request_call(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    dialer: Dialer | None,
    now: datetime,
    config: AppConfig,
) -> DialResult:
    """Ask the PBX to ring `actor`'s extension and then the lead's client. Checked against the
    lead as it is now; the hold is committed before the PBX is asked and released if it does
    not take the call; a call it took is the lead's `call_requested` event (committed)."""
    lead = await load_lead(session, lead_id)
    await session.commit()  # ends the read: the claim and the PBX request come next
    allowed = may_dial(lead, actor)
    if not allowed.ok or lead is None:
        return DialResult(DialOutcome.REFUSED_ACTION, lead_id, refusal=allowed)
    extension = (actor.extension or "").strip()
    if not extension:
        return DialResult(DialOutcome.NO_EXTENSION, lead_id)
    phone = dial_number(lead)
    if phone is None:
        return DialResult(DialOutcome.NO_PHONE, lead_id)
    if dialer is None:
        return DialResult(DialOutcome.NOT_CONFIGURED, lead_id)
    token = await claim_dial(session, lead_id, actor.id, now, config.telephony.hold)
    if token is None:
        return DialResult(DialOutcome.IN_PROGRESS, lead_id)
    try:
        dialled = await dialer.dial(extension, phone)
    except Exception:  # a dialer maps its failures to Dialled: this is a bug, and frees it
        await release_dial(session, lead_id, token, now)
        raise
    if not dialled.ok:
        await release_dial(session, lead_id, token, now)
        outcome = DialOutcome.PBX_UNREACHABLE if dialled.unreachable else DialOutcome.PBX_REFUSED
        return DialResult(outcome, lead_id, message=dialled.message, extension=extension)
    session.add(
        LeadEvent(
            lead_id=lead_id,
            kind="call_requested",  # CALL_REQUESTED_EVENT (a literal: the labels test reads it)
            actor_id=actor.id,
            data={"phone": phone, "extension": extension, "provider": dialer.provider},
            created_at=now,
        )
    )
    # a step of the work, as a note is: the lead is not stalled (the card does not change)
    await session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=now))
    await session.commit()
    return DialResult(DialOutcome.CALLING, lead_id, extension=extension)
