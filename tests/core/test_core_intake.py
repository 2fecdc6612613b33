"""The intake core on a real database, without Telegram or HTTP: matching, duplicates, outbox
(reading a request's fields is in tests/unit/test_intake_input.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadEvent, LeadStatus, OutboxKind, OutboxMessage, Staff


async def _count(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_new_lead_writes_lead_event_and_a_card_per_on_duty_manager(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", name="Ivan", phone="+79001234567")], clock.now()
        )
    assert result.created and result.status == LeadStatus.NEW and result.duplicate_of is None
    async with sessions() as session:
        cards = (await session.scalars(select(OutboxMessage))).all()
        events = (await session.scalars(select(LeadEvent))).all()
    # two managers on duty get a card; the supervisor does not
    assert sorted(c.chat_id for c in cards) == [1001, 1002]
    assert {c.kind for c in cards} == {OutboxKind.CARD}
    assert [e.kind for e in events] == ["created"]


async def test_team_chat_gets_the_only_card_when_configured(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        await intake_leads(
            session,
            [LeadInput(source="web_form", message="hi")],
            clock.now(),
            leads_chat_id=-100500,
        )
    async with sessions() as session:
        assert [c.chat_id for c in (await session.scalars(select(OutboxMessage))).all()] == [
            -100500
        ]


async def test_same_external_id_from_same_source_creates_nothing(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    item = LeadInput(source="tilda", external_id="f-1", phone="+79001234567")
    async with sessions() as session:
        [first] = await intake_leads(session, [item], clock.now())
    async with sessions() as session:
        [again] = await intake_leads(session, [item], clock.now())
    async with sessions() as session:
        [other_source] = await intake_leads(
            session, [LeadInput(source="marquiz", external_id="f-1", email="a@b.ru")], clock.now()
        )
    assert first.created and not again.created and again.lead_id == first.lead_id
    assert other_source.created and other_source.lead_id != first.lead_id
    assert await _count(sessions, Lead) == 2


async def test_second_request_from_open_lead_contact_joins_it(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        [first] = await intake_leads(
            session,
            [LeadInput(source="web_form", phone="+79001234567", message="one")],
            clock.now(),
        )
    async with sessions() as session:
        [second] = await intake_leads(
            session,
            [LeadInput(source="web_form", phone="+79001234567", message="two")],
            clock.now(),
        )
    assert not second.created
    assert second.lead_id == second.duplicate_of == first.lead_id
    assert await _count(sessions, Lead) == 1
    assert await _count(sessions, Contact) == 1
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all()
    assert kinds == ["created", "repeat_request"]


async def test_two_requests_in_one_batch_from_one_person_make_one_lead(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    async with sessions() as session:
        results = await intake_leads(
            session,
            [
                LeadInput(source="web_form", email="a@b.ru", message="1"),
                LeadInput(source="web_form", email="a@b.ru", phone="+79001234567", message="2"),
            ],
            clock.now(),
        )
    assert results[0].created and not results[1].created
    assert results[1].duplicate_of == results[0].lead_id
    async with sessions() as session:
        contact = await session.scalar(select(Contact))
    assert contact is not None and contact.phone == "+79001234567"  # learnt from the second


async def test_contact_with_only_closed_leads_gets_a_new_repeat_lead(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    async with sessions() as session:
        [first] = await intake_leads(
            session, [LeadInput(source="web_form", email="a@b.ru")], clock.now()
        )
        lead = await session.get(Lead, first.lead_id)
        assert lead is not None
        lead.status = LeadStatus.JUNK
        await session.commit()
    async with sessions() as session:
        [second] = await intake_leads(
            session, [LeadInput(source="web_form", email="a@b.ru")], clock.now()
        )
        new = await session.get(Lead, second.lead_id)
    assert second.created and second.lead_id != first.lead_id
    assert new is not None and new.is_repeat
