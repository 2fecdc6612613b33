"""End to end: a client's messages relayed into a manager's chat keep their Reply button only
while it works for that chat: the lead closed, or someone else's, takes it away, one edit per
message, ever."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.devtools.emulator import TelegramEmulator
from bot.devtools.emulator.state import BotMessage
from storage.db import SessionFactory
from storage.models import OutboxMessage, OutboxState, RelayedMessage
from tests.harness import ANNA, BORIS, SVETA, Intake, Phone, card_buttons, outbox_sent

KATE = 7001
AGAIN = ("got in touch again", "обратился снова")  # lead_appended, in English and Russian


async def _start(emulator: TelegramEmulator, *staff: int) -> Phone:
    for who in staff:
        await Phone(emulator, who).write("/start")
    emulator.add_user(KATE, "Kate", language_code="en")
    kate = Phone(emulator, KATE)
    await kate.write("/start", "Hello!")
    return kate


async def _relayed(phone: Phone, count: int) -> list[BotMessage]:
    """The client's messages relayed into this chat so far, once there are `count`."""

    def found() -> list[BotMessage]:
        return [m for m in phone.messages() if any(a in (m.text or "") for a in AGAIN)]

    await phone.emulator.wait_for(lambda: len(found()) >= count)
    return found()


async def _taken_by_anna(emulator: TelegramEmulator, kate: Phone) -> tuple[Phone, BotMessage]:
    await kate.write("Do you deliver?", "Thank you")
    anna = Phone(emulator, ANNA)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "In work — yours")
    return anna, card


def _edits(phone: Phone, message: BotMessage) -> int:
    return len(phone.now(message).history)


def _strips(emulator: TelegramEmulator, message: BotMessage) -> list[int]:
    """The status of every editMessageReplyMarkup asked of this message, in order."""
    return [
        r.status
        for r in emulator.state.requests
        if r.method == "editMessageReplyMarkup"
        and str(r.params.get("chat_id")) == str(message.chat_id)
        and str(r.params.get("message_id")) == str(message.message_id)
    ]


async def _reassign(sveta: Phone, to_staff_id: int) -> None:
    """Sveta (a supervisor) opens lead #1 from a search and gives it to `to_staff_id`."""
    found = await sveta.write("/find #1", "🔎")
    card = await sveta.press_for_reply(found, "open:1", "Лид #1")
    await sveta.press(card, "lead:reassign:1")
    answer = await sveta.press(card, f"give:1:{to_staff_id}:")
    assert answer["text"].startswith("Лид #1 теперь ведёт")


