"""The time-limit sweep on the database (SQLite and PostgreSQL): each step of each limit fires
once, at the right working time, to the right people; restarts and two sweepers at once
neither lose nor repeat a step; a limit met stops its alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import junk_lead, take_lead
from bot.leads.call_backs import finish_call_back, schedule_call_back
from bot.sla.answer_wait import client_answered, client_waits
from bot.sla.deadlines import Step
from bot.sla.sweep import FiredAlert, fire_due_alerts
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, OutboxKind, OutboxMessage, Staff, Task

TEAM = -100500


async def _new_lead(sessions: SessionFactory, at: datetime, config: AppConfig) -> int:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", phone="+79001234567")], at, TEAM, config
        )
    return result.lead_id


async def _taken_lead(
    sessions: SessionFactory, owner: Staff, at: datetime, config: AppConfig
) -> int:
    lead_id = await _new_lead(sessions, at, config)
    async with sessions() as session:
        assert (await take_lead(session, lead_id, owner, at, config)).ok
    return lead_id


async def _sweep(sessions: SessionFactory, now: datetime, config: AppConfig) -> list[FiredAlert]:
    async with sessions() as session:
        return await fire_due_alerts(session, now, config, TEAM)


def _steps(fired: list[FiredAlert]) -> list[tuple[str, Step]]:
    return [(alert.kind.value, alert.step) for alert in fired]


async def test_a_new_lead_reminds_the_pool_at_10_min_and_escalates_at_30(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _new_lead(sessions, start, config)
    assert await _sweep(sessions, start + timedelta(minutes=9, seconds=59), config) == []
    reminded = await _sweep(sessions, start + timedelta(minutes=10), config)
    assert _steps(reminded) == [("not_taken", Step.REMIND)]
    assert reminded[0].recipients == (TEAM,)
    assert await _sweep(sessions, start + timedelta(minutes=29), config) == []
    escalated = await _sweep(sessions, start + timedelta(minutes=30), config)
    assert _steps(escalated) == [("not_taken", Step.ESCALATE)]
    assert escalated[0].recipients == (staff["sveta"].telegram_id,)
    assert await _sweep(sessions, start + timedelta(days=3), config) == []
    async with sessions() as session:
        events = (
            await session.scalars(
                select(LeadEvent.kind)
                .where(LeadEvent.lead_id == lead_id, LeadEvent.kind.in_(["reminded", "escalated"]))
                .order_by(LeadEvent.id)
            )
        ).all()
        alerts = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == OutboxKind.ALERT)
                .order_by(OutboxMessage.id)
            )
        ).all()
    assert list(events) == ["reminded", "escalated"]
    assert [(a.chat_id, a.payload["step"]) for a in alerts] == [
        (TEAM, "remind"),
        (staff["sveta"].telegram_id, "escalate"),
    ]


async def test_a_lead_at_23_00_is_due_after_the_opening(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    night = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)  # Monday 23:00 in Moscow
    await _new_lead(sessions, night, config)
    opening = datetime(2026, 1, 6, 6, 0, tzinfo=UTC)  # Tuesday 09:00 in Moscow
    assert await _sweep(sessions, opening + timedelta(minutes=9), config) == []
    fired = await _sweep(sessions, opening + timedelta(minutes=10), config)
    assert _steps(fired) == [("not_taken", Step.REMIND)]


async def test_taking_the_lead_stops_not_taken_and_starts_no_contact(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _new_lead(sessions, start, config)
    async with sessions() as session:
        assert (
            await take_lead(session, lead_id, staff["anna"], start + timedelta(minutes=5), config)
        ).ok
    assert await _sweep(sessions, start + timedelta(minutes=40), config) == []
    fired = await _sweep(sessions, start + timedelta(hours=2, minutes=5), config)
    assert _steps(fired) == [("no_contact", Step.REMIND)]
    assert fired[0].recipients == (staff["anna"].telegram_id,)


async def test_closing_a_lead_silences_it(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _new_lead(sessions, start, config)
    async with sessions() as session:
        assert (await junk_lead(session, lead_id, staff["anna"], "spam", None, start, config)).ok
        lead = await session.get(Lead, lead_id)
    assert lead is not None and lead.alert_at is None
    assert await _sweep(sessions, start + timedelta(days=1), config) == []


async def test_a_call_back_reminds_its_owner_when_due_then_supervisors(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _taken_lead(sessions, staff["anna"], start, config)
    due = start + timedelta(hours=1)
    async with sessions() as session:
        assert (await schedule_call_back(session, lead_id, staff["anna"], due, start, config)).ok
    assert await _sweep(sessions, due - timedelta(seconds=1), config) == []
    assert _steps(await _sweep(sessions, due, config)) == [("callback", Step.REMIND)]
    later = await _sweep(sessions, due + timedelta(minutes=30), config)
    assert _steps(later) == [("callback", Step.ESCALATE)]
    assert later[0].task_id is not None


async def test_a_call_back_done_in_time_stops(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _taken_lead(sessions, staff["anna"], start, config)
    due = start + timedelta(hours=1)
    async with sessions() as session:
        await schedule_call_back(session, lead_id, staff["anna"], due, start, config)
    assert _steps(await _sweep(sessions, due, config)) == [("callback", Step.REMIND)]
    async with sessions() as session:
        assert (await finish_call_back(session, lead_id, staff["anna"], due)).ok
    assert await _sweep(sessions, due + timedelta(hours=3), config) == []


async def test_an_unanswered_client_reminds_the_owner_then_supervisors_and_a_reply_stops_it(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    lead_id = await _taken_lead(sessions, staff["anna"], start, config)
    async with sessions() as session:
        # first contact: no "no contact" limit
        await client_answered(session, lead_id, start, config)
        await session.commit()
    async with sessions() as session:
        await client_waits(session, lead_id, start + timedelta(minutes=1), config)
        await client_waits(session, lead_id, start + timedelta(minutes=5), config)
        await session.commit()
        tasks = (await session.scalars(select(Task).where(Task.lead_id == lead_id))).all()
    assert [(t.kind, t.count, t.due_at) for t in tasks] == [
        ("answer", 2, start + timedelta(minutes=1))
    ]
    fired = await _sweep(sessions, start + timedelta(minutes=11), config)
    assert _steps(fired) == [("answer", Step.REMIND)]
    assert fired[0].recipients == (staff["anna"].telegram_id,)
    escalated = await _sweep(sessions, start + timedelta(minutes=31), config)
    assert _steps(escalated) == [("answer", Step.ESCALATE)]
    async with sessions() as session:
        await client_waits(session, lead_id, start + timedelta(minutes=40), config)
        await client_answered(session, lead_id, start + timedelta(minutes=41), config)
        await session.commit()
    assert await _sweep(sessions, start + timedelta(hours=5), config) == []


async def test_a_restart_neither_loses_nor_repeats_a_step(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    await _new_lead(sessions, start, config)
    # the instance was down for an hour: the next sweep, in a new session, catches up
    late = start + timedelta(hours=1)
    first = await _sweep(sessions, late, config)
    second = await _sweep(sessions, late, config)
    assert _steps(first) + _steps(second) == [
        ("not_taken", Step.REMIND),
        ("not_taken", Step.ESCALATE),
    ]
    assert await _sweep(sessions, late + timedelta(hours=1), config) == []


async def test_two_sweeps_at_once_fire_each_step_once(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    start = clock.now()
    for _ in range(3):
        async with sessions() as session:
            await intake_leads(
                session, [LeadInput(source="web_form", name="x")], start, TEAM, config
            )
    at = start + timedelta(minutes=10)
    fired = await asyncio.gather(*(_sweep(sessions, at, config) for _ in range(4)))
    all_fired = [alert for batch in fired for alert in batch]
    assert sorted(a.lead_id for a in all_fired) == sorted({a.lead_id for a in all_fired})
    assert len(all_fired) == 3
    async with sessions() as session:
        alerts = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ALERT)
            )
        ).all()
    assert len(alerts) == 3
