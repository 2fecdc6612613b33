"""Clients help themselves (bot/self_service) on a real database, SQLite and PostgreSQL: the
slots a client may pick (working hours, weekends, the past, the team's time zone), a request
from their picks and the second one refused, "My request", moving the call, cancelling and
nudging, each refused for a forged or foreign lead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig, load_app_config
from bot.leads.actions import take_lead
from bot.leads.call_backs import schedule_call_back
from bot.leads.notes import lead_history, shown_history
from bot.reports.summary import NUDGED_EVENT as reports_nudged_event
from bot.reports.summary import report_summary
from bot.self_service.manage import NUDGED_EVENT, cancel_request, move_call, nudge_team
from bot.self_service.requests import Outcome, SelfRefusal, Stage, leave_request, my_request
from bot.self_service.slots import (
    SlotDay,
    all_slots,
    free_slots,
    is_free_slot,
    minute_slot,
    slot_day,
    slot_minute,
)
from storage.db import SessionFactory
from storage.models import CALL_BACK_TASK, Lead, LeadEvent, LeadStatus, OutboxMessage, Staff, Task

KATE, OLEG = 7001, 7002
# Thursday 3 Dec 2026, 09:12 in Moscow (UTC+3, no DST): the team works Mon-Fri 09:00-19:00
THURSDAY = datetime(2026, 12, 3, 6, 12, tzinfo=UTC)
SERVICES = [
    {"code": "install", "ru": "Установка", "en": "Installation"},
    {"code": "repair", "ru": "Ремонт", "en": "Repair"},
]


def _config(**overrides: object) -> AppConfig:
    return load_app_config(overrides={"services": SERVICES, **overrides})


def _msk(day: int, hour: int, minute: int = 0) -> datetime:
    """A time of December 2026 in Moscow, as UTC."""
    return datetime(2026, 12, day, hour - 3, minute, tzinfo=UTC)


# --- slots -------------------------------------------------------------------------------------


def test_slots_start_after_the_notice_inside_working_hours_on_working_days() -> None:
    config = _config()
    slots = all_slots(THURSDAY, config)
    # 09:12 + 30 min notice: the first boundary after 09:42 is 10:00; the last starts at 18:30
    assert slots[0] == _msk(3, 10) and _msk(3, 18, 30) in slots and _msk(3, 19) not in slots
    # Thursday 18 slots (10:00..18:30), Friday and Monday 20 each; the weekend has none
    assert len(slots) == 18 + 20 + 20
    assert {slot.astimezone(config.zone).day for slot in slots} == {3, 4, 7}
    shown = free_slots(THURSDAY, config)
    assert len(shown) == 12 and shown[-1] == _msk(3, 15, 30)


def test_friday_evening_offers_monday_and_a_weekend_day_none() -> None:
    config = _config()
    friday_evening = _msk(4, 18, 50)  # 18:50 + 30 min is past the last slot (18:30)
    slots = all_slots(friday_evening, config)
    assert slots[0] == _msk(7, 9)  # Monday 09:00
    assert {slot.astimezone(config.zone).day for slot in slots} == {7, 8}  # Mon, Tue
    saturday = _msk(5, 12)
    assert all_slots(saturday, config)[0] == _msk(7, 9)
    assert {slot.astimezone(config.zone).day for slot in all_slots(saturday, config)} == {7, 8, 9}


def test_a_slot_in_the_past_off_a_boundary_after_hours_or_too_far_is_not_free() -> None:
    config = _config()
    assert is_free_slot(_msk(3, 10), THURSDAY, config)
    assert not is_free_slot(_msk(3, 10), _msk(3, 9, 31), config)  # within the notice now
    assert not is_free_slot(_msk(3, 9), THURSDAY, config)  # the past
    assert not is_free_slot(_msk(3, 10, 10), THURSDAY, config)  # not a boundary
    assert not is_free_slot(_msk(3, 19), THURSDAY, config)  # closing time
    assert not is_free_slot(_msk(5, 10), THURSDAY, config)  # Saturday
    assert not is_free_slot(_msk(8, 10), THURSDAY, config)  # the 4th working day
    assert minute_slot(slot_minute(_msk(3, 10))) == _msk(3, 10)
    assert minute_slot(-5) is None and minute_slot(10**12) is None


def test_slots_follow_the_teams_time_zone() -> None:
    config = _config(timezone="Asia/Vladivostok", self_service={"slot_length": "45m"})
    now = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 10:00 in Vladivostok (UTC+10)
    slots = all_slots(now, config)
    # boundaries from the opening: 09:00, 09:45, 10:30 (the first at least 30 min ahead)
    assert slots[0] == datetime(2026, 12, 3, 0, 30, tzinfo=UTC)
    assert slots[1] == datetime(2026, 12, 3, 1, 15, tzinfo=UTC)
    # the last 45 minutes that end by 19:00 start at 18:00 (09:00 + 12 x 45 min)
    local = [slot.astimezone(config.zone) for slot in slots]
    local = [slot for slot in local if slot.day == 3]
    assert local[-1].hour == 18 and local[-1].minute == 0
    assert slot_day(slots[0], now, config) is SlotDay.TODAY
    late = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)  # 00:30 on Friday in Vladivostok
    assert slot_day(datetime(2026, 12, 4, 0, 30, tzinfo=UTC), late, config) is SlotDay.TODAY


# --- requests ----------------------------------------------------------------------------------


async def _leave(
    sessions: SessionFactory,
    config: AppConfig,
    now: datetime = THURSDAY,
    who: int = KATE,
    service: str | None = "install",
    at: datetime | None = None,
    phone: str = "+7 900 555-44-33",
) -> Outcome:
    async with sessions() as session:
        return await leave_request(
            session, who, "Kate <b>", service, at or _msk(3, 15, 30), phone, now, config
        )


async def _lead(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def _told(sessions: SessionFactory, template: str) -> list[int | None]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.chat_id for row in rows if (row.payload or {}).get("template") == template]


async def test_a_request_becomes_a_lead_and_a_second_one_is_refused(
    sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    config = _config()
    done = await _leave(sessions, config)
    assert done.ok and done.lead_id is not None
    lead = await _lead(sessions, done.lead_id)
    assert (lead.source, lead.status, lead.phone) == ("telegram", "new", "+79005554433")
    assert lead.service == "Установка"  # in the team's language, as the card shows it
    assert lead.message == "📅 Позвоните мне: 03.12 15:30 (выбрано в боте)"
    again = await _leave(sessions, config, service="repair", at=_msk(4, 10))
    assert again.refusal is SelfRefusal.ALREADY_OPEN and again.lead_id == done.lead_id
    assert again.view is not None and again.view.stage is Stage.RECEIVED
    assert again.view.call_at == _msk(3, 15, 30)
    async with sessions() as session:
        assert len((await session.scalars(select(Lead))).all()) == 1


async def test_a_stale_slot_a_service_no_longer_offered_and_a_bad_phone_are_refused(
    sessions: SessionFactory,
) -> None:
    config = _config()
    passed = await _leave(sessions, config, now=_msk(3, 15, 10))  # 15:30 is within the notice
    assert passed.refusal is SelfRefusal.SLOT_GONE
    gone = await _leave(sessions, config, service="massage")
    assert gone.refusal is SelfRefusal.SERVICE_GONE
    none = await _leave(sessions, config, service=None)  # services are offered: one is picked
    assert none.refusal is SelfRefusal.SERVICE_GONE
    bad = await _leave(sessions, config, phone="<script>" * 1000)
    assert bad.refusal is SelfRefusal.BAD_PHONE
    async with sessions() as session:
        assert (await session.scalars(select(Lead))).all() == []
    # with no [[services]] the step is skipped
    plain = await _leave(sessions, load_app_config(), service=None)
    assert plain.ok


async def test_my_request_tells_the_stage_in_plain_words(
    sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    config = _config()
    async with sessions() as session:
        assert (await my_request(session, KATE, THURSDAY)).refusal is SelfRefusal.NO_REQUEST
    done = await _leave(sessions, config)
    assert done.lead_id is not None
    async with sessions() as session:
        view = (await my_request(session, KATE, THURSDAY)).view
        assert view is not None and (view.stage, view.service) == (Stage.RECEIVED, "Установка")
        await take_lead(session, done.lead_id, staff["anna"], THURSDAY, config)
        view = (await my_request(session, KATE, THURSDAY)).view
        assert view is not None and view.stage is Stage.IN_WORK
        await schedule_call_back(
            session, done.lead_id, staff["anna"], _msk(3, 16), THURSDAY, config
        )
        view = (await my_request(session, KATE, THURSDAY)).view
        assert view is not None and (view.stage, view.call_at) == (Stage.CALL_BACK, _msk(3, 16))
        # Oleg sees nothing of Kate's
        assert (await my_request(session, OLEG, THURSDAY)).refusal is SelfRefusal.NO_REQUEST


async def test_moving_the_call_back_moves_the_owners_task_and_tells_them(
    sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    config = _config()
    done = await _leave(sessions, config)
    oleg = await _leave(sessions, config, who=OLEG, phone="+79001112233")
    assert done.lead_id is not None and oleg.lead_id is not None
    async with sessions() as session:
        await take_lead(session, done.lead_id, staff["anna"], THURSDAY, config)
        await schedule_call_back(
            session, done.lead_id, staff["anna"], _msk(3, 15, 30), THURSDAY, config
        )
        # Oleg's forged press on Kate's lead, and a slot that has passed, change nothing
        forged = await move_call(session, OLEG, done.lead_id, _msk(4, 10), THURSDAY, config)
        assert forged.refusal is SelfRefusal.NOT_THEIRS
        past = await move_call(session, KATE, done.lead_id, _msk(3, 9), THURSDAY, config)
        assert past.refusal is SelfRefusal.SLOT_GONE
        moved = await move_call(session, KATE, done.lead_id, _msk(4, 11), THURSDAY, config)
        assert moved.ok
        due = await session.scalars(
            select(Task.due_at).where(
                Task.lead_id == done.lead_id, Task.kind == CALL_BACK_TASK, Task.done_at.is_(None)
            )
        )
        assert due.all() == [_msk(4, 11)]
    assert await _told(sessions, "client_moved_call") == [1001]  # Anna, the owner
    # a request nobody has taken: the new time joins it as the client's next words
    async with sessions() as session:
        assert (await move_call(session, OLEG, oleg.lead_id, _msk(4, 12), THURSDAY, config)).ok
        view = (await my_request(session, OLEG, THURSDAY)).view
        kinds = await session.scalars(
            select(LeadEvent.kind).where(LeadEvent.lead_id == oleg.lead_id).order_by(LeadEvent.id)
        )
        assert kinds.all() == ["created", "client_time", "repeat_request", "client_time"]
    assert view is not None and (view.stage, view.call_at) == (Stage.RECEIVED, _msk(4, 12))
    async with sessions() as session:  # the manager's History shows the time she picked
        lines, _ = await lead_history(session, oleg.lead_id, 0)
    newest = shown_history(lines, config, "en")[0]
    assert (newest.kind, newest.who, newest.detail) == ("client_time", None, "4 Dec 12:00")


async def test_cancel_closes_as_refused_by_the_client_and_tells_the_owner(
    sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    config = _config()
    done = await _leave(sessions, config)
    assert done.lead_id is not None
    async with sessions() as session:
        await take_lead(session, done.lead_id, staff["anna"], THURSDAY, config)
        await schedule_call_back(
            session, done.lead_id, staff["anna"], _msk(3, 16), THURSDAY, config
        )
        assert (
            await cancel_request(session, OLEG, done.lead_id, THURSDAY, config)
        ).refusal is SelfRefusal.NOT_THEIRS
        assert (await cancel_request(session, KATE, 999, THURSDAY, config)).refusal is (
            SelfRefusal.NOT_THEIRS
        )
        assert (await cancel_request(session, KATE, done.lead_id, THURSDAY, config)).ok
        again = await cancel_request(session, KATE, done.lead_id, THURSDAY, config)
        assert again.refusal is SelfRefusal.NOT_THEIRS  # closed already
        open_tasks = await session.scalars(
            select(Task).where(Task.lead_id == done.lead_id, Task.done_at.is_(None))
        )
        assert open_tasks.all() == []
    lead = await _lead(sessions, done.lead_id)
    assert (lead.status, lead.close_reason) == (LeadStatus.REFUSED, "client_cancelled")
    assert lead.closed_by_id is None and lead.closed_at == THURSDAY
    assert await _told(sessions, "client_cancelled") == [1001]


async def test_a_new_request_may_be_cancelled_and_the_supervisors_hear_of_it(
    sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    config = _config()
    done = await _leave(sessions, config)
    assert done.lead_id is not None
    async with sessions() as session:
        assert (await cancel_request(session, KATE, done.lead_id, THURSDAY, config)).ok
    assert (await _lead(sessions, done.lead_id)).status == LeadStatus.REFUSED
    assert await _told(sessions, "client_cancelled") == [1003]  # Sveta: nobody owned it
    # closed: a new request may be left
    assert (await _leave(sessions, config, at=_msk(4, 10))).ok


async def test_still_waiting_nudges_once_per_period(
    sessions: SessionFactory, staff: dict[str, Staff], clock: ManualClock
) -> None:
    config = _config()  # nudge_every = 4h
    done = await _leave(sessions, config)
    assert done.lead_id is not None
    async with sessions() as session:
        forged = await nudge_team(session, OLEG, done.lead_id, THURSDAY, config)
        assert forged.refusal is SelfRefusal.NOT_THEIRS
        assert (await nudge_team(session, KATE, done.lead_id, THURSDAY, config)).ok
        later = THURSDAY + timedelta(hours=3, minutes=59)
        soon = await nudge_team(session, KATE, done.lead_id, later, config)
        assert soon.refusal is SelfRefusal.TOO_SOON
        assert soon.next_at == THURSDAY + timedelta(hours=4)
    assert await _told(sessions, "client_nudged") == [1003]  # unowned: the supervisor
    async with sessions() as session:
        await take_lead(session, done.lead_id, staff["boris"], THURSDAY, config)
        assert (
            await nudge_team(session, KATE, done.lead_id, THURSDAY + timedelta(hours=4), config)
        ).ok
        nudges = await session.scalars(
            select(LeadEvent).where(LeadEvent.kind == "client_nudged", LeadEvent.actor_id.is_(None))
        )
        assert len(nudges.all()) == 2
    assert await _told(sessions, "client_nudged") == [1003, 1002]  # then Boris, the owner
    async with sessions() as session:  # /report counts them, for the days they were pressed
        report = await report_summary(session, (date(2026, 12, 3), date(2026, 12, 3)), config)
        other_day = await report_summary(session, (date(2026, 12, 4), date(2026, 12, 4)), config)
    assert (report.client_nudges, other_day.client_nudges) == (2, 0)
    assert NUDGED_EVENT == reports_nudged_event
