"""End to end: a manager's answer to a client goes through the outbox. It is recorded at once,
reaches the client when Telegram takes it (after 5xx, an outage, a 429), and only then ends the
client's wait and tells the manager "sent"; an answer Telegram refuses for good (the client
blocked the bot, another refusal) is recorded and the manager is told, once, and never retried."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.devtools.emulator.state import BotMessage
from storage.db import SessionFactory
from storage.models import (
    ANSWER_TASK,
    Lead,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Task,
)
from tests.harness import ANNA, Intake, Phone, outbox_sent

KATE = 7001


async def _kate_waits(emulator: TelegramEmulator, sessions: SessionFactory) -> BotMessage:
    """Kate writes, Anna takes the lead, Kate writes again: her message waits for an answer
    (the `answer` limit runs). Anna has pressed Reply on it and is asked for her answer; nothing
    is left to send. The question Anna sees."""
    await Phone(emulator, ANNA).write("/start")
    emulator.add_user(KATE, "Kate", language_code="en")
    kate, anna = Phone(emulator, KATE), Phone(emulator, ANNA)
    await kate.write("/start", "Hello!")
    await kate.write("Do you deliver?", "Thank you")
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "In work — yours")
    emulator.send_text(KATE, "Hello? anyone")
    relayed = await anna.next_message(1, "got in touch again")
    question = await anna.press_for_reply(relayed, "lead:reply:1", "Your answer")
    await outbox_sent(sessions)
    return question


async def _answer_task(sessions: SessionFactory) -> Task:
    async with sessions() as session:
        task = await session.scalar(select(Task).where(Task.kind == ANSWER_TASK))
    assert task is not None
    return task


async def _lead(sessions: SessionFactory) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None
    return lead


async def _kinds(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all())


async def _answers(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CLIENT_ANSWER)
        )
        return list(rows.all())


def _to(
    emulator: TelegramEmulator, since: int, chat_id: int = KATE, method: str = "sendMessage"
) -> list[int]:
    """The statuses Telegram gave the bot's calls of `method` in that chat (Kate's) since
    `since` requests, in order (parameters of a refused call may be recorded as text)."""
    return [
        r.status
        for r in emulator.requests[since:]
        if r.method == method and str(r.params.get("chat_id")) == str(chat_id)
    ]


def _said(phone: Phone, after: int, words: str) -> list[str]:
    return [m.text for m in phone.messages()[after:] if words in (m.text or "")]


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


async def test_an_answer_written_while_telegram_is_down_reaches_the_client_once_it_is_back(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory, clock: ManualClock
) -> None:
    """Telegram is down when Anna sends her answer: she sees nothing yet and Kate nothing; the
    answer is in the lead's history and Kate still counts as waiting. When Telegram is back,
    Kate gets "💬 Anna: ..." once and Anna "✅ Sent to the client of lead #1." — and Kate's
    wait ends then, at the time of delivery, not when Anna wrote."""
    await _kate_waits(emulator, sessions)
    anna, kate = Phone(emulator, ANNA), Phone(emulator, KATE)
    anna_before, kate_before = len(anna.messages()), len(kate.messages())
    waiting = await _answer_task(sessions)
    assert waiting.done_at is None and waiting.alert_at is not None
    assert (await _lead(sessions)).contacted_at is None

    since = len(emulator.requests)
    emulator.set_down(True)
    emulator.send_text(ANNA, "Yes, we deliver on Fridays")
    await emulator.wait_for(lambda: 502 in _to(emulator, since))  # tried, and Telegram failed
    assert (await _kinds(sessions)).count("replied") == 1
    still = await _answer_task(sessions)
    assert still.done_at is None and still.alert_at == waiting.alert_at  # still waiting
    assert (await _lead(sessions)).contacted_at is None
    [row] = await _answers(sessions)
    assert row.state == OutboxState.PENDING and row.last_error is not None

    delivered_at = clock.advance(timedelta(minutes=1))
    emulator.set_down(False)
    answer = await kate.next_message(kate_before, "Anna")
    assert answer.text == "💬 Anna: Yes, we deliver on Fridays"
    sent = await anna.next_message(anna_before, "Sent")
    assert sent.text == "✅ Sent to the client of lead #1."
    await outbox_sent(sessions)
    assert len(_said(kate, kate_before, "Anna")) == 1
    assert len(_said(anna, anna_before, "Sent")) == 1
    assert _to(emulator, since).count(200) == 1
    done = await _answer_task(sessions)
    assert done.done_at is not None and _naive(done.done_at) == _naive(delivered_at)
    assert done.alert_at is None
    lead = await _lead(sessions)
    assert lead.contacted_at is not None and _naive(lead.contacted_at) == _naive(delivered_at)
    assert (await _kinds(sessions)).count("replied") == 1
    [row] = await _answers(sessions)
    assert row.state == OutboxState.SENT


async def test_5xx_for_the_clients_chat_delays_the_answer_but_loses_nothing(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Telegram answers 502 three times to the answer for Kate: Anna's answer still reaches
    her, once, and Anna is told "sent" once, after it did."""
    await _kate_waits(emulator, sessions)
    anna, kate = Phone(emulator, ANNA), Phone(emulator, KATE)
    anna_before, kate_before = len(anna.messages()), len(kate.messages())
    since = len(emulator.requests)
    emulator.fail_next("sendMessage", 502, count=3, chat_id=KATE)
    emulator.send_text(ANNA, "Yes, <b>free</b> over 100 €")
    answer = await kate.next_message(kate_before, "Anna")
    assert answer.text == "💬 Anna: Yes, <b>free</b> over 100 €"
    await anna.next_message(anna_before, "Sent")
    await outbox_sent(sessions)
    assert _to(emulator, since) == [502, 502, 502, 200]
    assert len(_said(anna, anna_before, "Sent")) == 1
    assert (await _kinds(sessions)).count("replied") == 1
    assert (await _answer_task(sessions)).done_at is not None


