"""End to end: a web-form lead becomes a Telegram card; managers take it or junk it.

The real application (polling + HTTP + notifier) runs against the emulated Bot API, which
rejects whatever real Telegram would reject; each test says what the people involved see.
"""

from __future__ import annotations

import asyncio
import re
import socket

import aiohttp
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from storage.db import SessionFactory
from storage.models import Lead, LeadCard, LeadEvent, OutboxMessage, OutboxState, Staff
from tests.harness import (
    ANNA,
    BORIS,
    STRANGER,
    SVETA,
    TEAM_CHAT,
    Intake,
    button_data,
    card_buttons,
    running_app,
)

CARD = re.compile(r"^(Lead|Лид) #\d+")


async def _staff_open_the_bot(emulator: TelegramEmulator) -> None:
    """Staff press Start once (Telegram requires it); leadbot learns each one's language."""
    for who in (ANNA, BORIS):
        emulator.send_text(who, "/start")
    await emulator.wait_for(lambda: all(emulator.chat_messages(c) for c in (ANNA, BORIS)))


def _last_card(emulator: TelegramEmulator, chat: int) -> BotMessage | None:
    cards = [m for m in emulator.chat_messages(chat) if CARD.match(m.text or "")]
    return cards[-1] if cards else None


async def _cards(emulator: TelegramEmulator, *chats: int) -> list[BotMessage]:
    """The newest lead card in each chat, once every chat has one."""
    await emulator.wait_for(lambda: all(_last_card(emulator, c) for c in chats))
    return [_last_card(emulator, c) for c in chats]  # type: ignore[misc]


