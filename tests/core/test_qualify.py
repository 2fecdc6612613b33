"""Converting and qualifying a lead on a real database (bot/leads/qualify.py): `convert_lead`
refuses while a required field is empty and otherwise closes the deal with its fields, amount and
tasks; `qualify_lead` saves fields (columns or the lead's `extra`) and keeps the status; both
teach the lead's contact what it lacked without overwriting what it knew. Reading answers and the
deal fields' checks are in tests/unit/test_qualify_answers.py.

The default configuration asks for name, phone and service (required) and amount (optional).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.config import AppConfig, FieldKind
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import Refusal, junk_lead, take_lead
from bot.leads.call_backs import schedule_call_back
from bot.leads.qualify import convert_lead, qualify_lead, read_answer, shown_value
from storage.db import SessionFactory
from storage.models import (
    Contact,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    Staff,
    Task,
)

NNBSP = "\u202f"  # the narrow no-break space that groups thousands
PHONE = "+79001234567"


# ----------------------------------------------------------------------------------------------
# convert_lead and qualify_lead on the database


async def _taken_lead(
    sessions: SessionFactory, clock: ManualClock, who: Staff, **fields: Any
) -> int:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", **fields)], clock.now()
        )
    async with sessions() as session:
        assert (await take_lead(session, result.lead_id, who, clock.now())).ok
    clock.advance(timedelta(minutes=10))
    return result.lead_id


async def _stored(sessions: SessionFactory, lead_id: int) -> tuple[Lead, Contact]:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and lead.contact_id is not None
        contact = await session.get(Contact, lead.contact_id)
        assert contact is not None
    return lead, contact


async def _events(sessions: SessionFactory, lead_id: int, kind: str) -> list[LeadEvent]:
    async with sessions() as session:
        query = select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == kind)
        return list((await session.scalars(query.order_by(LeadEvent.id))).all())


async def _tasks(sessions: SessionFactory, lead_id: int) -> list[Task]:
    async with sessions() as session:
        query = select(Task).where(Task.lead_id == lead_id).order_by(Task.id)
        return list((await session.scalars(query)).all())


async def _refresh_count(sessions: SessionFactory, lead_id: int) -> int:
    async with sessions() as session:
        query = select(OutboxMessage).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.kind == OutboxKind.CARD_REFRESH
        )
        return len((await session.scalars(query)).all())


async def _with_call_back(
    sessions: SessionFactory, clock: ManualClock, lead_id: int, who: Staff
) -> None:
    async with sessions() as session:
        due = clock.now() + timedelta(hours=4)
        assert (await schedule_call_back(session, lead_id, who, due, clock.now())).ok
    clock.advance(timedelta(minutes=10))


@pytest.mark.parametrize(
    ("fields", "answers", "missing"),
    [
        ({"name": "Иван", "phone": PHONE}, {}, ("service",)),
        ({"phone": PHONE}, {"name": "Иван"}, ("service",)),
        ({"name": "Иван", "phone": PHONE}, {"service": ""}, ("service",)),
        ({"phone": PHONE, "service": "Кухня"}, {"amount": Decimal("10.00")}, ("name",)),
        ({"email": "ivan@example.com"}, {}, ("name", "phone", "service")),
        ({"message": "Перезвоните"}, {"service": "Кухня"}, ("name", "phone")),
    ],
    ids=["service", "service-after-answers", "empty-answer", "name", "all", "name-and-phone"],
)
async def test_converting_with_a_required_field_empty_is_refused_naming_it_and_changes_nothing(
    fields: dict[str, str],
    answers: dict[str, Any],
    missing: tuple[str, ...],
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], **fields)
    await _with_call_back(sessions, clock, lead_id, staff["anna"])
    before, contact_before = await _stored(sessions, lead_id)
    refreshes_before = await _refresh_count(sessions, lead_id)
    async with sessions() as session:
        result = await convert_lead(session, lead_id, staff["anna"], answers, clock.now(), config)

    assert (result.refusal, result.missing) == (Refusal.MISSING_FIELDS, missing)
    assert result.lead is not None and result.lead.id == lead_id
    lead, contact = await _stored(sessions, lead_id)
    assert (lead.status, lead.version, lead.closed_at) == (
        LeadStatus.CALL_BACK,
        before.version,
        None,
    )
    assert (lead.name, lead.phone, lead.service, lead.amount) == (
        before.name,
        before.phone,
        before.service,
        None,
    )
    assert (contact.name, contact.phone) == (contact_before.name, contact_before.phone)
    assert await _events(sessions, lead_id, "convert") == []
    assert await _refresh_count(sessions, lead_id) == refreshes_before
    [task] = await _tasks(sessions, lead_id)
    assert task.done_at is None


async def test_converting_with_answers_for_the_missing_fields_closes_the_deal(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], phone=PHONE)
    await _with_call_back(sessions, clock, lead_id, staff["anna"])
    answers = {"name": "Иван Петров", "service": "Кухня", "amount": Decimal("150000.00")}
    async with sessions() as session:
        result = await convert_lead(session, lead_id, staff["anna"], answers, clock.now(), config)

    assert result.ok and result.missing == ()
    lead, _ = await _stored(sessions, lead_id)
    assert lead.status == LeadStatus.CONVERTED
    assert (lead.name, lead.phone, lead.service) == ("Иван Петров", PHONE, "Кухня")
    assert isinstance(lead.amount, Decimal) and lead.amount == Decimal("150000.00")
    assert lead.closed_at == clock.now()
    assert lead.extra == {}
    [task] = await _tasks(sessions, lead_id)
    assert task.done_at == clock.now()
    [event] = await _events(sessions, lead_id, "convert")
    assert event.actor_id == staff["anna"].id
    assert event.data == {
        "fields": {"name": "Иван Петров", "service": "Кухня", "amount": "150000.00"},
        "amount": "150000.00",
    }


async def test_converting_without_an_amount_records_a_deal_without_one(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(
        sessions, clock, staff["anna"], name="Иван", phone=PHONE, service="Кухня"
    )
    async with sessions() as session:
        result = await convert_lead(session, lead_id, staff["anna"], {}, clock.now(), config)

    assert result.ok
    lead, _ = await _stored(sessions, lead_id)
    assert (lead.status, lead.amount) == (LeadStatus.CONVERTED, None)
    [event] = await _events(sessions, lead_id, "convert")
    assert event.data == {"fields": {}}


async def test_converting_reports_the_amount_recorded_while_qualifying(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], name="Иван", phone=PHONE)
    async with sessions() as session:
        assert (
            await qualify_lead(
                session, lead_id, staff["anna"], {"amount": Decimal("5000.00")}, clock.now()
            )
        ).ok
    async with sessions() as session:
        result = await convert_lead(
            session, lead_id, staff["anna"], {"service": "Окна"}, clock.now(), config
        )

    assert result.ok
    lead, _ = await _stored(sessions, lead_id)
    assert lead.amount == Decimal("5000.00")
    [event] = await _events(sessions, lead_id, "convert")
    assert event.data == {"fields": {"service": "Окна"}, "amount": "5000.00"}


async def test_converting_fills_the_contacts_empty_name_and_phone(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], email="ivan@example.com")
    _, contact = await _stored(sessions, lead_id)
    assert (contact.name, contact.phone, contact.email) == (None, None, "ivan@example.com")
    answers = {"name": "Иван Петров", "phone": PHONE, "service": "Кухня"}
    async with sessions() as session:
        assert (
            await convert_lead(session, lead_id, staff["anna"], answers, clock.now(), config)
        ).ok

    lead, contact = await _stored(sessions, lead_id)
    assert (contact.name, contact.phone, contact.email) == (
        "Иван Петров",
        PHONE,
        "ivan@example.com",
    )
    assert (lead.name, lead.phone) == ("Иван Петров", PHONE)


async def test_converting_never_overwrites_what_the_contact_already_holds(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(
        sessions, clock, staff["anna"], name="Ваня", phone=PHONE, email="ivan@example.com"
    )
    answers = {
        "name": "Иван Петров",
        "phone": "+79007654321",
        "email": "petrov@example.com",
        "service": "Кухня",
    }
    async with sessions() as session:
        assert (
            await convert_lead(session, lead_id, staff["anna"], answers, clock.now(), config)
        ).ok

    lead, contact = await _stored(sessions, lead_id)
    assert (contact.name, contact.phone, contact.email) == ("Ваня", PHONE, "ivan@example.com")
    # the lead itself records what the manager confirmed in the dialogue
    assert (lead.name, lead.phone, lead.email) == (
        "Иван Петров",
        "+79007654321",
        "petrov@example.com",
    )


async def test_converting_a_lead_nobody_has_taken_is_outdated(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    async with sessions() as session:
        [created] = await intake_leads(
            session, [LeadInput(source="web_form", name="Иван", phone=PHONE)], clock.now()
        )
    async with sessions() as session:
        result = await convert_lead(
            session, created.lead_id, staff["sveta"], {"service": "Кухня"}, clock.now(), config
        )

    assert result.refusal == Refusal.OUTDATED
    lead, _ = await _stored(sessions, created.lead_id)
    assert (lead.status, lead.service, lead.closed_at) == (LeadStatus.NEW, None, None)


async def test_converting_a_missing_lead_is_not_found(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    async with sessions() as session:
        result = await convert_lead(session, 999_999, staff["anna"], {}, clock.now(), config)
    assert (result.refusal, result.lead) == (Refusal.NOT_FOUND, None)


async def test_qualifying_saves_columns_and_other_fields_in_extra_and_keeps_the_status(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(
        sessions, clock, staff["anna"], phone=PHONE, extra={"form": "kitchen"}
    )
    before, _ = await _stored(sessions, lead_id)
    refreshes_before = await _refresh_count(sessions, lead_id)
    answers = {
        "name": "Иван",
        "service": "Кухня",
        "amount": Decimal("1500.50"),
        "budget_source": "ипотека",
    }
    async with sessions() as session:
        result = await qualify_lead(session, lead_id, staff["anna"], answers, clock.now())

    assert result.ok
    lead, _ = await _stored(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.closed_at) == (
        LeadStatus.IN_WORK,
        staff["anna"].id,
        None,
    )
    assert (lead.name, lead.phone, lead.service) == ("Иван", PHONE, "Кухня")
    assert lead.amount == Decimal("1500.50")
    assert lead.extra == {"form": "kitchen", "budget_source": "ипотека"}
    assert (lead.version, lead.updated_at) == (before.version + 1, clock.now())
    [event] = await _events(sessions, lead_id, "qualified")
    assert event.actor_id == staff["anna"].id
    assert event.data == {
        "fields": {
            "name": "Иван",
            "service": "Кухня",
            "amount": "1500.50",
            "budget_source": "ипотека",
        }
    }
    assert await _refresh_count(sessions, lead_id) == refreshes_before + 1


async def test_qualifying_twice_merges_the_extra_fields(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], phone=PHONE)
    for answers in ({"budget_source": "ипотека", "floor": "3"}, {"floor": "5", "rooms": "2"}):
        async with sessions() as session:
            assert (await qualify_lead(session, lead_id, staff["anna"], answers, clock.now())).ok

    lead, _ = await _stored(sessions, lead_id)
    assert lead.extra == {"budget_source": "ипотека", "floor": "5", "rooms": "2"}
    assert len(await _events(sessions, lead_id, "qualified")) == 2


async def test_qualifying_a_lead_in_callback_keeps_it_in_callback_with_its_task_open(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], phone=PHONE)
    await _with_call_back(sessions, clock, lead_id, staff["anna"])
    async with sessions() as session:
        assert (
            await qualify_lead(session, lead_id, staff["anna"], {"service": "Окна"}, clock.now())
        ).ok

    lead, _ = await _stored(sessions, lead_id)
    assert (lead.status, lead.service) == (LeadStatus.CALL_BACK, "Окна")
    [task] = await _tasks(sessions, lead_id)
    assert task.done_at is None


async def test_qualifying_fills_the_contacts_empty_fields_without_overwriting(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"], phone=PHONE)
    answers = {"name": "Иван", "phone": "+79007654321", "email": "ivan@example.com"}
    async with sessions() as session:
        assert (await qualify_lead(session, lead_id, staff["anna"], answers, clock.now())).ok

    _, contact = await _stored(sessions, lead_id)
    assert (contact.name, contact.phone, contact.email) == ("Иван", PHONE, "ivan@example.com")


async def test_qualifying_a_new_lead_is_outdated_and_a_closed_one_closed(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    async with sessions() as session:
        [created] = await intake_leads(
            session, [LeadInput(source="web_form", phone=PHONE)], clock.now()
        )
    lead_id = created.lead_id
    async with sessions() as session:
        fresh = await qualify_lead(session, lead_id, staff["sveta"], {"name": "Иван"}, clock.now())
    async with sessions() as session:
        assert (
            await junk_lead(session, lead_id, staff["anna"], "spam", None, clock.now(), config)
        ).ok
    async with sessions() as session:
        closed = await qualify_lead(session, lead_id, staff["sveta"], {"name": "Иван"}, clock.now())

    assert fresh.refusal == Refusal.OUTDATED
    assert closed.refusal == Refusal.CLOSED
    lead, contact = await _stored(sessions, lead_id)
    assert (lead.name, contact.name) == (None, None)
    assert await _events(sessions, lead_id, "qualified") == []


async def test_a_typed_amount_round_trips_through_the_database(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    [amount_field] = [f for f in config.deal_fields if f.kind is FieldKind.AMOUNT]
    typed = read_answer(amount_field, "1 234 567,8 ₽", config.phone_region)
    lead_id = await _taken_lead(
        sessions, clock, staff["anna"], name="Иван", phone=PHONE, service="Кухня"
    )
    async with sessions() as session:
        assert (
            await convert_lead(
                session, lead_id, staff["anna"], {"amount": typed}, clock.now(), config
            )
        ).ok

    lead, _ = await _stored(sessions, lead_id)
    assert lead.amount == Decimal("1234567.80")
    assert shown_value(amount_field, lead.amount) == f"1{NNBSP}234{NNBSP}567.80"
