"""Click-to-call's core on a real database (SQLite and PostgreSQL): one call set up at a time
per lead, whatever races for it (two presses, two instances: two connections here), released
when the PBX does not take the call or reports it; request_call's checks in their order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import Refusal, take_lead
from bot.telephony.click_to_call import Dialled, DialOutcome, request_call
from bot.telephony.dial_hold import call_reported, claim_dial, release_dial
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, Staff

HOLD = timedelta(seconds=60)


async def _anna_owns_a_lead(
    sessions: SessionFactory, clock: ManualClock, anna: Staff, phone: str | None = "+79001234567"
) -> int:
    async with sessions() as session:
        item = LeadInput(source="web_form", phone=phone, email=None if phone else "o@example.com")
        [result] = await intake_leads(session, [item], clock.now())
        assert (await take_lead(session, result.lead_id, anna, clock.now())).ok
    return result.lead_id


async def _claims(
    sessions: SessionFactory, lead_id: int, staff_id: int, clock: ManualClock
) -> str | None:
    async with sessions() as session:
        return await claim_dial(session, lead_id, staff_id, clock.now(), HOLD)


async def test_of_presses_racing_on_two_connections_one_holds_the_line(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    lead_id = await _anna_owns_a_lead(sessions, clock, anna)
    for _ in range(2):  # the lead's first row (INSERT), then a lapsed one (UPDATE)
        tokens = await asyncio.gather(
            *(_claims(sessions, lead_id, anna.id, clock) for _ in range(4))
        )
        assert len([token for token in tokens if token]) == 1, tokens
        assert await _claims(sessions, lead_id, anna.id, clock) is None  # still held
        clock.advance(HOLD)  # the hold lapses at `held_until`: free again
    # released by its own claim only: a stale token frees nothing
    token = await _claims(sessions, lead_id, anna.id, clock)
    assert token is not None
    async with sessions() as session:
        await release_dial(session, lead_id, "someone-elses", clock.now())
    assert await _claims(sessions, lead_id, anna.id, clock) is None
    async with sessions() as session:
        await release_dial(session, lead_id, token, clock.now())
    token = await _claims(sessions, lead_id, anna.id, clock)
    assert token is not None
    # the PBX's call event frees it (in the event's transaction)
    async with sessions() as session:
        await call_reported(session, lead_id, clock.now())
        await session.commit()
    assert await _claims(sessions, lead_id, anna.id, clock) is not None


class _Pbx:
    provider = "zadarma"

    def __init__(self, answer: Dialled | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    async def dial(self, extension: str, phone: str) -> Dialled:
        self.asked.append((extension, phone))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def _press(
    sessions: SessionFactory,
    lead_id: int,
    who: Staff,
    pbx: _Pbx | None,
    clock: ManualClock,
    config: AppConfig,
) -> DialOutcome:
    async with sessions() as session:
        actor = await session.get(Staff, who.id)
        assert actor is not None
        result = await request_call(session, lead_id, actor, pbx, clock.now(), config)
    return result.outcome


async def _set_extension(sessions: SessionFactory, who: Staff, extension: str | None) -> None:
    async with sessions() as session:
        person = await session.get(Staff, who.id)
        assert person is not None
        person.extension = extension
        await session.commit()


async def test_request_call_checks_in_order_and_frees_the_line_when_the_pbx_does_not_ring(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    anna, boris = staff["anna"], staff["boris"]
    lead_id = await _anna_owns_a_lead(sessions, clock, anna)
    ringing = _Pbx(Dialled(ok=True))
    # no extension, then (with one) a PBX not configured: nothing asked, nothing held
    assert await _press(sessions, lead_id, anna, ringing, clock, config) is DialOutcome.NO_EXTENSION
    await _set_extension(sessions, anna, " 101 ")
    assert await _press(sessions, lead_id, anna, None, clock, config) is DialOutcome.NOT_CONFIGURED
    # not Anna's: Boris is refused as on every card action
    async with sessions() as session:
        refused = await request_call(session, lead_id, boris, ringing, clock.now(), config)
    assert refused.outcome is DialOutcome.REFUSED_ACTION
    assert refused.refusal is not None and refused.refusal.refusal is Refusal.NOT_YOURS
    # the PBX refuses, then fails by a bug (raises): the line is free each time
    refusing = _Pbx(Dialled(ok=False, message="Not enough money"))
    assert await _press(sessions, lead_id, anna, refusing, clock, config) is DialOutcome.PBX_REFUSED
    broken = _Pbx(RuntimeError("a bug"))
    with pytest.raises(RuntimeError):
        await _press(sessions, lead_id, anna, broken, clock, config)
    down = _Pbx(Dialled(ok=False, unreachable=True, message="HTTP 503"))
    assert await _press(sessions, lead_id, anna, down, clock, config) is DialOutcome.PBX_UNREACHABLE
    # it rings: extension stripped, the lead's phone; one event; the next press waits
    assert await _press(sessions, lead_id, anna, ringing, clock, config) is DialOutcome.CALLING
    assert ringing.asked == [("101", "+79001234567")]
    assert await _press(sessions, lead_id, anna, ringing, clock, config) is DialOutcome.IN_PROGRESS
    async with sessions() as session:
        kinds = (
            await session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id))
        ).all()
        lead = await session.get(Lead, lead_id)
    assert kinds.count("call_requested") == 1
    assert lead is not None and lead.updated_at == clock.now()


async def test_a_lead_without_a_phone_is_not_dialled(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    anna = staff["anna"]
    await _set_extension(sessions, anna, "101")
    lead_id = await _anna_owns_a_lead(sessions, clock, anna, phone=None)
    pbx = _Pbx(Dialled(ok=True))
    assert await _press(sessions, lead_id, anna, pbx, clock, config) is DialOutcome.NO_PHONE
    assert pbx.asked == []
