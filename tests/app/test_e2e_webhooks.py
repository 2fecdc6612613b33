"""End to end: a web-form lead, taken and converted by Anna in Telegram, flows out as signed
webhooks to the company's receiver, and its deal lands in Bitrix24; Anna's card then shows
the deal's and the contact's ids there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from handlers.web.schemas.webhooks import WebhookEnvelope
from storage.models import Staff
from tests.harness import ANNA, Intake, Phone, outbox_sent, running_app, unpaced_config
from tests.webhook_stands import SECRET, Bitrix24Stand, Receiver, webhooks_delivered


@pytest.fixture
async def receiver(clock: ManualClock) -> AsyncIterator[Receiver]:
    stand = Receiver(clock)
    await stand.start()
    yield stand
    await stand.stop()


@pytest.fixture
async def portal() -> AsyncIterator[Bitrix24Stand]:
    stand = Bitrix24Stand()
    await stand.start()
    yield stand
    await stand.stop()


async def test_a_taken_and_converted_lead_reaches_the_receiver_and_bitrix24(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    receiver: Receiver,
    portal: Bitrix24Stand,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_CRM_SECRET", SECRET)  # secrets come from the environment
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", portal.url)
    hook = {
        "name": "crm",
        "url": receiver.url,
        "events": ["lead.created", "lead.taken", "lead.converted"],
        "secret_env": "WEBHOOK_CRM_SECRET",
    }
    config = unpaced_config(webhooks=[hook], crm={"bitrix24": {}})
    async with (
        running_app(emulator, database_url, clock, config=config) as app,
        aiohttp.ClientSession() as http,
    ):
        anna = Phone(emulator, ANNA)
        await anna.write("/start")
        status, _ = await Intake(app, http).post(
            {"name": "Ivan <b>Petrov</b>", "phone": "+79001234567", "service": "Kitchen"}
        )
        assert status == 201
        card = await anna.next_message(1, "Lead #1")
        await anna.press(card, "lead:take")
        amount = await anna.press_for_reply(card, "lead:convert")
        assert "Deal amount" in amount.text
        done = await anna.write("15000")
        assert done.text.startswith("✅ Lead #1 is a deal")
        await webhooks_delivered(app.sessions)
        # the ids came back: Anna's card is redrawn with them
        shown = await anna.until(card, "🔗 Bitrix24: deal 47, contact 46")
        await outbox_sent(app.sessions)
    assert "Ivan &lt;b&gt;Petrov&lt;/b&gt;" not in (shown.text or "")  # the card shows text
    assert "Ivan <b>Petrov</b>" in (shown.text or "")
    assert [(r.event, r.status, r.signed) for r in receiver.requests] == [
        ("lead.created", 200, True),
        ("lead.taken", 200, True),
        ("lead.converted", 200, True),
    ]
    for request in receiver.requests:  # every body is what the OpenAPI document says
        WebhookEnvelope.model_validate(request.payload)
    taken = receiver.requests[1].payload
    assert taken["actor"] == {"telegram_id": ANNA, "name": "Anna"}
    assert receiver.requests[2].payload["lead"]["amount"] == "15000.00"
    assert portal.methods() == [
        "crm.contact.list",
        "crm.contact.add",
        "crm.deal.list",
        "crm.deal.add",
    ]
    assert portal.broken == []
    [deal] = portal.deals.values()
    assert "Owner: Anna" in deal["COMMENTS"] and deal["OPPORTUNITY"] == "15000.00"