async def test_form_lead_reaches_every_on_duty_manager_as_a_card(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await _staff_open_the_bot(emulator)
    status, body = await intake.post(
        {
            "name": "Ivan Petrov",
            "phone": "8 (900) 123-45-67",
            "message": "Need a quote",
            "source": "web_form",
            "utm_source": "yandex",
        }
    )
    assert body.pop("telegram_link").startswith("https://t.me/leadbot_test_bot?start=c-")
    assert (status, body) == (201, {"id": 1, "status": "new", "duplicate_of": None})
    anna_card, boris_card = await _cards(emulator, ANNA, BORIS)
    # Anna's Telegram is in English, Boris's in Russian: each reads the card in their language
    assert "Lead #1" in anna_card.text and "Ivan Petrov" in anna_card.text
    assert "+7 900 123-45-67" in anna_card.text and "Need a quote" in anna_card.text
    assert "Лид #1" in boris_card.text
    assert [t for t, _ in card_buttons(anna_card)] == ["✋ Take", "🚫 Refuse", "🗑 Junk"]
    assert [t for t, _ in card_buttons(boris_card)] == ["✋ Взять", "🚫 Отказ", "🗑 Мусор"]
    assert emulator.chat_messages(SVETA) == []  # supervisors are not sent every lead


async def test_first_take_wins_and_every_other_card_says_who_took_it(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await intake.post({"name": "Ivan", "phone": "+79001234567"})
    anna_card, boris_card = await _cards(emulator, ANNA, BORIS)
    take = button_data(anna_card, "lead:take")

    query = emulator.press_button(ANNA, ANNA, anna_card.message_id, take)
    await emulator.wait_for(lambda: emulator.callback_answer(query) is not None)
    assert "is yours" in emulator.callback_answer(query)["text"]

    # Boris's copy is edited in place: who took it, and no buttons left
    await emulator.wait_for(lambda: "Anna" in emulator.message(BORIS, boris_card.message_id).text)
    boris_now = emulator.message(BORIS, boris_card.message_id)
    assert "взял(а) Anna" in boris_now.text and card_buttons(boris_now) == []
    anna_now = emulator.message(ANNA, anna_card.message_id)
    await emulator.wait_for(lambda: "yours" in emulator.message(ANNA, anna_card.message_id).text)
    anna_now = emulator.message(ANNA, anna_card.message_id)
    # the owner's copy now offers the next steps of the work
    assert [t for t, _ in card_buttons(anna_now)] == [
        "📞 Call back",
        "📝 Qualify",
        "✅ Convert",
        "🚫 Refuse",
        "🗑 Junk",
        "✏️ Note",
        "📜 History",
    ]

    # Boris presses the Take he still had on screen a moment ago: an alert, nothing changes
    late = emulator.press_button(BORIS, BORIS, boris_card.message_id, take)
    await emulator.wait_for(lambda: emulator.callback_answer(late) is not None)
    answer = emulator.callback_answer(late)
    assert answer["text"] == "Лид уже взял(а) Anna." and answer["show_alert"]
    async with sessions() as session:
        cards = (await session.scalars(select(LeadCard).order_by(LeadCard.chat_id))).all()
    assert [(c.chat_id, c.message_id) for c in cards] == [
        (ANNA, anna_card.message_id),
        (BORIS, boris_card.message_id),
    ]


async def test_ten_simultaneous_takes_give_one_owner(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await intake.post({"phone": "+79001234567"})
    anna_card, boris_card = await _cards(emulator, ANNA, BORIS)
    take = button_data(anna_card, "lead:take")
    queries = [
        emulator.press_button(who, who, card.message_id, take)
        for _ in range(5)
        for who, card in ((ANNA, anna_card), (BORIS, boris_card))
    ]
    await emulator.wait_for(lambda: all(emulator.callback_answer(q) for q in queries))
    texts = [emulator.callback_answer(q)["text"] for q in queries]
    winners = [t for t in texts if "yours" in t or "ваш" in t]
    assert len(winners) == 1
    assert all("Anna" in t or "Boris" in t for t in texts if t not in winners)


async def test_junk_with_a_reason_closes_the_lead_on_every_card(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await intake.post({"phone": "+79001234567", "message": "buy cheap followers"})
    anna_card, boris_card = await _cards(emulator, ANNA, BORIS)

    picker = emulator.press_button(
        ANNA, ANNA, anna_card.message_id, button_data(anna_card, "lead:junk")
    )
    await emulator.wait_for(lambda: emulator.callback_answer(picker) is not None)
    # the press is answered first; the reasons replace the card's buttons right after
    await emulator.wait_for(
        lambda: ("« Back", "card:1") in card_buttons(emulator.message(ANNA, anna_card.message_id))
    )
    reasons = card_buttons(emulator.message(ANNA, anna_card.message_id))
    assert [t for t, _ in reasons] == [
        "Spam",
        "Wrong number",
        "Service we do not offer",
        "Duplicate",
        "Other",
        "« Back",
    ]

    spam = button_data(emulator.message(ANNA, anna_card.message_id), "why:junk:1:spam")
    done = emulator.press_button(ANNA, ANNA, anna_card.message_id, spam)
    await emulator.wait_for(lambda: emulator.callback_answer(done) is not None)
    assert emulator.callback_answer(done)["text"] == "Lead #1 is junk: Spam."
    await emulator.wait_for(
        lambda: (
            "Мусор" in emulator.message(BORIS, boris_card.message_id).text
            and "Junk" in emulator.message(ANNA, anna_card.message_id).text
        )
    )
    assert "Причина: Спам" in emulator.message(BORIS, boris_card.message_id).text
    assert card_buttons(emulator.message(BORIS, boris_card.message_id)) == []
    assert card_buttons(emulator.message(ANNA, anna_card.message_id)) == []
    async with sessions() as session:
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "junk"))
    assert event is not None and event.data == {"reason": "spam"}


async def test_junk_as_service_we_do_not_offer_asks_which_service(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await intake.post({"phone": "+79001234567", "message": "do you cater weddings?"})
    [boris_card] = await _cards(emulator, BORIS)
    emulator.press_button(BORIS, BORIS, boris_card.message_id, button_data(boris_card, "lead:junk"))
    no_service = "why:junk:1:no_service"
    await emulator.wait_for(
        lambda: no_service in str(emulator.message(BORIS, boris_card.message_id).reply_markup)
    )
    emulator.press_button(BORIS, BORIS, boris_card.message_id, "why:junk:1:no_service")
    await emulator.wait_for(lambda: "Какую услугу" in emulator.chat_messages(BORIS)[-1].text)
    emulator.send_text(BORIS, "Кейтеринг <свадьбы> & банкеты")
    await emulator.wait_for(lambda: "отправлен в мусор" in emulator.chat_messages(BORIS)[-1].text)
    confirmation = emulator.chat_messages(BORIS)[-1].text
    assert "Услуги нет у нас — Кейтеринг <свадьбы> & банкеты" in confirmation
    await emulator.wait_for(
        lambda: "Кейтеринг" in emulator.message(BORIS, boris_card.message_id).text
    )


async def test_presses_by_strangers_and_forged_buttons_change_nothing(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await intake.post({"phone": "+79001234567"})
    [anna_card] = await _cards(emulator, ANNA)
    take = button_data(anna_card, "lead:take")
    stranger = emulator.press_button(STRANGER, ANNA, anna_card.message_id, take)
    forged = emulator.press_button(ANNA, ANNA, anna_card.message_id, "lead:take:not-a-number")
    missing = emulator.press_button(ANNA, ANNA, anna_card.message_id, "lead:take:424242")
    junk_unknown = emulator.press_button(ANNA, ANNA, anna_card.message_id, "why:junk:1:bribe")
    queries = [stranger, forged, missing, junk_unknown]
    await emulator.wait_for(lambda: all(emulator.callback_answer(q) for q in queries))
    answers = [emulator.callback_answer(q)["text"] for q in queries]
    assert answers == [
        "This button is for the sales team only.",
        "This button is out of date. Open the lead's card again.",
        "There is no such lead.",
        "There is no such reason in the list.",
    ]
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind))).all()
    assert kinds == ["created"]


async def test_hostile_text_reaches_telegram_as_valid_html(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    # the emulator rejects unparseable HTML and texts over 4096, as Telegram does
    hostile_name = "<script>alert('x')</script> & <b>Ivan" + "😀" * 2000
    status, _ = await intake.post(
        {
            "name": hostile_name,
            "message": "a & b < c > d </i>" * 300,
            "email": "x@y.ru",
            "service": "<a href='javascript:alert(1)'>x</a>",
        }
    )
    assert status == 201
    [card] = await _cards(emulator, ANNA)
    assert "<script>alert('x')</script> & <b>Ivan😀" in card.text  # shown as text, not markup
    assert card.text.endswith("…") or "…" in card.text
    rejected = [r for r in emulator.requests if r.status != 200]
    assert rejected == []


async def test_client_writing_again_joins_the_open_lead_and_its_owner_hears(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await intake.post({"phone": "+79001234567", "message": "first"})
    [anna_card] = await _cards(emulator, ANNA)
    query = emulator.press_button(
        ANNA, ANNA, anna_card.message_id, button_data(anna_card, "lead:take")
    )
    await emulator.wait_for(lambda: emulator.callback_answer(query) is not None)
    status, body = await intake.post({"phone": "+7 900 123 4567", "message": "are you there?"})
    assert body.pop("telegram_link").startswith("https://t.me/")  # she is not in Telegram yet
    assert (status, body) == (200, {"id": 1, "status": "in_work", "duplicate_of": 1})
    await emulator.wait_for(lambda: "again" in emulator.chat_messages(ANNA)[-1].text)
    assert "are you there?" in emulator.chat_messages(ANNA)[-1].text
    await emulator.wait_for(
        lambda: "requests: 2" in emulator.message(ANNA, anna_card.message_id).text
    )


async def test_start_tells_staff_who_they_are_and_greets_anyone_else(
    emulator: TelegramEmulator, app: Application
) -> None:
    emulator.send_text(SVETA, "/start")
    emulator.send_text(STRANGER, "/start")
    await emulator.wait_for(
        lambda: emulator.chat_messages(SVETA) and emulator.chat_messages(STRANGER)
    )
    assert "руководитель" in emulator.chat_messages(SVETA)[0].text
    assert "sales team's bot" in emulator.chat_messages(STRANGER)[0].text


async def test_team_chat_card_is_taken_from_the_group(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with running_app(emulator, database_url, clock, leads_chat_id=TEAM_CHAT) as app:
        async with aiohttp.ClientSession() as http:
            await Intake(app, http).post({"phone": "+79001234567"})
        [card] = await _cards(emulator, TEAM_CHAT)
        assert emulator.chat_messages(ANNA) == []
        query = emulator.press_button(
            BORIS, TEAM_CHAT, card.message_id, button_data(card, "lead:take")
        )
        await emulator.wait_for(lambda: emulator.callback_answer(query) is not None)
        await emulator.wait_for(
            lambda: "взял(а) Boris" in emulator.message(TEAM_CHAT, card.message_id).text
        )
        assert card_buttons(emulator.message(TEAM_CHAT, card.message_id)) == []


async def test_blocked_manager_is_given_up_on_and_the_lead_records_it(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    emulator.block_bot(BORIS)
    await intake.post({"phone": "+79001234567"})
    await _cards(emulator, ANNA)

    async def failed() -> list[OutboxMessage]:
        async with sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(OutboxMessage).where(OutboxMessage.state == OutboxState.FAILED)
                    )
                ).all()
            )

    for _ in range(200):
        if await failed():
            break
        await asyncio.sleep(0.01)
    [row] = await failed()
    assert row.chat_id == BORIS and "blocked" in (row.last_error or "")
    async with sessions() as session:
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "delivery_failed"))
    assert event is not None and event.data["chat_id"] == BORIS


