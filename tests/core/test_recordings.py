"""Call recordings on the database, without Telegram (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): a notice kept once, tied to its call's lead whichever comes first,
a press authorised as the lead's history is; and the notices' reading (hostile input)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.leads.actions import Refusal, take_lead
from bot.leads.notes import play_length
from bot.telephony.calls import parse_call_event, record_calls
from bot.telephony.recordings import (
    RecordingError,
    RecordingNotice,
    mango_recording,
    record_recording,
    recording_for,
    zadarma_recording,
)
from storage.db import SessionFactory
from storage.models import CallRecording, LeadEvent, Staff

MISSED = {
    "call_id": "in_1",
    "direction": "in",
    "status": "missed",
    "from": "+79001234567",
    "to": "+74950000000",
    "started_at": "2026-01-05T12:02:00+03:00",
}
# the owner's call back, answered: 2 min 35 s
BACK = {
    "call_id": "out_1",
    "direction": "out",
    "status": "answered",
    "from": "101",
    "to": "+79001234567",
    "started_at": "2026-01-05T12:20:00+03:00",
    "duration": 155,
}
NOTICE = RecordingNotice("zadarma", "out_1", "1704445200.123")


async def _calls(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, *calls: Any
) -> None:
    async with sessions() as session:
        events = [parse_call_event(call, "RU", "zadarma") for call in calls]
        await record_calls(session, events, clock.now(), config)


async def _recording_events(sessions: SessionFactory) -> list[dict[str, Any]]:
    async with sessions() as session:
        found = await session.scalars(
            select(LeadEvent.data).where(LeadEvent.kind == "recording").order_by(LeadEvent.id)
        )
        return list(found)


async def test_a_recording_of_a_known_call_is_on_its_lead_once(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _calls(sessions, clock, config, MISSED, BACK)
    async with sessions() as session:
        first = await record_recording(session, NOTICE, clock.now())
    async with sessions() as session:
        again = await record_recording(session, NOTICE, clock.now() + timedelta(minutes=1))
    assert (first.duplicate, first.lead_id) == (False, 1)
    assert (again.duplicate, again.lead_id) == (True, 1)
    assert await _recording_events(sessions) == [
        {"recording": first.recording_id, "duration": 155, "at": "2026-01-05T09:20:00+00:00"}
    ]


async def test_a_recording_before_its_call_waits_and_the_call_links_it(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _calls(sessions, clock, config, MISSED)
    async with sessions() as session:
        early = await record_recording(session, NOTICE, clock.now())
    assert (early.duplicate, early.lead_id) == (False, None)
    assert await _recording_events(sessions) == []
    await _calls(sessions, clock, config, BACK)
    async with sessions() as session:
        kept = await session.get(CallRecording, early.recording_id)
    assert kept is not None and (kept.lead_id, kept.duration) == (1, 155)
    assert [event["duration"] for event in await _recording_events(sessions)] == [155]
    # another vendor's call with the same id is another call: its recording waits
    async with sessions() as session:
        other = await record_recording(
            session, RecordingNotice("mango", "out_1", "r-9"), clock.now()
        )
    assert other.lead_id is None


async def test_only_the_leads_own_people_may_play_it(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _calls(sessions, clock, config, MISSED)
    async with sessions() as session:
        assert (await take_lead(session, 1, staff["anna"], clock.now(), config)).ok
    await _calls(sessions, clock, config, BACK)
    async with sessions() as session:
        made = await record_recording(session, NOTICE, clock.now())
    assert made.recording_id is not None
    async with sessions() as session:
        anna = await recording_for(session, made.recording_id, staff["anna"])
        sveta = await recording_for(session, made.recording_id, staff["sveta"])  # supervisor
        boris = await recording_for(session, made.recording_id, staff["boris"])
        nothing = await recording_for(session, made.recording_id + 1, staff["anna"])
    assert anna.ok and anna.recording is not None and anna.recording.ref == NOTICE.ref
    assert sveta.ok
    assert not boris.ok and boris.allowed.refusal is Refusal.NOT_YOURS and boris.recording is None
    assert boris.allowed.owner_name == "Anna"
    assert nothing.allowed.refusal is Refusal.NOT_FOUND


async def test_a_waiting_recording_is_no_ones_to_play(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        made = await record_recording(session, NOTICE, clock.now())
        assert made.recording_id is not None
        refused = await recording_for(session, made.recording_id, staff["sveta"])
    assert refused.allowed.refusal is Refusal.NOT_FOUND


def test_zadarma_notice_needs_both_ids_printable_and_short() -> None:
    good = {"event": "NOTIFY_RECORD", "pbx_call_id": "out_1", "call_id_with_rec": "17.1"}
    assert zadarma_recording(good) == RecordingNotice("zadarma", "out_1", "17.1")
    for field, value in (
        ("call_id_with_rec", ""),
        ("pbx_call_id", "x" * 10_000),
        ("call_id_with_rec", "<b>rec</b>\x00"),
    ):
        with pytest.raises(RecordingError) as refused:
            zadarma_recording({**good, field: value})
        assert refused.value.field == field


def test_mango_notice_only_when_the_recording_is_complete() -> None:
    done = {"recording_id": "MToxMDEy", "entry_id": "MjQ3", "recording_state": "Completed"}
    assert mango_recording(done) == RecordingNotice("mango", "MjQ3", "MToxMDEy")
    for state in ("Started", "Continued", None, "🎧" * 1000):
        assert mango_recording({**done, "recording_state": state}) is None
    added = {"recording_id": "MToxMDEy", "entry_id": "MjQ3", "user_id": 7}
    assert mango_recording(added, stateful=False) == RecordingNotice("mango", "MjQ3", "MToxMDEy")
    with pytest.raises(RecordingError) as refused:
        mango_recording({**done, "recording_id": {"nested": True}})
    assert refused.value.field == "recording_id"


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0:00"), (59, "0:59"), (155, "2:35"), (3723, "1:02:03")]
)
def test_the_length_is_shown_as_a_player_shows_it(seconds: int, shown: str) -> None:
    assert play_length(seconds) == shown
