"""The outbox's database side: what a sender may take, and when it should look again."""

from __future__ import annotations

from datetime import timedelta

from bot.common.clock import ManualClock
from bot.common.outbox import claim_due, mark_retry, next_due_at
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from storage.db import SessionFactory
from storage.models import Staff

LEASE = timedelta(seconds=60)


async def _three_cards(sessions: SessionFactory, clock: ManualClock) -> None:
    async with sessions() as session:
        await intake_leads(
            session,
            [LeadInput(source="web_form", email=f"{n}@x.ru") for n in range(3)],
            clock.now(),
        )


async def test_a_claimed_row_is_not_handed_out_twice(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    await _three_cards(sessions, clock)  # two managers on duty: six cards
    async with sessions() as session:
        first = await claim_due(session, clock.now(), 4, LEASE)
    held = {row.id for row in first}
    async with sessions() as session:
        second = await claim_due(session, clock.now(), 10, LEASE, held=held)
    assert len(first) == 4 and len(second) == 2
    assert held.isdisjoint(row.id for row in second)
    async with sessions() as session:
        third = await claim_due(session, clock.now(), 10, LEASE, held=held | {r.id for r in second})
    assert third == []


async def test_a_postponed_row_waits_and_says_when_it_is_due(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    await _three_cards(sessions, clock)
    async with sessions() as session:
        rows = await claim_due(session, clock.now(), 10, LEASE)
        assert await next_due_at(session) is None  # nothing postponed
        later = clock.now() + timedelta(seconds=30)
        await mark_retry(session, rows[0].id, 1, later, "502 Bad Gateway")
        await session.commit()
    async with sessions() as session:
        assert await next_due_at(session) == later
        due_now = await claim_due(session, clock.now(), 10, LEASE, held={r.id for r in rows[1:]})
    assert due_now == []  # the postponed row is not due yet
    clock.advance(timedelta(seconds=31))
    async with sessions() as session:
        due_later = await claim_due(session, clock.now(), 10, LEASE, held={r.id for r in rows[1:]})
    assert [row.id for row in due_later] == [rows[0].id]