async def test_webhook_mode_takes_updates_only_with_the_secret(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """With TELEGRAM_WEBHOOK_URL set, Telegram posts updates to leadbot's own HTTP server;
    an update without the secret header is refused and changes nothing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    hook = f"http://127.0.0.1:{port}/telegram/updates"
    async with (
        running_app(
            emulator,
            database_url,
            clock,
            http_port=port,
            telegram_webhook_url=hook,
            telegram_webhook_secret="hook-Secret_1",
        ) as app,
        aiohttp.ClientSession() as http,
    ):
        await emulator.wait_for(lambda: emulator.calls("setWebhook"))
        assert emulator.calls("setWebhook")[0].params["secret_token"] == "hook-Secret_1"
        assert not emulator.calls("getUpdates")  # no polling beside the webhook
        await Intake(app, http).post({"name": "Ivan", "phone": "+79001234567"})
        anna_card, _ = await _cards(emulator, ANNA, BORIS)
        take = button_data(anna_card, "lead:take")

        forged = {
            "update_id": 999,
            "callback_query": {
                "id": "forged-1",
                "chat_instance": "1",
                "data": take,
                "from": {"id": ANNA, "is_bot": False, "first_name": "Anna"},
            },
        }
        async with http.post(hook, json=forged) as response:
            assert response.status == 401  # what a stranger posting to the URL gets
        async with app.sessions() as session:
            lead = await session.scalar(select(Lead))
            assert lead is not None and lead.owner_id is None

        query = emulator.press_button(ANNA, ANNA, anna_card.message_id, take)
        await emulator.wait_for(lambda: emulator.callback_answer(query) is not None)
        assert "is yours" in emulator.callback_answer(query)["text"]
