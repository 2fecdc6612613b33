"""End to end: a client helps themselves in the bot (handlers/self_service/) through the real
application and the emulated Bot API: leaves a request with buttons and a shared phone, sees
it, moves its call, nudges the team, cancels it; a second request, a slot that has passed and
a forged press are refused with a clear answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.leads.call_backs import schedule_call_back
from storage.db import SessionFactory
from storage.models import Lead, LeadStatus, Staff
from tests.conftest import FSM_STORAGES
from tests.harness import ANNA, BORIS, STRANGER, Phone, card_buttons, running_app, unpaced_config

KATE = 7001
SERVICES = [
    {"code": "install", "ru": "Установка", "en": "Installation"},
    {"code": "repair", "ru": "Ремонт", "en": "Repair"},
]
# Monday 5 Jan 2026, 12:00 in Moscow (the clock's start): the team works until 19:00
MONDAY_NOON = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def self_app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    redis_url: str | None,
) -> AsyncIterator[Application]:
    config = unpaced_config(services=SERVICES)
    async with running_app(
        emulator, database_url, clock, config=config, redis_url=redis_url
    ) as application:
        yield application


def _data(message: BotMessage, text: str) -> str:
    """The callback data of the button showing `text`."""
    found = [data for label, data in card_buttons(message) if label == text]
    assert found, f"no button {text!r} on {card_buttons(message)}"
    return found[0]


async def _press(phone: Phone, message: BotMessage, text: str, contains: str) -> BotMessage:
    """Press the button showing `text`; the bot's next message that contains `contains`."""
    before = len(phone.messages())
    await phone.press_data(message, _data(message, text))
    return await phone.next_message(before, contains)


async def _kate(emulator: TelegramEmulator) -> tuple[Phone, BotMessage]:
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    emulator.add_user(KATE, "Kate <b>", language_code="en")
    kate = Phone(emulator, KATE)
    menu = await kate.write("/start", "Hello!")
    return kate, menu


async def _leave(kate: Phone, menu: BotMessage, slot: str = "Today 13:00") -> BotMessage:
    services = await _press(kate, menu, "📝 Leave a request", "What do you need?")
    slots = await _press(kate, services, "Installation", "When is it convenient")
    await _press(kate, slots, slot, "share your phone number")
    before = len(kate.messages())
    kate.emulator.send_contact(KATE, "+7 900 555-44-33")
    return await kate.next_message(before, "request #")


# the picks wait in the dialogue's storage between presses: Redis too (several instances)
@pytest.mark.parametrize("fsm_storage", FSM_STORAGES, indirect=True)
async def test_a_client_leaves_a_request_with_buttons_and_a_manager_gets_its_card(
    emulator: TelegramEmulator, self_app: Application, sessions: SessionFactory, clock: ManualClock
) -> None:
    kate, menu = await _kate(emulator)
    assert menu.text.startswith("Hello! This is the sales team's bot. Leave a request")
    assert [text for text, _ in card_buttons(menu)] == [
        "📝 Leave a request",
        "📋 My request",
        "⏰ Still waiting?",
    ]
    services = await _press(kate, menu, "📝 Leave a request", "What do you need?")
    assert [text for text, _ in card_buttons(services)] == ["Installation", "Repair"]
    slots = await _press(kate, services, "Installation", "When is it convenient")
    # 12:00 + 30 min notice: today from 12:30, three a row, twelve shown
    shown = [text for text, _ in card_buttons(slots)]
    assert shown[:3] == ["Today 12:30", "Today 13:00", "Today 13:30"] and len(shown) == 12
    assert all(len(data.encode()) <= 64 for _, data in card_buttons(slots))
    # she looks away; at 12:10 the 12:30 slot is within the notice: refused, fresh times shown
    clock.advance(timedelta(minutes=10))
    gone = await _press(kate, slots, "Today 12:30", "no longer available")
    assert gone.text == "⌛ That time is no longer available. Please pick another one."
    fresh = await kate.next_message(len(kate.messages()) - 1, "When is it convenient")
    assert card_buttons(fresh)[0][0] == "Today 13:00"
    ask = await _press(kate, fresh, "Today 13:00", "share your phone number")
    assert ask.reply_markup is not None
    assert ask.reply_markup["keyboard"][0][0]["request_contact"] is True
    before = len(kate.messages())
    emulator.send_contact(KATE, "+7 900 555-44-33")
    done = await kate.next_message(before, "request #")
    assert done.text == (
        "✅ Thank you! Your request #1 is received: Installation. A manager will call you "
        "5 Jan 13:00 (our time). Its status is under «My request» in /start."
    )
    card = await Phone(emulator, ANNA).next_message(1, "Lead #1")
    assert "Kate &lt;b&gt;" in card.text or "Kate <b>" in card.text
    assert "+7 900 555-44-33" in card.text and "🛠 Установка" in card.text
    assert "📅 Позвоните мне: 05.01 13:00 (выбрано в боте)" in card.text
    # a second request while this one is open: told which one is open and how it stands
    menu = await kate.write("/start", "Hello!")
    again = await _press(kate, menu, "📝 Leave a request", "already have")
    assert again.text.startswith(
        "📋 You already have an open request #1: received, a manager will take it soon."
    )
    mine = await _press(kate, menu, "📋 My request", "Your request #1")
    assert "Received: a manager will take it soon." in mine.text
    assert "The time you picked for a call: 5 Jan 13:00 (our time)." in mine.text
    async with sessions() as session:
        leads = (await session.scalars(select(Lead))).all()
    assert [(lead.phone, lead.source) for lead in leads] == [("+79005554433", "telegram")]