async def test_a_429_on_the_answer_is_waited_out(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Telegram says "too many requests, retry after 1 s" to the answer for Kate: it reaches
    her after that second, and Anna is told "sent" then."""
    await _kate_waits(emulator, sessions)
    anna, kate = Phone(emulator, ANNA), Phone(emulator, KATE)
    anna_before, kate_before = len(anna.messages()), len(kate.messages())
    since = len(emulator.requests)
    emulator.fail_next("sendMessage", 429, retry_after=1, chat_id=KATE)
    emulator.send_text(ANNA, "We open at nine")
    await kate.next_message(kate_before, "We open at nine")
    await anna.next_message(anna_before, "Sent")
    await outbox_sent(sessions)
    attempts = [
        r
        for r in emulator.requests[since:]
        if r.method == "sendMessage" and str(r.params.get("chat_id")) == str(KATE)
    ]
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95  # not before retry_after
    [row] = await _answers(sessions)
    assert row.state == OutboxState.SENT and row.attempts == 0  # a wait, not a failed attempt


async def test_a_client_who_blocked_the_bot_is_recorded_and_the_manager_told_once(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Kate has blocked the bot: Anna's answer is tried once. Anna gets "⛔ The client of lead
    #1 has blocked the bot..." once (no "sent"), the history says so, and Kate still counts as
    waiting for an answer (the limit keeps running: someone should call her)."""
    await _kate_waits(emulator, sessions)
    anna = Phone(emulator, ANNA)
    anna_before = len(anna.messages())
    waiting = await _answer_task(sessions)
    since = len(emulator.requests)
    emulator.block_bot(KATE)
    emulator.send_text(ANNA, "Are you still there?")
    blocked = await anna.next_message(anna_before, "blocked")
    assert blocked.text.startswith("⛔ The client of lead #1 has blocked the bot")
    await outbox_sent(sessions)
    assert len(_said(anna, anna_before, "blocked")) == 1
    assert not _said(anna, anna_before, "Sent")
    assert _to(emulator, since) == [403]  # not retried
    kinds = await _kinds(sessions)
    assert kinds[-2:] == ["replied", "client_blocked"] and "delivery_failed" not in kinds
    async with sessions() as session:
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "client_blocked"))
    assert event is not None and event.data == {"text": "Are you still there?"}
    assert event.actor_id is not None
    [row] = await _answers(sessions)
    assert row.state == OutboxState.FAILED and row.attempts == 1
    still = await _answer_task(sessions)
    assert still.done_at is None and still.alert_at == waiting.alert_at
    assert (await _lead(sessions)).contacted_at is None


