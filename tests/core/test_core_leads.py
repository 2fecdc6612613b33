"""Take and junk, on the database without Telegram: who wins, who may act, what is recorded."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import Refusal, junk_lead, take_lead
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, LeadStatus, OutboxKind, OutboxMessage, Staff


async def _new_lead(sessions: SessionFactory, clock: ManualClock) -> int:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", phone="+79001234567")], clock.now()
        )
    return result.lead_id


async def test_of_ten_simultaneous_takes_exactly_one_wins(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _new_lead(sessions, clock)
    pressers = [staff["anna"], staff["boris"]] * 5

    async def press(who: Staff) -> Refusal | None:
        async with sessions() as session:
            return (await take_lead(session, lead_id, who, clock.now())).refusal

    outcomes = await asyncio.gather(*(press(who) for who in pressers))
    assert outcomes.count(None) == 1
    assert outcomes.count(Refusal.ALREADY_TAKEN) == 9
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        taken = (await session.scalars(select(LeadEvent).where(LeadEvent.kind == "taken"))).all()
    assert lead is not None and lead.status == LeadStatus.IN_WORK
    assert len(taken) == 1 and taken[0].actor_id == lead.owner_id


async def test_losing_press_learns_who_owns_the_lead(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        won = await take_lead(session, lead_id, staff["anna"], clock.now())
    async with sessions() as session:
        lost = await take_lead(session, lead_id, staff["boris"], clock.now())
    async with sessions() as session:
        again = await take_lead(session, lead_id, staff["anna"], clock.now())
    assert won.ok
    assert (lost.refusal, lost.owner_name) == (Refusal.ALREADY_TAKEN, "Anna")
    assert (again.refusal, again.owner_name) == (Refusal.ALREADY_TAKEN, "Anna")
    async with sessions() as session:
        refreshes = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CARD_REFRESH)
            )
        ).all()
    assert len(refreshes) == 1  # only the winning press changes the cards


async def test_junk_needs_a_known_reason_and_the_right_person(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        assert (await take_lead(session, lead_id, staff["anna"], clock.now())).ok
    async with sessions() as session:
        unknown = await junk_lead(
            session, lead_id, staff["anna"], "nope", None, clock.now(), config
        )
    async with sessions() as session:
        foreign = await junk_lead(
            session, lead_id, staff["boris"], "spam", None, clock.now(), config
        )
    async with sessions() as session:
        own = await junk_lead(
            session, lead_id, staff["anna"], "no_service", "Кейтеринг", clock.now(), config
        )
    async with sessions() as session:
        twice = await junk_lead(session, lead_id, staff["sveta"], "spam", None, clock.now(), config)
    assert unknown.refusal == Refusal.UNKNOWN_REASON
    assert (foreign.refusal, foreign.owner_name) == (Refusal.NOT_YOURS, "Anna")
    assert own.ok
    assert twice.refusal == Refusal.CLOSED
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "junk"))
    assert lead is not None and lead.status == LeadStatus.JUNK
    assert (lead.close_reason, lead.close_comment) == ("no_service", "Кейтеринг")
    assert event is not None and event.data == {"reason": "no_service", "comment": "Кейтеринг"}


async def test_supervisor_may_junk_a_lead_another_manager_owns(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        await take_lead(session, lead_id, staff["anna"], clock.now())
    async with sessions() as session:
        result = await junk_lead(
            session, lead_id, staff["sveta"], "spam", None, clock.now(), config
        )
    assert result.ok


async def test_take_of_missing_or_closed_lead_is_refused(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        await junk_lead(session, lead_id, staff["anna"], "spam", None, clock.now(), config)
    async with sessions() as session:
        closed = await take_lead(session, lead_id, staff["boris"], clock.now())
    async with sessions() as session:
        missing = await take_lead(session, 999_999, staff["boris"], clock.now())
    assert closed.refusal == Refusal.CLOSED
    assert missing.refusal == Refusal.NOT_FOUND
