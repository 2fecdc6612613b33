"""The Bitrix24 hand-off against a stand-in portal that takes only the methods and fields
Bitrix24's REST documents: a converted lead becomes a contact and a deal bound to it, the ids
are kept on the lead and shown on its card; a 5xx is retried without a second contact, a lost
answer is found again instead of made twice, and a refusal fails at once with the admins told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.adapters.webhooks.sender import WebhookSender
from bot.common.clock import ManualClock
from bot.config import AppConfig, OutboundSecrets, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import load_lead, reopen_lead, take_lead
from bot.leads.cards import card_for
from bot.leads.qualify import convert_lead
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import (
    HookDelivery,
    Lead,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Role,
    Staff,
)
from tests.webhook_stands import Bitrix24Stand, drain

LEAD = {
    "name": "Ivan Petrov",
    "phone": "+79001234567",
    "email": "ivan@example.com",
    "service": "Group tour",
    "utm": {"utm_source": "yandex", "utm_campaign": "spring"},
}


@pytest.fixture
async def stand() -> AsyncIterator[Bitrix24Stand]:
    portal = Bitrix24Stand()
    await portal.start()
    yield portal
    await portal.stop()


def _config(**bitrix24: Any) -> AppConfig:
    rules = {"source_ids": {"tilda": "WEB"}} | bitrix24
    return load_app_config(overrides={"crm": {"bitrix24": rules}})


def _sender(
    sessions: SessionFactory, config: AppConfig, clock: ManualClock, stand: Bitrix24Stand
) -> WebhookSender:
    return WebhookSender(sessions, config, OutboundSecrets({}, SecretStr(stand.url)), clock)


async def _converted(
    sessions: SessionFactory,
    clock: ManualClock,
    anna: Staff,
    config: AppConfig,
    **fields: Any,
) -> int:
    item = LeadInput(source="tilda", **(LEAD | fields))
    async with sessions() as session:
        [result] = await intake_leads(session, [item], clock.now(), config=config)
    async with sessions() as session:
        assert (await take_lead(session, result.lead_id, anna, clock.now(), config)).ok
    answers = {"amount": Decimal("15000")}
    async with sessions() as session:
        assert (await convert_lead(session, result.lead_id, anna, answers, clock.now(), config)).ok
    return result.lead_id


async def _lead(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await load_lead(session, lead_id)
    assert lead is not None
    return lead


async def test_a_converted_lead_becomes_a_contact_and_a_deal_shown_on_its_card(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    stand: Bitrix24Stand,
) -> None:
    config = _config()
    lead_id = await _converted(sessions, clock, staff["anna"], config)
    sender = _sender(sessions, config, clock, stand)
    try:
        assert await sender.deliver_due() == 1
    finally:
        await sender.close()
    assert stand.broken == []
    assert stand.methods() == [
        "crm.contact.list",
        "crm.contact.add",
        "crm.deal.list",
        "crm.deal.add",
    ]
    [(contact_id, contact)] = stand.contacts.items()
    assert contact == {
        "NAME": "Ivan Petrov",
        "OPENED": "Y",
        "ORIGINATOR_ID": "leadbot",
        "ORIGIN_ID": "contact-1",
        "SOURCE_DESCRIPTION": "tilda",
        "SOURCE_ID": "WEB",
        "UTM_SOURCE": "yandex",
        "UTM_CAMPAIGN": "spring",
        "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "ivan@example.com", "VALUE_TYPE": "WORK"}],
    }
    [(deal_id, deal)] = stand.deals.items()
    assert deal == {
        "TITLE": f"Group tour (leadbot #{lead_id})",
        "CONTACT_IDS": [contact_id],
        "CURRENCY_ID": "RUB",
        "OPPORTUNITY": "15000.00",
        "COMMENTS": f"leadbot lead #{lead_id}\nOwner: Anna\nService: Group tour",
        "OPENED": "Y",
        "ORIGINATOR_ID": "leadbot",
        "ORIGIN_ID": f"lead-{lead_id}",
        "SOURCE_DESCRIPTION": "tilda",
        "SOURCE_ID": "WEB",
        "UTM_SOURCE": "yandex",
        "UTM_CAMPAIGN": "spring",
    }
    assert stand.calls[0][1] == {
        "filter": {"ORIGINATOR_ID": "leadbot", "ORIGIN_ID": "contact-1"},
        "select": ["ID"],
    }
    assert stand.calls[1][1]["params"] == {"REGISTER_SONET_EVENT": "N"}

    lead = await _lead(sessions, lead_id)
    assert (lead.bitrix24_contact_id, lead.bitrix24_deal_id) == (46, 47) == (contact_id, deal_id)
    async with sessions() as session:
        [row] = await session.scalars(select(HookDelivery))
        refreshes = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.kind == OutboxKind.CARD_REFRESH, OutboxMessage.lead_id == lead_id
            )
        )
        view, _ = await card_for(session, lead, staff["anna"].id, config, clock.now())
    assert row.state == OutboxState.SENT and row.attempts == 0
    assert len(list(refreshes)) == 3  # take, convert, and the ids: every copy is redrawn
    assert "🔗 Битрикс24: сделка 47, контакт 46" in view.text  # Anna reads Russian

    # converted again after a reopen: it has its deal, nothing is made twice
    async with sessions() as session:
        assert (await reopen_lead(session, lead_id, staff["sveta"], clock.now(), config)).ok
    answers = {"amount": Decimal("15000")}
    async with sessions() as session:
        again = await convert_lead(session, lead_id, staff["anna"], answers, clock.now(), config)
        assert again.ok
    sender = _sender(sessions, config, clock, stand)
    try:
        assert await sender.deliver_due() == 1
    finally:
        await sender.close()
    assert len(stand.calls) == 4 and len(stand.deals) == 1


async def test_a_5xx_is_retried_without_a_second_contact(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    stand: Bitrix24Stand,
) -> None:
    config = _config()
    lead_id = await _converted(sessions, clock, staff["anna"], config)
    stand.faults = {"crm.deal.add": ["500"]}
    sender = _sender(sessions, config, clock, stand)
    try:
        await sender.deliver_due()
        lead = await _lead(sessions, lead_id)
        # the contact's id was kept the moment it came, before the deal failed
        assert (lead.bitrix24_contact_id, lead.bitrix24_deal_id) == (46, None)
        async with sessions() as session:
            [row] = await session.scalars(select(HookDelivery))
        assert row.state == OutboxState.PENDING and row.attempts == 1
        assert "INTERNAL_SERVER_ERROR" in (row.last_error or "")
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    assert stand.methods() == [
        "crm.contact.list",
        "crm.contact.add",
        "crm.deal.list",
        "crm.deal.add",  # 500
        "crm.deal.list",
        "crm.deal.add",
    ]
    assert (len(stand.contacts), len(stand.deals), stand.broken) == (1, 1, [])
    lead = await _lead(sessions, lead_id)
    assert (lead.bitrix24_contact_id, lead.bitrix24_deal_id) == (46, 47)


async def test_an_answer_lost_on_the_way_is_found_again_not_made_twice(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    stand: Bitrix24Stand,
) -> None:
    config = _config()
    lead_id = await _converted(sessions, clock, staff["anna"], config)
    # each add is done by Bitrix24, but its answer never arrives
    stand.faults = {"crm.contact.add": ["lost"], "crm.deal.add": ["lost"]}
    sender = _sender(sessions, config, clock, stand)
    try:
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    assert stand.methods() == [
        "crm.contact.list",
        "crm.contact.add",  # made, its answer lost
        "crm.contact.list",  # the retry finds it (and keeps its id)
        "crm.deal.list",
        "crm.deal.add",  # made, its answer lost
        "crm.deal.list",  # the retry finds it; the contact was kept, not looked for again
    ]
    assert (len(stand.contacts), len(stand.deals), stand.broken) == (1, 1, [])
    lead = await _lead(sessions, lead_id)
    assert (lead.bitrix24_contact_id, lead.bitrix24_deal_id) == (46, 47)


async def test_a_refusal_fails_at_once_and_the_admins_are_told_why(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    stand: Bitrix24Stand,
) -> None:
    config = _config(currency_id="XYZ")  # a currency this portal does not have
    async with sessions() as session:
        alex = await add_staff(session, 1004, Role.ADMIN, "Alex", clock.now())
    lead_id = await _converted(sessions, clock, staff["anna"], config)
    sender = _sender(sessions, config, clock, stand)
    try:
        assert await sender.deliver_due() == 1
        assert await sender.deliver_due() == 0  # not retried
    finally:
        await sender.close()
    async with sessions() as session:
        [row] = await session.scalars(select(HookDelivery))
        [told] = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == alex.telegram_id)
        )
    assert row.state == OutboxState.FAILED and row.attempts == 1
    assert told.payload["template"] == "webhook_failed"
    context = told.payload["context"]
    assert (context["target"], context["event"], context["lead_id"]) == (
        "bitrix24",
        "lead.converted",
        lead_id,
    )
    assert context["error"] == (
        'Bitrix24 crm.deal.add: HTTP 400: Invalid value for the "Currency" field'
    )
    lead = await _lead(sessions, lead_id)
    assert (lead.bitrix24_contact_id, lead.bitrix24_deal_id) == (46, None)
    assert stand.broken == []


async def test_hostile_strings_reach_bitrix24_as_written(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    stand: Bitrix24Stand,
) -> None:
    config = _config()
    name = '<b>Иван</b> "Петров" [URL=javascript:alert(1)]x[/URL] 🎉 ' + "я" * 60
    message = "строка\nещё <script>" + "ж" * 10_000
    service = "[B]VIP[/B] & <i>тур</i> " + "ё" * 300
    lead_id = await _converted(
        sessions, clock, staff["anna"], config, name=name, message=message, service=service
    )
    sender = _sender(sessions, config, clock, stand)
    try:
        assert await sender.deliver_due() == 1
    finally:
        await sender.close()
    assert stand.broken == []
    [contact] = stand.contacts.values()
    [deal] = stand.deals.values()
    assert contact["NAME"] == name[:50]  # the name field is kept short; the whole name is in
    assert f"Name: {name}" in deal["COMMENTS"] and f"Message: {message}" in deal["COMMENTS"]
    suffix = f" (leadbot #{lead_id})"
    assert deal["TITLE"] == service[: 255 - len(suffix)] + suffix
    assert len(deal["TITLE"]) == 255