async def test_an_answer_refused_for_another_reason_is_told_and_nothing_loops(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Telegram refuses the answer for good (400 "chat not found"): the history records the
    failed delivery and Anna's notice of it is refused in turn (403): nobody is told about
    that, nothing is retried, and no row is left pending."""
    await _kate_waits(emulator, sessions)
    anna = Phone(emulator, ANNA)
    anna_before = len(anna.messages())
    since = len(emulator.requests)
    emulator.fail_next("sendMessage", 400, description="chat not found", chat_id=KATE)
    emulator.fail_next(
        "sendMessage", 403, description="Forbidden: bot was blocked by the user", chat_id=ANNA
    )
    emulator.send_text(ANNA, "Here is our price list")
    await emulator.wait_for(lambda: 403 in _to(emulator, since, ANNA))
    await outbox_sent(sessions)
    assert _to(emulator, since) == [400]
    assert _to(emulator, since, ANNA) == [403]
    assert len(anna.messages()) == anna_before  # the notice did not get through either
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        failed = (
            await session.scalars(select(LeadEvent.data).where(LeadEvent.kind == "delivery_failed"))
        ).all()
    answer, notice = rows[-2:]
    assert (answer.kind, answer.state) == (OutboxKind.CLIENT_ANSWER, OutboxState.FAILED)
    assert (notice.kind, notice.state) == (OutboxKind.TEXT, OutboxState.FAILED)
    assert notice.chat_id == ANNA and notice.payload["template"] == "reply_failed"
    assert notice.payload["context"]["reason"] == "Bad Request: chat not found"
    assert [d["chat_id"] for d in failed] == [KATE, ANNA]  # each failure once in the history
    assert (await _answer_task(sessions)).done_at is None


async def test_an_answer_refused_for_another_reason_tells_the_manager_why(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Telegram refuses the answer for good (400): Anna reads "⚠️ Your answer to the client of
    lead #1 was not delivered: Telegram refused it (...)", once."""
    await _kate_waits(emulator, sessions)
    anna = Phone(emulator, ANNA)
    anna_before = len(anna.messages())
    emulator.fail_next("sendMessage", 400, description="chat not found", chat_id=KATE)
    emulator.send_text(ANNA, "Here is our price list")
    told = await anna.next_message(anna_before, "not delivered")
    assert told.text == (
        "⚠️ Your answer to the client of lead #1 was not delivered: Telegram refused it "
        "(Bad Request: chat not found). Try again, or call them; this is recorded in the "
        "lead's history."
    )
    await outbox_sent(sessions)
    assert len(_said(anna, anna_before, "not delivered")) == 1
    assert not _said(anna, anna_before, "Sent")


async def test_a_photo_answer_goes_through_the_outbox_too(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Anna answers with a photo while copying to Kate's chat fails twice (502): Kate gets
    the photo with its caption once, then Anna "✅ Sent to the client of lead #1."."""
    await _kate_waits(emulator, sessions)
    anna, kate = Phone(emulator, ANNA), Phone(emulator, KATE)
    anna_before, kate_before = len(anna.messages()), len(kate.messages())
    since = len(emulator.requests)
    emulator.fail_next("copyMessage", 502, count=2, chat_id=KATE)
    emulator.send_media(ANNA, "photo", caption="the blue one")
    await emulator.wait_for(lambda: any(m.kind == "sendPhoto" for m in kate.messages()))
    [photo] = [m for m in kate.messages()[kate_before:] if m.kind == "sendPhoto"]
    assert photo.text == "the blue one"
    await anna.next_message(anna_before, "Sent")
    await outbox_sent(sessions)
    assert _to(emulator, since, method="copyMessage") == [502, 502, 200]
    assert _to(emulator, since) == []  # no text besides the photo
    async with sessions() as session:
        replied = (
            await session.scalars(select(LeadEvent.data).where(LeadEvent.kind == "replied"))
        ).all()
    assert [r["text"] for r in replied] == ["📷 photo: the blue one"]
    [row] = await _answers(sessions)
    assert row.state == OutboxState.SENT and "html" not in row.payload
    assert (await _answer_task(sessions)).done_at is not None
