"""Telephony: call events (POST /api/v1/calls, PBX webhooks) recorded against leads.

A missed incoming call becomes a call-back task on the caller's lead (opened if needed); more
missed calls from the number count on the same open task; an answered call with the number
completes it. Every call is an event in the lead's history.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import InvalidContactField, normalise_phone
from bot.common.hook_events import HookEvent
from bot.common.outbox import card_refresh, enqueue, text_message
from bot.common.render import short_time
from bot.common.webhooks import Happened, announce, lead_json, wanted
from bot.config import AlertKind, AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import load_lead
from bot.sla.deadlines import alert_time
from bot.sla.lead_timers import contact_made
from bot.telephony.dial_hold import call_reported
from bot.telephony.recordings import link_waiting
from storage.models import (
    MISSED_CALL_TASK,
    OPEN_STATUSES,
    Call,
    Contact,
    Lead,
    LeadEvent,
    Staff,
    Task,
)

CALL_SOURCE = "call"  # Lead.source of a lead a phone call opened
MAX_CALL_ID = 128
MAX_STAFF = 64
MAX_DURATION = 7 * 24 * 3600


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class CallStatus(enum.StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


# an incoming call with one of these outcomes wants calling back
UNANSWERED = frozenset({CallStatus.MISSED, CallStatus.BUSY, CallStatus.NO_ANSWER})


_Choice = TypeVar("_Choice", bound=enum.StrEnum)


class CallError(ValueError):
    """A call event that cannot be read; `field` says which field is wrong."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CallEvent:
    call_id: str
    direction: Direction
    status: CallStatus
    from_phone: str | None  # E.164 when it reads as a phone; an extension stays as given
    to_phone: str | None
    started_at: datetime
    duration: int
    staff: str | None = None  # a Telegram id or a PBX extension
    provider: str = "api"
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def client_phone(self) -> str | None:
        """The outside party: who called in, or who was called."""
        return self.from_phone if self.direction is Direction.IN else self.to_phone


@dataclass(frozen=True)
class CallResult:
    call_id: str
    status: str
    duplicate: bool  # the same (call_id, status) was recorded before: nothing changed
    lead_id: int | None = None
    task_id: int | None = None
    lead_created: bool = False
    task_completed: bool = False  # an answered call closed an open missed-call task

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "status": self.status,
            "recorded": not self.duplicate,
            "duplicate": self.duplicate,
            "lead_id": self.lead_id,
            "task_id": self.task_id,
            "lead_created": self.lead_created,
            "task_completed": self.task_completed,
        }


