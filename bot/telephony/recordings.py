"""Call recordings: the PBX says a call was recorded; the lead's history gets a line
("🎧 Recording 2:35") with a button; a press is authorised here and the file is fetched from
the PBX by the adapter (bot/adapters/pbx/recordings.py), never stored by leadbot.

What the PBXs send, followed:
- Zadarma: NOTIFY_RECORD (zadarma/user-api-v1, lib/Webhook/NotifyRecord.php): `call_id_with_rec`
  (the recording's own id, what `GET /v1/pbx/record/request/?call_id=` takes) and
  `pbx_call_id` (the call's id, as NOTIFY_END carried it: our calls.call_id). Signed like the
  other notifications, over pbx_call_id . call_id_with_rec (bot/telephony/pbx.py).
- Mango Office VPBX ("API Виртуальной АТС"): `events/recording` posts recording_id,
  recording_state (Started / Continued / Completed), entry_id (the call's id, as the summary
  carried it), call_id, extension, seq, timestamp; only a Completed one is a file to fetch.
  `events/record/added` (the recording put in the cloud) posts entry_id, recording_id, user_id,
  product_id. Either is recorded once: (provider, recording id) is unique.

A recording whose call is not known yet (its call event not come, or the call not tied to a
lead) is kept without a lead: the call's event links it later (`link_waiting`, called by
record_call), so the order the PBX sends them in does not matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.leads.actions import ActionResult, Refusal
from bot.leads.notes import may_annotate
from storage.models import Call, CallRecording, LeadEvent, Staff

RECORDING_EVENT = "recording"  # LeadEvent.kind: {"recording": <call_recordings.id>, ...}
MAX_REF = 255
MAX_CALL_ID = 128
MANGO_DONE = "Completed"  # recording_state of a finished recording


class RecordingError(ValueError):
    """A recording notice that cannot be read; `field` names the bad field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RecordingNotice:
    provider: str  # zadarma, mango
    call_id: str  # as calls.call_id holds the call
    ref: str  # what the PBX's API is asked for


@dataclass(frozen=True)
class RecordingResult:
    recording_id: int | None
    duplicate: bool  # the PBX repeated a notice: nothing changed
    lead_id: int | None  # None: the call is not known yet (kept, linked when it comes)

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": True,
            "recorded": not self.duplicate,
            "duplicate": self.duplicate,
            "lead_id": self.lead_id,
        }


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise RecordingError(name, f"{name} is required")
    text = str(value).strip()
    if len(text) > limit or any(ord(char) < 32 for char in text):
        raise RecordingError(name, f"{name} must be up to {limit} printable characters")
    return text


def zadarma_recording(fields: Mapping[str, str]) -> RecordingNotice:
    """NOTIFY_RECORD's two ids."""
    return RecordingNotice(
        "zadarma",
        _text(fields, "pbx_call_id", MAX_CALL_ID),
        _text(fields, "call_id_with_rec", MAX_REF),
    )


def mango_recording(data: Mapping[str, Any], stateful: bool = True) -> RecordingNotice | None:
    """events/recording (`stateful`: None until its recording_state is Completed) or
    events/record/added (the file is in the cloud: no state)."""
    state = str(data.get("recording_state") or "").strip().lower()
    if stateful and state != MANGO_DONE.lower():
        return None  # Started / Continued: the file is not whole yet
    return RecordingNotice(
        "mango", _text(data, "entry_id", MAX_CALL_ID), _text(data, "recording_id", MAX_REF)
    )


async def _call_of(session: AsyncSession, provider: str, call_id: str) -> Call | None:
    """The call's row that is tied to a lead (a call has a row per status it reported); the
    longest, so the line shows the conversation's length."""
    return await session.scalar(
        select(Call)
        .where(Call.provider == provider, Call.call_id == call_id, Call.lead_id.is_not(None))
        .order_by(func.coalesce(Call.duration, 0).desc(), Call.id.desc())
        .limit(1)
    )


def _link(recording: CallRecording, call: Call, now: datetime) -> LeadEvent:
    """Tie the recording to the call's lead: the lead's history line."""
    assert call.lead_id is not None
    recording.lead_id = call.lead_id
    recording.duration = call.duration or 0
    recording.started_at = call.started_at
    recording.linked_at = now
    return LeadEvent(
        lead_id=call.lead_id,
        kind=RECORDING_EVENT,
        actor_id=call.staff_id,
        data={
            "recording": recording.id,
            "duration": recording.duration,
            "at": call.started_at.isoformat() if call.started_at else None,
        },
        created_at=now,
    )


async def record_recording(
    session: AsyncSession, notice: RecordingNotice, now: datetime
) -> RecordingResult:
    """Keep the recording once; tie it to its call's lead when the call is known. Committed."""
    recording = CallRecording(
        provider=notice.provider, call_id=notice.call_id, ref=notice.ref, created_at=now
    )
    try:
        async with session.begin_nested():  # the PBX's retry racing its first delivery
            session.add(recording)
    except IntegrityError:
        lead_id = await session.scalar(
            select(CallRecording.lead_id).where(
                CallRecording.provider == notice.provider, CallRecording.ref == notice.ref
            )
        )
        await session.commit()
        return RecordingResult(None, True, lead_id)
    call = await _call_of(session, notice.provider, notice.call_id)
    if call is not None:
        session.add(_link(recording, call, now))
    await session.commit()
    return RecordingResult(recording.id, False, recording.lead_id)


async def link_waiting(session: AsyncSession, call: Call, now: datetime) -> int:
    """A call just tied to a lead: the recordings that came before it join the lead too
    (not committed: the call's transaction does). How many."""
    if call.lead_id is None:
        return 0
    waiting = await session.scalars(
        select(CallRecording).where(
            CallRecording.provider == call.provider,
            CallRecording.call_id == call.call_id,
            CallRecording.lead_id.is_(None),
        )
    )
    linked = 0
    for recording in waiting:
        session.add(_link(recording, call, now))
        linked += 1
    return linked


@dataclass(frozen=True)
class RecordingAccess:
    """A press on a recording's button, authorised: the recording, or why not."""

    allowed: ActionResult
    recording: CallRecording | None = None

    @property
    def ok(self) -> bool:
        return self.allowed.ok and self.recording is not None


async def recording_for(session: AsyncSession, recording_id: int, actor: Staff) -> RecordingAccess:
    """The lead's own people only (its owner, supervisors, admins), as for its history."""
    recording = await session.get(CallRecording, recording_id)
    if recording is None or recording.lead_id is None:
        return RecordingAccess(ActionResult(None, Refusal.NOT_FOUND))
    allowed = await may_annotate(session, recording.lead_id, actor)
    return RecordingAccess(allowed, recording if allowed.ok else None)
