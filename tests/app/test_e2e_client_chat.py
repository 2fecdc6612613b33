"""End to end: a client writes to the bot, the message becomes a lead that reaches the managers,
and a manager's answer goes back to the client through the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadEvent
from tests.harness import ANNA, BORIS, Intake, Phone, card_buttons, outbox_sent

KATE = 7001


async def _start(emulator: TelegramEmulator, payload: str = "") -> Phone:
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    emulator.add_user(KATE, "Kate", language_code="en")
    kate = Phone(emulator, KATE)
    greeting = await kate.write(f"/start {payload}".strip())
    assert greeting.text.startswith("Hello! This is the sales team's bot.")
    return kate


async def _events(sessions: SessionFactory) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        rows = await session.scalars(select(LeadEvent).order_by(LeadEvent.id))
        return [(event.kind, event.data) for event in rows]


async def test_a_client_message_becomes_a_lead_with_its_campaign_and_shared_phone(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator, "vk_ads")
    keyboard = kate.last().reply_markup
    assert keyboard is not None and keyboard["keyboard"][0][0] == {
        "text": "📱 Share my phone number",
        "request_contact": True,
    }
    received = await kate.write("I need a <b>sofa</b> 🛋", "Thank you")
    assert received.text.startswith("✅ Thank you! Your request has reached our managers")
    anna = Phone(emulator, ANNA)
    card = await anna.next_message(1, "Lead #1")
    assert card.text.startswith("Lead #1 · Telegram") and "I need a <b>sofa</b> 🛋" in card.text
    emulator.send_text(KATE, "and a table")  # joins the lead, without a second "thank you"
    before = len(kate.messages())
    emulator.send_contact(KATE, "+7 900 555-44-33")
    saved = await kate.next_message(before, "number")
    assert saved.text == "📱 Thank you, we have your number."
    async with sessions() as session:
        lead = await session.get(Lead, 1)
        contact = await session.scalar(select(Contact))
    assert lead is not None and lead.source == "telegram" and lead.utm == {"start": "vk_ads"}
    assert lead.phone == "+79005554433"
    assert contact is not None and (contact.telegram_id, contact.phone) == (KATE, "+79005554433")
    assert [kind for kind, _ in await _events(sessions)] == [
        "created",
        "repeat_request",
        "repeat_request",
    ]


async def test_the_owner_answers_through_the_bot_and_a_blocked_client_is_recorded(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator)
    await kate.write("Do you deliver?", "Thank you")
    anna = Phone(emulator, ANNA)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    shown = await anna.until(card, "In work — yours")
    assert card_buttons(shown)[0][0] == "💬 Reply"

    emulator.send_text(KATE, "Hello? <i>anyone</i>")
    relayed = await anna.next_message(1, "got in touch again")
    assert "💬 Hello? <i>anyone</i>" in relayed.text
    assert [t for t, _ in card_buttons(relayed)] == ["💬 Reply"]
    ask = await anna.press_for_reply(relayed, "lead:reply:1", "Your answer")
    assert ask.text.startswith("💬 Your answer to the client of lead #1")
    before = len(kate.messages())
    sent = await anna.write("Yes, <b>free</b> over 100 €", "Sent")
    assert sent.text == "✅ Sent to the client of lead #1."
    answer = await kate.next_message(before, "Anna")
    assert answer.text == "💬 Anna: Yes, <b>free</b> over 100 €"

    emulator.block_bot(KATE)
    await anna.press_for_reply(card, "lead:reply:1", "Your answer")
    blocked = await anna.write("Are you still there?", "blocked")
    assert blocked.text.startswith("⛔ The client of lead #1 has blocked the bot")
    # each answer is recorded when it is written; the one that never reached Kate, also so
    kinds = [kind for kind, _ in await _events(sessions)]
    assert kinds[-3:] == ["replied", "replied", "client_blocked"]


async def test_only_the_owner_replies_and_staff_messages_are_never_leads(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator, "not a valid tag!")  # ignored, not an error
    await kate.write("Hi", "Thank you")
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    card = await anna.next_message(1, "Lead #1")
    # Reply on a new client's card takes the lead and asks for the answer: one press
    await anna.press_for_reply(card, "lead:reply:1", "Your answer")
    await anna.write("/cancel", "cancel")
    boris_card = await boris.next_message(1, "Лид #1")
    foreign = await boris.press_data(boris_card, "lead:reply:1")
    assert foreign["text"] == "Этот лид ведёт Anna, не вы."
    emulator.send_text(ANNA, "just chatting")  # a manager's own words are not a client's
    await anna.write("/leads", "Lead lists")  # her updates are handled in order: that one is done
    async with sessions() as session:
        leads = (await session.scalars(select(Lead))).all()
    assert len(leads) == 1 and leads[0].utm == {}


async def test_after_hours_the_client_is_told_once_when_to_expect_an_answer(
    emulator: TelegramEmulator, intake: Intake, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 1, 9, 20, 0, tzinfo=UTC))  # Friday 23:00 in Moscow
    kate = await _start(emulator)
    told = await kate.write("Hello, are you open?", "closed")
    assert told.text == (
        "🌙 Thank you, your message has reached us. We are closed now; a manager will answer "
        "here from 12 Jan 09:00 (our time)."
    )
    emulator.send_text(KATE, "one more thing")  # the same night: not told again
    clock.set(datetime(2026, 1, 12, 6, 30, tzinfo=UTC))  # Monday 09:30: open
    emulator.send_text(KATE, "good morning")
    followups = await kate.write("/start", "Hello!")
    texts = [m.text for m in kate.messages()]
    assert sum(text.startswith("🌙") for text in texts) == 1 and followups is not None


async def test_a_flooding_client_is_slowed_down_not_passed_on(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory, clock: ManualClock
) -> None:
    kate = await _start(emulator)
    for number in range(25):
        emulator.send_text(KATE, f"spam {number}")
    slow = await kate.next_message(1, "a lot of messages")
    assert slow.text.startswith("✋ That is a lot of messages at once")
    await kate.write("/start", "Hello!")  # her updates are handled in order: all 25 are done
    events = await _events(sessions)
    assert len(events) == 20  # created + 19 joined: the other 5 were not passed on
    assert sum(m.text.startswith("✋") for m in kate.messages()) == 1
    clock.advance(timedelta(minutes=1, seconds=1))
    emulator.send_text(KATE, "sorry, one real question")
    await kate.write("/start", "Hello!")
    assert len(await _events(sessions)) == 21


async def test_replying_to_a_new_clients_card_takes_the_lead_and_sends_the_answer(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """The first answer to a client is one step: Anna replies (Telegram's reply) to the new
    card, the lead becomes hers and Kate gets the answer. Boris, replying a moment later, is
    told why it did not go, and his text is kept to copy with one tap."""
    kate = await _start(emulator)
    await kate.write("Do you deliver?", "Thank you")
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    card = await anna.next_message(1, "Lead #1")
    boris_card = await boris.next_message(1, "Лид #1")
    assert [t for t, _ in card_buttons(card)][:2] == ["💬 Reply", "✋ Take"]
    await outbox_sent(sessions)  # both cards are recorded: a reply to them finds the lead

    before = len(kate.messages())
    emulator.send_text(ANNA, "Yes, we do", reply_to_message=emulator.state.message_json(card))
    sent = await anna.next_message(1, "Sent")
    assert sent.text == "✅ Sent to the client of lead #1."
    answer = await kate.next_message(before, "Anna")
    assert answer.text == "💬 Anna: Yes, we do"
    await anna.until(card, "In work — yours")

    reply = {"reply_to_message": emulator.state.message_json(boris_card)}
    emulator.send_text(BORIS, "Здравствуйте, <доставим>!", **reply)
    kept = await boris.next_message(1, "Не отправлено")
    assert kept.text == (
        "⚠️ Не отправлено: Этот лид ведёт Anna, не вы.\n"
        "Ваш текст сохранён — нажмите на него, чтобы скопировать:\n"
        "Здравствуйте, <доставим>!"
    )
    assert not [m for m in kate.messages()[before:] if "доставим" in (m.text or "")]
    kinds = [kind for kind, _ in await _events(sessions)]
    assert kinds == ["created", "taken", "replied"]
