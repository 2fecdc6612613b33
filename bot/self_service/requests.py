"""A client's request made in the bot: the open one they have (and what it looks like to
them), and a new one from their picks, stored through the intake like any client message."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import InvalidContactField, normalise_phone
from bot.common.render import labels, local_time
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.self_service.slots import is_free_slot
from storage.models import (
    CALL_BACK_TASK,
    OPEN_STATUSES,
    TELEGRAM_SOURCE,
    Contact,
    Lead,
    LeadEvent,
    LeadStatus,
    Task,
)

CLIENT_TIME_EVENT = "client_time"  # the time a client picked for a call (data: at)
NAME_LIMIT = 200


class Stage(enum.StrEnum):
    """A request's status in the client's words."""

    RECEIVED = "received"  # nobody has taken it yet
    IN_WORK = "in_work"  # a manager is on it
    CALL_BACK = "call_back"  # a manager will call at `call_at`


class SelfRefusal(enum.StrEnum):
    """Why a client's press changed nothing; each has a text in client_refused.html.j2."""

    ALREADY_OPEN = "already_open"  # a second request while one is open
    NO_REQUEST = "no_request"  # nothing open to show, move, cancel or nudge
    NOT_THEIRS = "not_theirs"  # a forged, foreign or closed lead id
    SLOT_GONE = "slot_gone"  # the slot has passed meanwhile, or never was one
    SERVICE_GONE = "service_gone"  # the service is no longer offered
    BAD_PHONE = "bad_phone"
    TOO_SOON = "too_soon"  # "Still waiting?" again within nudge_every


@dataclass(frozen=True)
class RequestView:
    """The client's open request as they see it."""

    lead_id: int
    stage: Stage
    service: str | None
    call_at: datetime | None  # the call-back set, else the time the client picked (if ahead)


@dataclass(frozen=True)
class Outcome:
    """What a client's step did: done, or refused (with their open request when that is why)."""

    refusal: SelfRefusal | None = None
    lead_id: int | None = None
    view: RequestView | None = None
    next_at: datetime | None = None  # TOO_SOON: when they may nudge again

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def open_request(session: AsyncSession, telegram_id: int) -> Lead | None:
    """The client's newest open lead (the one their messages join), if any."""
    return await session.scalar(
        select(Lead)
        .join(Contact, Contact.id == Lead.contact_id)
        .where(
            Contact.telegram_id == telegram_id,
            Contact.merged_into_id.is_(None),
            Lead.status.in_(OPEN_STATUSES),
        )
        .order_by(Lead.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


async def their_open_lead(session: AsyncSession, telegram_id: int, lead_id: int) -> Lead | None:
    """Lead `lead_id` if it is this client's and still open: a forged or foreign id, or a
    closed request, is None."""
    lead = await open_request(session, telegram_id)
    return lead if lead is not None and lead.id == lead_id else None


async def request_view(session: AsyncSession, lead: Lead, now: datetime) -> RequestView:
    stage = {
        LeadStatus.NEW: Stage.RECEIVED,
        LeadStatus.IN_WORK: Stage.IN_WORK,
        LeadStatus.CALL_BACK: Stage.CALL_BACK,
    }[LeadStatus(lead.status)]
    call_at = None
    if stage is Stage.CALL_BACK:
        call_at = await session.scalar(
            select(Task.due_at)
            .where(Task.lead_id == lead.id, Task.kind == CALL_BACK_TASK, Task.done_at.is_(None))
            .order_by(Task.id.desc())
            .limit(1)
        )
    if call_at is None:
        picked = await session.scalar(
            select(LeadEvent.data)
            .where(LeadEvent.lead_id == lead.id, LeadEvent.kind == CLIENT_TIME_EVENT)
            .order_by(LeadEvent.id.desc())
            .limit(1)
        )
        if picked and isinstance(picked.get("at"), str):
            at = datetime.fromisoformat(picked["at"])
            call_at = at if at > now else None
        if stage is Stage.CALL_BACK and call_at is None:
            stage = Stage.IN_WORK
    return RequestView(lead.id, stage, lead.service, call_at)


async def my_request(session: AsyncSession, telegram_id: int, now: datetime) -> Outcome:
    lead = await open_request(session, telegram_id)
    if lead is None:
        return Outcome(SelfRefusal.NO_REQUEST)
    return Outcome(lead_id=lead.id, view=await request_view(session, lead, now))


async def check_picks(
    session: AsyncSession,
    telegram_id: int,
    service_code: str | None,
    at: datetime | None,
    now: datetime,
    config: AppConfig,
) -> Outcome:
    """May the client go on with these picks (so far): no request open, the service offered
    (one is picked when any are), the slot still free. Each step of the dialogue asks again."""
    lead = await open_request(session, telegram_id)
    if lead is not None:
        view = await request_view(session, lead, now)
        return Outcome(SelfRefusal.ALREADY_OPEN, view.lead_id, view)
    if config.services or service_code:
        if config.service(service_code or "") is None:
            return Outcome(SelfRefusal.SERVICE_GONE)
    if at is not None and not is_free_slot(at, now, config):
        return Outcome(SelfRefusal.SLOT_GONE)
    return Outcome()


async def their_request(
    session: AsyncSession, telegram_id: int, lead_id: int, now: datetime
) -> Outcome:
    """Request `lead_id` as its client sees it; NOT_THEIRS for a forged, foreign or closed
    one (a button of an old message)."""
    lead = await their_open_lead(session, telegram_id, lead_id)
    if lead is None:
        return Outcome(SelfRefusal.NOT_THEIRS)
    return Outcome(lead_id=lead.id, view=await request_view(session, lead, now))


def lead_message(at: datetime, config: AppConfig) -> str:
    """What the card's message says of the picked time, in the team's language: the card is
    read by managers, whatever language the client speaks."""
    words = labels(config.locale)["self_service"]
    return str(words["lead_message"]).format(at=local_time(at, config.zone, config.locale))


async def leave_request(
    session: AsyncSession,
    telegram_id: int,
    name: str | None,
    service_code: str | None,
    at: datetime,
    raw_phone: str,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None = None,
) -> Outcome:
    """A request from the client's picks: a lead with the service, the phone and the picked
    time (in its message, and as a `client_time` event for "My request"), through the intake
    like any client message (routing, card, webhooks). Refused while one is open, for a slot
    no longer free, a service no longer offered, a phone that is not one. Commits."""
    checked = await check_picks(session, telegram_id, service_code, at, now, config)
    if not checked.ok:
        return checked
    service = config.service(service_code or "")
    try:
        phone = normalise_phone(raw_phone, config.phone_region)
    except InvalidContactField:
        return Outcome(SelfRefusal.BAD_PHONE)
    item = LeadInput(
        source=TELEGRAM_SOURCE,
        name=(name or "")[:NAME_LIMIT] or None,
        phone=phone,
        # the label in the team's language: the card and reports read it as managers do
        service=service.label(config.locale) if service else None,
        message=lead_message(at, config),
        telegram_id=telegram_id,
        extra={"self_service": True, **({"service_code": service.code} if service else {})},
    )
    [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
    session.add(
        LeadEvent(
            lead_id=result.lead_id,
            kind=CLIENT_TIME_EVENT,
            actor_id=None,
            data={"at": at.isoformat()},
            created_at=now,
        )
    )
    await session.commit()
    return Outcome(lead_id=result.lead_id)