def _text(data: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CallError(name, f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallError(name, f"{name} must be a string")
    text = str(value).strip()
    if any(ord(char) < 32 for char in text):  # PostgreSQL text cannot even hold a NUL
        raise CallError(name, f"{name} contains control characters")
    if len(text) > limit:
        raise CallError(name, f"{name} is longer than {limit} characters")
    return text


def _choice(data: Mapping[str, Any], name: str, kind: type[_Choice]) -> _Choice:
    value = _text(data, name, 32)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(item.value for item in kind)
        raise CallError(name, f"{name} must be one of: {allowed}") from None


def party_phone(raw: str | None, region: str, name: str, strict: bool = True) -> str | None:
    """A party of the call: a phone in E.164, or a short internal number kept as it is. Our
    own side (`strict=False`) may be anything the PBX calls it (a SIP name): kept as text."""
    if raw is None:
        return None
    digits = raw.lstrip("+")
    if digits.isdigit() and len(digits) <= 5:
        return digits  # an extension ("101"): not a client's phone
    try:
        return normalise_phone(raw, region)
    except InvalidContactField as exc:
        if not strict:
            return raw[:32]
        raise CallError(name, str(exc)) from None


def parse_started_at(value: Any) -> datetime:
    if isinstance(value, bool) or value is None or value == "":
        raise CallError("started_at", "started_at is required")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise CallError("started_at", "started_at is out of range") from None
    if not isinstance(value, str):
        raise CallError("started_at", "started_at must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip()[:64].replace("Z", "+00:00"))
    except ValueError:
        raise CallError("started_at", "started_at must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CallError("started_at", "started_at needs a time zone (e.g. Z or +03:00)")
    return moment.astimezone(UTC)


def parse_duration(value: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        seconds = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        raise CallError("duration", "duration must be a whole number of seconds") from None
    if not 0 <= seconds <= MAX_DURATION:
        raise CallError("duration", "duration must be between 0 and a week, in seconds")
    return seconds


def parse_call_event(
    data: Any, region: str, provider: str = "api", raw: dict[str, Any] | None = None
) -> CallEvent:
    """One call event of the API's shape, validated; CallError names the first bad field."""
    if not isinstance(data, Mapping):
        raise CallError(None, "each call event must be a JSON object")
    call_id = _text(data, "call_id", MAX_CALL_ID) or ""
    direction = _choice(data, "direction", Direction)
    incoming = direction is Direction.IN
    event = CallEvent(
        call_id=call_id,
        direction=direction,
        status=_choice(data, "status", CallStatus),
        from_phone=party_phone(
            _text(data, "from", 64, required=False), region, "from", strict=incoming
        ),
        to_phone=party_phone(
            _text(data, "to", 64, required=False), region, "to", strict=not incoming
        ),
        started_at=parse_started_at(data.get("started_at")),
        duration=parse_duration(data.get("duration")),
        staff=_text(data, "staff", MAX_STAFF, required=False),
        provider=provider,
        raw=raw if raw is not None else dict(data),
    )
    if event.client_phone is None or event.client_phone.isdigit():
        side = "from" if incoming else "to"
        raise CallError(side, f"{side} is required: the client's phone number")
    return event


async def find_staff(session: AsyncSession, named: str | None) -> Staff | None:
    """The staff member a call event names: by PBX extension, else by Telegram id."""
    if not named:
        return None
    staff = await session.scalar(
        select(Staff).where(Staff.extension == named).order_by(Staff.id).limit(1)
    )
    if staff is None and named.lstrip("-").isdigit() and len(named) <= 19:
        staff = await session.scalar(select(Staff).where(Staff.telegram_id == int(named)))
    return staff


async def _claim_call(
    session: AsyncSession, event: CallEvent, staff: Staff | None, now: datetime
) -> Call | None:
    """Record the call; None when the same (call_id, status) is there already."""
    call = Call(
        call_id=event.call_id,
        provider=event.provider,
        direction=event.direction,
        status=event.status,
        from_phone=event.from_phone,
        to_phone=event.to_phone,
        started_at=event.started_at,
        duration=event.duration,
        staff_id=staff.id if staff else None,
        raw=event.raw,
        created_at=now,
    )
    try:
        async with session.begin_nested():  # a retry racing the first delivery loses here
            session.add(call)
    except IntegrityError:
        return None
    return call


async def _open_lead_of(session: AsyncSession, phone: str) -> Lead | None:
    """The newest open lead of whoever has this phone (a merged contact's leads moved on)."""
    return await session.scalar(
        select(Lead)
        .join(Contact, Contact.id == Lead.contact_id)
        .where(
            Contact.phone == phone, Contact.merged_into_id.is_(None), Lead.status.in_(OPEN_STATUSES)
        )
        .order_by(Lead.id.desc())
        .limit(1)
    )


async def _open_missed_task(session: AsyncSession, lead_id: int) -> Task | None:
    return await session.scalar(
        select(Task)
        .where(Task.lead_id == lead_id, Task.kind == MISSED_CALL_TASK, Task.done_at.is_(None))
        .order_by(Task.id)
        .limit(1)
    )


def _call_event(lead_id: int, event: CallEvent, staff: Staff | None, now: datetime) -> LeadEvent:
    data = {
        "direction": event.direction.value,
        "status": event.status.value,
        "duration": event.duration,
        "phone": event.client_phone,
        "at": event.started_at.isoformat(),
    }
    return LeadEvent(
        lead_id=lead_id,
        kind="call",
        actor_id=staff.id if staff else None,
        data=data,
        created_at=now,
    )


async def _bump_lead(session: AsyncSession, lead_id: int, now: datetime) -> None:
    """The card shows the calls: it changes, so every copy is redrawn."""
    await session.execute(
        update(Lead).where(Lead.id == lead_id).values(version=Lead.version + 1, updated_at=now)
    )
    await enqueue(session, [card_refresh(lead_id, now)])


async def _missed(
    session: AsyncSession,
    event: CallEvent,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> tuple[int, int, bool]:
    """An unanswered incoming call: the lead (opened if the caller has none open) and its
    call-back task (opened, or counted once more). Lead id, task id, lead created."""
    phone = event.client_phone
    assert phone is not None
    lead = await _open_lead_of(session, phone)
    created = lead is None
    if lead is None:
        # routing, the pool's cards and contact matching as for any other request
        item = LeadInput(source=CALL_SOURCE, phone=phone)
        [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
        lead_id, owner_id = result.lead_id, None
    else:
        lead_id, owner_id = lead.id, lead.owner_id
    at = event.started_at.isoformat()
    task = await _open_missed_task(session, lead_id)
    if task is not None:
        task.count += 1
        task.data = {**task.data, "phone": phone, "last_at": at}
        if task.due_at > event.started_at:  # "try again later" is overtaken by a new call
            task.due_at = event.started_at
            task.alert_level = 0
            task.alert_at = alert_time(AlertKind.MISSED_CALL, task.due_at, 0, config)
        await session.flush()
        await _bump_lead(session, lead_id, now)
        return lead_id, task.id, created
    due = event.started_at
    task = Task(
        lead_id=lead_id,
        kind=MISSED_CALL_TASK,
        assignee_id=owner_id,
        due_at=due,
        created_at=now,
        count=1,
        data={"phone": phone, "last_at": at},
        alert_at=alert_time(AlertKind.MISSED_CALL, due, 0, config),
        alert_level=0,
    )
    session.add(task)
    await session.flush()
    if not created:  # a new lead's card goes out with the task on it; an old one changes
        await _bump_lead(session, lead_id, now)
        at_local = short_time(event.started_at, now, config)
        await _tell_owner(session, lead_id, owner_id, phone, at_local, now)
    return lead_id, task.id, created


async def _tell_owner(
    session: AsyncSession,
    lead_id: int,
    owner_id: int | None,
    phone: str,
    at: str,
    now: datetime,
) -> None:
    """The owner's card may be far up the chat: one message with the call's buttons."""
    owner = await session.get(Staff, owner_id) if owner_id is not None else None
    if owner is None or not owner.is_active:
        return  # the pool sees the task on the lead's card
    context = {"lead_id": lead_id, "phone": phone, "at": at}
    await enqueue(
        session,
        [
            text_message(
                lead_id, owner.telegram_id, owner.id, "missed_call", context, now, calls=True
            )
        ],
    )


async def _answered(
    session: AsyncSession,
    lead: Lead,
    event: CallEvent,
    staff: Staff | None,
    now: datetime,
    config: AppConfig,
) -> int | None:
    """A conversation with the client happened: contact made, and a missed call waiting for
    a call-back is done. The task's id when one was completed."""
    await contact_made(session, lead.id, now, config)
    task = await _open_missed_task(session, lead.id)
    if task is None:
        return None
    task.done_at = now
    task.data = {
        **task.data,
        "called_back_at": event.started_at.isoformat(),
        "called_back_by": "call",
    }
    session.add(
        LeadEvent(
            lead_id=lead.id,
            kind="missed_call_done",
            actor_id=staff.id if staff else None,
            data={"by": "call", "at": event.started_at.isoformat()},
            created_at=now,
        )
    )
    return task.id


async def _previous_result(session: AsyncSession, event: CallEvent) -> CallResult:
    """The answer to a repeated event: what the first delivery did, nothing done again."""
    lead_id = await session.scalar(
        select(Call.lead_id).where(Call.call_id == event.call_id, Call.status == event.status)
    )
    task_id = None
    if lead_id is not None:
        task_id = await session.scalar(
            select(Task.id)
            .where(Task.lead_id == lead_id, Task.kind == MISSED_CALL_TASK)
            .order_by(Task.id.desc())
            .limit(1)
        )
    return CallResult(event.call_id, event.status, True, lead_id, task_id)


async def record_call(
    session: AsyncSession,
    event: CallEvent,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None = None,
) -> CallResult:
    """Record one call event and what it means for its lead, in one transaction (committed)."""
    staff = await find_staff(session, event.staff)
    call = await _claim_call(session, event, staff, now)
    if call is None:
        result = await _previous_result(session, event)
        await session.commit()
        return result
    phone = event.client_phone
    lead_id = task_id = None
    created = completed = False
    if event.direction is Direction.IN and event.status in UNANSWERED and phone:
        lead_id, task_id, created = await _missed(session, event, now, config, leads_chat_id)
        if wanted(config, HookEvent.CALL_MISSED):
            await _announce_missed(session, event, lead_id, task_id, now, config)
    elif phone and (lead := await _open_lead_of(session, phone)) is not None:
        lead_id = lead.id
        if event.status is CallStatus.ANSWERED:
            task_id = await _answered(session, lead, event, staff, now, config)
            completed = task_id is not None
            await _bump_lead(session, lead_id, now)  # its history and maybe its task changed
    if lead_id is not None:
        call.lead_id = lead_id
        session.add(_call_event(lead_id, event, staff, now))
        if event.direction is Direction.OUT:  # a 📞 Call's call came back: the button is free
            await call_reported(session, lead_id, now)
        # recordings the PBX reported before this call's event join the lead now
        await link_waiting(session, call, now)
    await session.commit()
    return CallResult(event.call_id, event.status, False, lead_id, task_id, created, completed)


async def _announce_missed(
    session: AsyncSession,
    event: CallEvent,
    lead_id: int,
    task_id: int,
    now: datetime,
    config: AppConfig,
) -> None:
    """call.missed: the lead the call joined (or opened: lead.created comes first), the call,
    and how many times the client has called since the last call-back."""
    lead = await load_lead(session, lead_id)
    task = await session.get(Task, task_id)
    assert lead is not None
    data = {
        "call_id": event.call_id,
        "provider": event.provider,
        "phone": event.client_phone,
        "status": str(event.status),
        "started_at": event.started_at.isoformat(),
        "staff": event.staff,
        "count": task.count if task is not None else 1,
    }
    snapshot = lead_json(lead, lead.owner, config.currency)
    await announce(
        session, config, [Happened(HookEvent.CALL_MISSED, lead_id, snapshot, None, data)], now
    )


async def record_calls(
    session: AsyncSession,
    events: Sequence[CallEvent],
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None = None,
) -> list[CallResult]:
    """Several events in order, each its own transaction (one bad lead never loses the rest)."""
    return [await record_call(session, event, now, config, leads_chat_id) for event in events]
