"""End to end: what a client sends besides text (photos, documents, voice, video notes) is
copied to the managers, never lost; a manager answers by replying to it in Telegram."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.devtools.emulator import TelegramEmulator
from bot.devtools.emulator.state import BotMessage
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, RelayedMessage
from tests.harness import ANNA, BORIS, Intake, Phone, card_buttons

KATE = 7001


async def _start(emulator: TelegramEmulator) -> Phone:
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    emulator.add_user(KATE, "Kate", language_code="en")
    kate = Phone(emulator, KATE)
    await kate.write("/start", "Hello!")
    return kate


async def _copy(phone: Phone, after: int, kind: str) -> BotMessage:
    """The first message after `after` that is a copy of the client's `kind` (sendPhoto...)."""

    def found() -> BotMessage | None:
        return next((m for m in phone.messages()[after:] if m.kind == kind), None)

    await phone.emulator.wait_for(found)
    message = found()
    assert message is not None
    return message


def _reply_to(emulator: TelegramEmulator, message: BotMessage) -> dict[str, Any]:
    return {"reply_to_message": emulator.state.message_json(message)}


async def test_a_photo_opens_a_lead_and_reaches_the_pool_after_its_card(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator)
    emulator.send_media(KATE, "photo", caption="This <b>sofa</b>, in blue?")
    received = await kate.next_message(1, "Thank you")
    assert received.text.startswith("✅ Thank you! Your request has reached our managers")
    for manager in (Phone(emulator, ANNA), Phone(emulator, BORIS)):
        card = await manager.next_message(1, "#1")
        assert "📷 photo: This <b>sofa</b>, in blue?" in card.text
        photo = await _copy(manager, 1, "sendPhoto")
        # the managers see what the lead is before the picture itself
        assert photo.message_id > card.message_id
        assert photo.text == "This <b>sofa</b>, in blue?"
        assert card_buttons(photo)[0][0] in ("💬 Reply", "💬 Ответить")
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.source == "telegram"
    for _ in range(200):  # the copies are remembered right after they are sent
        async with sessions() as session:
            relayed = (await session.scalars(select(RelayedMessage.chat_id))).all()
        if len(relayed) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(relayed) == sorted([ANNA, BORIS])


async def test_the_owner_gets_voice_and_documents_and_answers_by_replying_to_them(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator)
    await kate.write("Hello, I need a quote", "Thank you")
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "yours")
    boris_before, anna_before = len(boris.messages()), len(anna.messages())

    emulator.send_media(KATE, "voice")
    emulator.send_media(KATE, "document", caption="our floor plan")
    emulator.send_media(KATE, "video_note")
    voice = await _copy(anna, anna_before, "sendVoice")
    plan = await _copy(anna, anna_before, "sendDocument")
    await _copy(anna, anna_before, "sendVideoNote")
    assert plan.text == "our floor plan"
    news = await anna.next_message(anna_before, "got in touch again")
    assert "🎤 voice message" in news.text
    assert not [m for m in boris.messages()[boris_before:] if m.kind != "text"]  # not his lead

    kate_before = len(kate.messages())
    emulator.send_text(ANNA, "Got it, <b>20%</b> off", **_reply_to(emulator, voice))
    answer = await kate.next_message(kate_before, "Anna")
    assert answer.text == "💬 Anna: Got it, <b>20%</b> off"
    sent = await anna.next_message(anna_before, "Sent to the client")
    assert sent.text == "✅ Sent to the client of lead #1."

    # a photo in answer to the card itself reaches the client as a photo
    sent_before = len(anna.messages())
    emulator.send_media(ANNA, "photo", caption="the blue one", **_reply_to(emulator, card))
    photo = await _copy(kate, kate_before, "sendPhoto")
    assert photo.text == "the blue one"
    await anna.next_message(sent_before, "Sent to the client")
    async with sessions() as session:
        replies = (
            await session.scalars(
                select(LeadEvent.data).where(LeadEvent.kind == "replied").order_by(LeadEvent.id)
            )
        ).all()
    assert [r["text"] for r in replies] == ["Got it, <b>20%</b> off", "📷 photo: the blue one"]


async def test_replying_to_someone_elses_lead_or_to_any_message_is_not_an_answer(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    kate = await _start(emulator)
    await kate.write("Is it in stock?", "Thank you")
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    card = await anna.next_message(1, "Lead #1")
    boris_card = await boris.next_message(1, "Лид #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "yours")
    kate_before = len(kate.messages())
    boris_before = len(boris.messages())
    emulator.send_text(BORIS, "I can help!", **_reply_to(emulator, boris_card))
    refused = await boris.next_message(boris_before, "Anna")
    assert refused.text.startswith("⚠️ Не отправлено: Этот лид ведёт Anna")
    # a reply to the greeting of /start is just a message, not an answer to a client
    greeting = anna.messages()[0]
    emulator.send_text(ANNA, "note to self", **_reply_to(emulator, greeting))
    await anna.write("/leads", "Lead lists")  # handled in order: the reply above is done
    assert len(kate.messages()) == kate_before
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind))).all()
    assert "replied" not in kinds


async def test_what_cannot_be_passed_on_gets_a_clear_answer(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    kate = await _start(emulator)
    before = len(kate.messages())
    emulator._user_message(KATE, None, {"location": {"latitude": 55.75, "longitude": 37.61}})
    hint = await kate.next_message(before, "I can pass on")
    assert hint.text.startswith("I can pass on text, photos, documents")