async def test_a_closed_lead_takes_reply_off_its_relayed_messages_once(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Anna works Kate's lead and has Kate's two later messages in her chat, each with Reply.
    She junks the lead: both messages lose Reply (each edited once). Sveta reopens it: the
    messages are not touched again, and Anna can still answer Kate by replying to one."""
    kate = await _start(emulator, ANNA, BORIS, SVETA)
    anna, card = await _taken_by_anna(emulator, kate)
    emulator.send_text(KATE, "and a table")
    emulator.send_text(KATE, "and four chairs")
    relayed = await _relayed(anna, 2)
    await outbox_sent(sessions)
    assert [card_buttons(anna.now(m)) for m in relayed] == [[("💬 Reply", "lead:reply:1")]] * 2
    assert [_edits(anna, m) for m in relayed] == [0, 0]

    await anna.press(card, "lead:junk:1")
    await anna.press(card, "why:junk:1:spam")
    await anna.until(card, "Junk")
    await outbox_sent(sessions)
    assert [card_buttons(anna.now(m)) for m in relayed] == [[], []]
    assert [_edits(anna, m) for m in relayed] == [1, 1]
    # only the buttons went: the words are as they were
    assert [anna.now(m).text for m in relayed] == [m.text for m in relayed]

    sveta = Phone(emulator, SVETA)
    found = await sveta.write("/find #1", "🔎")
    sveta_card = await sveta.press_for_reply(found, "open:1", "Лид #1")
    await sveta.press(sveta_card, "lead:reopen:1")
    await anna.until(card, "In work — yours")
    await outbox_sent(sessions)
    # a second change costs these messages nothing: Reply stays gone (see reply_buttons_removed)
    assert [card_buttons(anna.now(m)) for m in relayed] == [[], []]
    assert [_edits(anna, m) for m in relayed] == [1, 1]
    before = len(kate.messages())
    reply = {"reply_to_message": emulator.state.message_json(anna.now(relayed[0]))}
    emulator.send_text(ANNA, "Yes, tables too", **reply)
    answer = await kate.next_message(before, "Anna")
    assert answer.text == "💬 Anna: Yes, tables too"
    async with sessions() as session:
        removed = (await session.scalars(select(RelayedMessage.buttons_removed_at))).all()
    assert len(removed) == 2 and all(at is not None for at in removed)


async def test_a_reassigned_lead_takes_reply_from_the_old_owner_but_not_a_supervisor(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Anna has Kate's message with Reply. Sveta takes the lead over: Anna's message loses
    Reply (it would only say the lead is not hers). Kate writes again, to Sveta. Sveta gives
    the lead to Boris: Sveta's message keeps Reply (a supervisor answers any open lead), Anna's
    is not edited again, and Kate's next message reaches Boris with Reply."""
    kate = await _start(emulator, ANNA, BORIS, SVETA)
    anna, _card = await _taken_by_anna(emulator, kate)
    sveta, boris = Phone(emulator, SVETA), Phone(emulator, BORIS)
    emulator.send_text(KATE, "and a table")
    [annas] = await _relayed(anna, 1)
    await outbox_sent(sessions)

    # the strip meets a Telegram hiccup: the message waits for the refresh's retry
    emulator.fail_next("editMessageReplyMarkup", 502, chat_id=ANNA)
    await _reassign(sveta, 3)  # to herself
    await outbox_sent(sessions)
    assert card_buttons(anna.now(annas)) == [] and _edits(anna, annas) == 1
    assert _strips(emulator, annas) == [502, 200]

    emulator.send_text(KATE, "and four chairs")
    [svetas] = await _relayed(sveta, 1)
    await outbox_sent(sessions)
    assert [text for text, _ in card_buttons(svetas)] == ["💬 Ответить"]

    await _reassign(sveta, 2)  # to Boris
    await outbox_sent(sessions)
    assert [text for text, _ in card_buttons(sveta.now(svetas))] == ["💬 Ответить"]
    assert _edits(sveta, svetas) == 0
    assert card_buttons(anna.now(annas)) == [] and _edits(anna, annas) == 1
    assert _strips(emulator, annas) == [502, 200]

    emulator.send_text(KATE, "and a lamp")
    [boriss] = await _relayed(boris, 1)
    await outbox_sent(sessions)
    assert [text for text, _ in card_buttons(boris.now(boriss))] == ["💬 Ответить"]
    assert _edits(boris, boriss) == 0


async def test_taking_a_new_lead_by_reply_takes_reply_off_the_other_managers_copy(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Kate's first message is a photo: Anna and Boris each get the card and the photo with
    Reply (on a new lead it takes the lead). Anna presses Reply on hers: the lead is hers, her
    photo keeps Reply, and Boris's photo loses it (edited once)."""
    await _start(emulator, ANNA, BORIS)
    emulator.send_media(KATE, "photo", caption="This sofa, in blue?")
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)

    async def photo(phone: Phone) -> BotMessage:
        await phone.emulator.wait_for(lambda: any(m.kind == "sendPhoto" for m in phone.messages()))
        return next(m for m in phone.messages() if m.kind == "sendPhoto")

    annas, boriss = await photo(anna), await photo(boris)
    await outbox_sent(sessions)
    await anna.press_for_reply(annas, "lead:reply:1", "Your answer")
    await anna.write("/cancel", "cancel")
    await outbox_sent(sessions)
    assert card_buttons(boris.now(boriss)) == [] and _edits(boris, boriss) == 1
    assert [text for text, _ in card_buttons(anna.now(annas))] == ["💬 Reply"]
    assert _edits(anna, annas) == 0


async def test_a_message_relayed_while_the_lead_closes_loses_reply_once_recorded(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Kate writes while Telegram will not take Anna's messages; meanwhile Anna junks the lead
    and that change's refresh is over. When Kate's message does reach Anna, its Reply (drawn
    at sending) is taken away at once: one edit."""
    kate = await _start(emulator, ANNA, BORIS)
    anna, card = await _taken_by_anna(emulator, kate)
    await outbox_sent(sessions)
    emulator.fail_next("sendMessage", 502, count=10**6, chat_id=ANNA)
    emulator.send_text(KATE, "and a table")
    await _pending_rows(sessions, 1)  # the relayed message, failing
    await anna.press(card, "lead:junk:1")
    await anna.press(card, "why:junk:1:spam")
    await anna.until(card, "Junk")
    await _pending_rows(sessions, 1)  # the junk's refresh is done: only the message waits
    emulator.faults.faults.clear()
    [relayed] = await _relayed(anna, 1)
    await outbox_sent(sessions)
    assert card_buttons(anna.now(relayed)) == [] and _edits(anna, relayed) == 1


async def _pending_rows(sessions: SessionFactory, count: int) -> None:
    """Wait until exactly `count` outbox rows are pending."""
    for _ in range(1000):
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.PENDING)
            )
        if pending == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{pending} outbox row(s) pending, not {count}")
