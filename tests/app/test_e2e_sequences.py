"""End to end: a follow-up sequence through the real application and the emulated Bot API. A
lead refused with `timing` comes back by itself: 30 seconds later (the clock moved, no sleep)
the client gets the follow-up with Yes, call me / Not interested; "Yes" reopens the lead to its
owner, who gets its card headed by the news; /stop ends every follow-up for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadStatus, SequenceEnrolment, Staff
from tests.harness import (
    ANNA,
    BORIS,
    STRANGER,
    Intake,
    Phone,
    button_data,
    card_buttons,
    outbox_sent,
    running_app,
    unpaced_config,
    updates_handled,
)

KATE = 7001
NOT_NOW: dict[str, Any] = {
    "name": "not_now",
    "trigger": "timing",
    "steps": [
        {"after": "30s", "message": "sequence_not_now", "buttons": True},
        {"after": "30s", "task": "call_again"},
    ],
}


@pytest.fixture
async def app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    redis_url: str | None,
) -> AsyncIterator[Application]:
    """The application with the `timing` follow-up, in English (the client's words are in the
    team's language: the bot does not know the client's before they answer)."""
    config = unpaced_config(locale="en", sequences=[NOT_NOW])
    async with running_app(
        emulator, database_url, clock, config=config, redis_url=redis_url
    ) as application:
        yield application


async def _kate_refused(emulator: TelegramEmulator) -> None:
    """Kate writes; Anna takes her lead and refuses it: Timing."""
    await Phone(emulator, ANNA).write("/start")
    emulator.add_user(KATE, "Kate <Ко> 🎉", language_code="en")
    kate, anna = Phone(emulator, KATE), Phone(emulator, ANNA)
    await kate.write("/start", "Hello!")
    await kate.write("Do you deliver?", "Thank you")
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "In work — yours")
    await anna.press(card, "lead:refuse")
    await anna.press(card, "why:refuse:1:timing")
    await anna.until(card, "Refused")


async def _lead(sessions: SessionFactory) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None
    return lead


async def test_a_timing_refusal_comes_back_and_yes_reopens_the_lead_to_its_owner(
    app: Application, emulator: TelegramEmulator, sessions: SessionFactory, clock: ManualClock
) -> None:
    await _kate_refused(emulator)
    kate, anna = Phone(emulator, KATE), Phone(emulator, ANNA)
    before = len(kate.messages())
    clock.advance(timedelta(seconds=29))
    assert await app.jobs.run_sequence_steps() == []  # not yet: 30 seconds after the refusal
    await outbox_sent(sessions)
    assert len(kate.messages()) == before

    clock.advance(timedelta(seconds=2))
    app.clock_moved()
    follow_up = await kate.next_message(before, "get back to you later")
    assert follow_up.text.startswith("Hello, Kate <Ко> 🎉! You asked us to get back to you")
    assert follow_up.text.endswith("No more reminders: send /stop.")
    assert kate.button_texts(follow_up) == ["✅ Yes, call me", "🙅 Not interested"]
    assert all(len(data.encode()) <= 64 for _, data in card_buttons(follow_up))

    # a forged press: Stranger sends Kate's button's data under a message of his own
    stranger = Phone(emulator, STRANGER)
    own = await stranger.write("/start", "")
    forged = await stranger.press_data(own, button_data(follow_up, "fu:yes"))
    assert forged["text"] == "This button is not for you." and forged["show_alert"]
    assert (await _lead(sessions)).status == LeadStatus.REFUSED

    anna_before = len(anna.messages())
    answer = await kate.press(follow_up, "fu:yes")
    assert answer.get("text") is None  # no pop-up: the answer is a message
    thanks = await kate.next_message(before + 1, "A manager will call you soon")
    assert thanks.text == "👍 Thank you! A manager will call you soon."
    await emulator.wait_for(lambda: kate.button_texts(follow_up) == [])  # answered: buttons gone
    told = await anna.next_message(anna_before, "pressed «Yes, call me»")
    assert told.text.startswith(
        "🔥 The client pressed «Yes, call me»: lead #1 is back in work\n\nLead #1 · Telegram"
    )
    assert told.text.endswith("In work — yours")
    assert "📝 Qualify" in anna.button_texts(told)  # the card of a lead in work: hers to work
    lead = await _lead(sessions)
    assert (lead.status, lead.close_reason) == (LeadStatus.IN_WORK, None)

    # the sequence ended with the answer: its task step (30 s later) never comes to Anna
    anna_now = len(anna.messages())
    clock.advance(timedelta(minutes=5))
    app.clock_moved()
    await outbox_sent(sessions)
    assert not [m for m in anna.messages()[anna_now:] if "Follow-up" in (m.text or "")]


async def test_stop_ends_the_follow_ups_for_good(
    app: Application, emulator: TelegramEmulator, sessions: SessionFactory, clock: ManualClock
) -> None:
    """Kate sends /stop before the follow-up is due: she is told, gets nothing later, and her
    contact is marked so that no sequence starts for her again."""
    await _kate_refused(emulator)
    kate = Phone(emulator, KATE)
    stopped = await kate.write("/stop", "will not remind you")
    assert stopped.text.startswith("🔕 Understood: we will not remind you again.")
    before = len(kate.messages())
    clock.advance(timedelta(minutes=5))
    app.clock_moved()
    await outbox_sent(sessions)
    assert len(kate.messages()) == before
    async with sessions() as session:
        [row] = (await session.scalars(select(SequenceEnrolment))).all()
        contact = await session.scalar(select(Contact).where(Contact.telegram_id == KATE))
    assert (row.state, row.stop_reason) == ("stopped", "stop_command")
    assert contact is not None and contact.sequences_stopped_at is not None
    assert (await _lead(sessions)).status == LeadStatus.REFUSED


async def test_a_client_who_blocked_the_bot_gets_no_follow_up_ever_again(
    app: Application, emulator: TelegramEmulator, sessions: SessionFactory, clock: ManualClock
) -> None:
    """Kate blocked the bot: the follow-up is refused (403) once, never retried, and every
    sequence of hers ends for good; her next refused lead starts none."""
    await _kate_refused(emulator)
    emulator.block_bot(KATE)
    since = len(emulator.requests)
    clock.advance(timedelta(seconds=31))
    app.clock_moved()
    await emulator.wait_for(
        lambda: any(
            r.method == "sendMessage" and str(r.params.get("chat_id")) == str(KATE)
            for r in emulator.requests[since:]
        )
    )
    await outbox_sent(sessions)
    tried = [
        r.status
        for r in emulator.requests[since:]
        if r.method == "sendMessage" and str(r.params.get("chat_id")) == str(KATE)
    ]
    assert tried == [403]
    async with sessions() as session:
        [row] = (await session.scalars(select(SequenceEnrolment))).all()
        contact = await session.scalar(select(Contact).where(Contact.telegram_id == KATE))
    assert (row.state, row.stop_reason, row.messages_sent) == ("stopped", "blocked", 1)
    assert contact is not None and contact.sequences_stopped_at is not None


async def test_a_web_form_client_opens_the_telegram_link_and_is_linked_to_their_lead(
    app: Application, emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """The form's answer carries a one-time t.me link; Kate opens it (`/start <token>`): she is
    told she is linked, her contact gets her Telegram, and what she writes next joins lead #1
    (no new lead). Someone else opening the same link is refused; a lead whose client the bot
    reaches already gets no link."""
    status, answer = await intake.post({"name": "Kate", "phone": "+7 900 123-45-67"})
    link = answer["telegram_link"]
    assert status == 201 and link.startswith("https://t.me/leadbot_test_bot?start=c-")
    token = link.rsplit("=", 1)[1]
    emulator.add_user(KATE, "Kate", language_code="en")
    kate = Phone(emulator, KATE)
    linked = await kate.write(f"/start {token}", "we will write to you here")
    assert linked.text.startswith("✅ Thank you! We have your request")
    async with sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.telegram_id == KATE))
    assert contact is not None and contact.phone == "+79001234567"
    assert contact.preferred_channel == "telegram"
    emulator.send_text(KATE, "When can you call?")
    await emulator.wait_for(lambda: emulator.updates_pending == 0)
    await updates_handled(app)
    await outbox_sent(sessions)
    async with sessions() as session:
        leads = (await session.scalars(select(Lead))).all()
    assert [lead.id for lead in leads] == [1]  # her message joined the form's lead

    stranger = Phone(emulator, STRANGER)
    refused = await stranger.write(f"/start {token}", "opened already")
    assert refused.text == "This link has been opened already. Just write to us here."
    # the same client again through the form: the bot reaches her already, no link
    _, again = await intake.post({"name": "Kate", "phone": "+7 900 123-45-67"})
    assert again["telegram_link"] is None


async def test_the_owner_sets_the_phone_and_the_follow_up_becomes_a_call_for_her(
    app: Application, emulator: TelegramEmulator, sessions: SessionFactory, clock: ManualClock
) -> None:
    """Anna types `/channel 1 phone` (Boris, not the owner, is refused; a made-up channel is
    explained): the follow-up is not written to Kate; Anna is asked to reach her instead."""
    await _kate_refused(emulator)
    anna, boris, kate = Phone(emulator, ANNA), Phone(emulator, BORIS), Phone(emulator, KATE)
    await boris.write("/start")
    refused = await boris.write("/channel 1 phone", "#1")
    assert refused.text == "Заявка #1 не ваша: это указывает её владелец или руководитель."
    unknown = await anna.write("/channel 1 <pigeon>", "#1")
    assert unknown.text == "Lead #1: write telegram, phone, email or auto."
    usage = await anna.write("/channel", "/channel 42 phone")
    assert "telegram, phone, email, or auto" in usage.text
    done = await anna.write("/channel #1 Phone", "#1")
    assert done.text == "✅ Lead #1: the client prefers the phone."
    kate_before, anna_before = len(kate.messages()), len(anna.messages())
    clock.advance(timedelta(seconds=31))
    app.clock_moved()
    task = await anna.next_message(anna_before, "Follow-up")
    assert task.text.startswith("🔁 Follow-up «not_now», lead #1 (Kate <Ко> 🎉): the bot cannot")
    await outbox_sent(sessions)
    assert len(kate.messages()) == kate_before