async def test_a_client_moves_the_call_back_nudges_and_cancels_and_the_owner_is_told(
    emulator: TelegramEmulator,
    self_app: Application,
    sessions: SessionFactory,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    kate, menu = await _kate(emulator)
    await _leave(kate, menu)
    anna = Phone(emulator, ANNA)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "yours")
    async with sessions() as session:  # Anna promises a call at 14:00 (11:00 UTC)
        due = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
        assert (await schedule_call_back(session, 1, staff["anna"], due, clock.now())).ok

    mine = await _press(kate, menu, "📋 My request", "Your request #1")
    assert "A manager will call you back 5 Jan 14:00 (our time)." in mine.text
    slots = await _press(kate, mine, "🕒 Move the call", "Pick another time")
    before = len(anna.messages())
    moved = await _press(kate, slots, "Today 15:30", "Done")
    assert moved.text == "✅ Done: the manager will call you 5 Jan 15:30 (our time)."
    told = await anna.next_message(before, "moved your call-back")
    assert told.text == "🕒 The client of lead #1 moved your call-back to 5 Jan 15:30 in the bot."
    await anna.until(card, "15:30")  # her card shows the new time

    nudged = await _press(kate, mine, "⏰ Still waiting?", "reminded")
    assert nudged.text.startswith("🔔 We have reminded the team of your request #1.")
    assert "still waiting" in (await anna.next_message(before, "still waiting")).text
    again = await _press(kate, menu, "⏰ Still waiting?", "already reminded")
    assert again.text == (
        "🔔 We have already reminded the team; you can remind us again from 5 Jan 16:00 (our time)."
    )

    # a stranger's forged press on Kate's request changes nothing
    stranger = Phone(emulator, STRANGER)
    his_menu = await stranger.write("/start", "Hello!")
    before_his = len(stranger.messages())
    await stranger.press_data(his_menu, "csl:yes:1")
    forged = await stranger.next_message(before_his, "no longer open")
    assert forged.text.startswith("⚠️ This request is no longer open (or is not yours).")

    confirm = await _press(kate, mine, "✖️ Cancel my request", "Cancel your request #1?")
    cancelled = await _press(kate, confirm, "Yes, cancel it", "cancelled")
    assert cancelled.text == "✖️ Your request #1 is cancelled. If you need us again, /start."
    gone = await anna.next_message(before, "cancelled the request")
    assert gone.text.startswith("✖️ The client of lead #1 cancelled the request in the bot")
    await anna.until(card, "cancelled by the client")  # the card: refused, with the reason
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and (lead.status, lead.close_reason) == (
        LeadStatus.REFUSED,
        "client_cancelled",
    )
    # an old Move button on a closed request: refused, not a second call-back
    stale = await _press(kate, mine, "🕒 Move the call", "no longer open")
    assert stale.text.startswith("⚠️ This request is no longer open")


async def test_forged_presses_and_a_wrong_phone_get_clear_answers_in_the_clients_language(
    emulator: TelegramEmulator, self_app: Application, sessions: SessionFactory
) -> None:
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    emulator.add_user(KATE, "Катя", language_code="ru")
    kate = Phone(emulator, KATE)
    menu = await kate.write("/start", "Здравствуйте!")
    assert card_buttons(menu)[0][0] == "📝 Оставить заявку"

    async def forged(data: str, contains: str) -> str:
        before = len(kate.messages())
        await kate.press_data(menu, data)
        return (await kate.next_message(before, contains)).text or ""

    # a service that is not (or no longer) offered, a slot that never was one, one long past
    assert (await forged("csv:massage", "больше не оказываем")).startswith("⚠️ Эту услугу")
    assert (await forged("cst:5:0:install", "недоступно")).startswith("⌛ Это время")
    assert (await forged("cst:29432880:0:install", "недоступно")).startswith("⌛ Это время")
    assert (await forged("csl:move:1", "не ваша")).startswith("⚠️ Эта заявка уже закрыта")
    assert "нет открытой заявки" in await forged("csm:nudge", "нет открытой")

    services = await _press(kate, menu, "📝 Оставить заявку", "Выберите услугу")
    slots = await _press(kate, services, "Ремонт", "Когда вам удобно")
    assert [text for text, _ in card_buttons(slots)][:2] == ["Сегодня 12:30", "Сегодня 13:00"]
    await _press(kate, slots, "Сегодня 13:00", "поделитесь номером")
    # words instead of the button, and someone else's contact card: asked again, no lead yet
    hint = await kate.write("позвоните <b>скорее</b> 🙏" * 500, "кнопку")
    assert hint.text.startswith("📱 Нажмите кнопку «Поделиться номером» ниже")
    before = len(kate.messages())
    someone = {"phone_number": "+79001112233", "first_name": "Oleg", "user_id": STRANGER}
    emulator.send_contact(KATE, "+7 900 111-22-33", contact=someone)
    own = await kate.next_message(before, "своим номером")
    assert own.text.startswith("Поделитесь, пожалуйста, своим номером кнопкой ниже")
    async with sessions() as session:
        assert (await session.scalars(select(Lead))).all() == []
    before = len(kate.messages())
    emulator.send_contact(KATE, "+7 900 555-44-33")
    done = await kate.next_message(before, "заявка #1")
    assert done.text == (
        "✅ Спасибо! Ваша заявка #1 принята: Ремонт. Менеджер позвонит 05.01 13:00 "
        "(по нашему времени). Её статус — в «Моя заявка» по /start."
    )
