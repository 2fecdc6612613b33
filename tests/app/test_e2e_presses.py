"""Every press is answered, and its picker or question appears, even when Telegram is strict.

The emulated Bot API enforces Telegram's flood limits here (1 message a second per chat after
a burst of 3): a manager presses a button on her card right after the bot sent her chat a
burst of new cards. The handler's own edit or question goes through the same limits as the
notifier's cards (it waits for its turn instead of being answered 429), a 5xx on it is
retried, and a handler that fails still answers the press with an alert.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.devtools.emulator import BotMessage, TelegramEmulator
from storage.db import SessionFactory
from storage.models import LeadEvent
from tests.conftest import FSM_STORAGES
from tests.harness import ANNA, BORIS, WORKING, Intake, Phone, card_buttons, updates_handled

pytestmark = [
    # presses right after a burst, with the emulator enforcing Telegram's flood limits
    pytest.mark.telegram_pace,
    # the dialogue's state is checked in memory and in Redis
    pytest.mark.parametrize("fsm_storage", FSM_STORAGES, indirect=True),
]

JUNK_REASONS = ["Spam", "Wrong number", "Service we do not offer", "Duplicate", "Other", "« Back"]
CALL_BACK_TIMES = ["+30 min", "+2 h", "Tomorrow morning", "✍️ Another time…", "« Back"]
BURST = 4  # new cards for Anna's chat just before she presses


async def _anna_takes_then_gets_a_burst(
    emulator: TelegramEmulator, intake: Intake, burst: int = BURST
) -> BotMessage:
    """Anna takes lead #1; then a burst of new leads' cards reaches her chat. Her card."""
    anna = Phone(emulator, ANNA)
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    card = await anna.next_message(1, "Lead #1")
    assert (await anna.press(card, "lead:take"))["text"].startswith("Lead #1 is yours")
    await emulator.wait_for(lambda: [t for t, _ in card_buttons(anna.now(card))] == WORKING)
    before = len(anna.messages())
    for n in range(burst):
        await intake.post({"phone": f"+7900765432{n}", "name": f"Client {n}"})
    await emulator.wait_for(lambda: len(anna.messages()) == before + burst, timeout=15)
    return card


def _buttons(phone: Phone, message: BotMessage) -> list[str]:
    return [text for text, _ in card_buttons(phone.now(message))]


async def test_junk_right_after_a_burst_is_answered_and_shows_the_reasons(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake)
    answer = await anna.press(card, "lead:junk")
    # the spinner stops at once with the question; the reasons replace the card's buttons
    assert answer["text"] == "Why is lead #1 junk?"
    await emulator.wait_for(lambda: _buttons(anna, card) == JUNK_REASONS, timeout=10)
    assert emulator.flood_errors == 0  # the edit waited for its turn: Telegram never said 429


async def test_call_back_right_after_a_burst_is_answered_and_shows_the_times(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake)
    answer = await anna.press(card, "lead:callback")
    assert answer["text"] == "When should we call the client of lead #1?"
    await emulator.wait_for(lambda: _buttons(anna, card) == CALL_BACK_TIMES, timeout=10)
    assert emulator.flood_errors == 0


async def test_qualify_right_after_a_burst_asks_its_first_question_and_takes_the_answer(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake)
    before = len(anna.messages())
    await anna.press(card, "lead:qualify")  # answered (Phone.press waits for the answer)
    step = await anna.next_message(before, "1/4")
    assert "Client's full name" in step.text
    # the dialogue is open: her next words are the answer, and the second question comes
    second = await anna.write("Ivan Petrov", contains="2/4")
    assert "Now: +7 900 123-45-67" in second.text
    assert emulator.flood_errors == 0


async def test_a_5xx_on_the_pickers_edit_is_retried(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake)
    emulator.fail_next("editMessageReplyMarkup", 502, count=2)
    answer = await anna.press(card, "lead:junk")
    assert answer["text"] == "Why is lead #1 junk?"
    await emulator.wait_for(lambda: _buttons(anna, card) == JUNK_REASONS, timeout=10)
    failed = [r for r in emulator.requests if r.method == "editMessageReplyMarkup"]
    assert [r.status for r in failed] == [502, 502, 200]


async def test_a_handler_that_fails_answers_the_press_with_an_alert_and_a_log_line(
    emulator: TelegramEmulator,
    intake: Intake,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the call-back code")

    monkeypatch.setattr("handlers.card.call_back.check_allowed", broken)
    with caplog.at_level(logging.ERROR, logger="leadbot.presses"):
        answer = await anna.press(card, "lead:callback")
    # not a spinner: a pop-up she must acknowledge, and the card keeps its buttons
    assert answer == {
        "callback_query_id": answer["callback_query_id"],
        "text": "Something went wrong. Please try again.",
        "show_alert": True,
    }
    assert _buttons(anna, card) == WORKING
    assert "press failed" in caplog.text and "a bug in the call-back code" in caplog.text
    # Boris's Telegram is in Russian: the same alert in his words
    monkeypatch.setattr("handlers.card.close.check_allowed", broken)
    boris = Phone(emulator, BORIS)
    boris_card = next(m for m in boris.messages() if (m.text or "").startswith("Лид #2"))
    answer = await boris.press_data(boris_card, "lead:junk:2")
    assert answer["text"] == "Что-то пошло не так. Попробуйте ещё раз." and answer["show_alert"]
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind))).all()
    assert "closed" not in kinds


async def test_a_question_that_never_reached_the_chat_opens_no_dialogue(
    emulator: TelegramEmulator, intake: Intake, app: Application
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes_then_gets_a_burst(emulator, intake, burst=0)
    dialogue = app.dispatcher.fsm.get_context(app.bot, ANNA, ANNA)
    for button in ("lead:note", "lead:qualify"):
        emulator.fail_next("sendMessage", 400, description="Bad Request: injected failure")
        await anna.press(card, button)  # answered; its question is refused by Telegram
        await updates_handled(app)
        # what Anna types next is not taken as the answer to a question she never saw
        assert await dialogue.get_state() is None and await dialogue.get_data() == {}
    # pressed again, Note asks, and her words are the note
    ask = await anna.press_for_reply(card, "lead:note", "Your note")
    assert ask.text.startswith("✏️ Your note on lead #1")
    added = await anna.write("Called, no answer", contains="Note added")
    assert added.text == "✏️ Note added to lead #1."
