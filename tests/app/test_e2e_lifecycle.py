"""End to end: a manager works a lead from the card on their phone — call-backs, qualifying,
converting, refusing, notes and history — and every press is re-checked against the database.

Anna's Telegram is in English, Boris's in Russian. The clock stands at 05.01 12:00 Moscow time.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import aiohttp
import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadEvent, LeadStatus, Staff, Task
from tests.conftest import FSM_STORAGES
from tests.harness import (
    ANNA,
    BORIS,
    STRANGER,
    SVETA,
    WORKING,
    Intake,
    Phone,
    card_buttons,
    fast_config,
    outbox_sent,
    running_app,
)

# every dialogue here runs with its state in memory and in Redis
pytestmark = pytest.mark.parametrize("fsm_storage", FSM_STORAGES, indirect=True)


async def _anna_takes(emulator: TelegramEmulator, intake: Intake, **fields: str) -> BotMessage:
    """A form lead reaches Anna; she takes it. Her card, now with the working buttons."""
    anna = Phone(emulator, ANNA)
    for who in (ANNA, BORIS):  # Telegram wants Start pressed once; the bot learns the language
        await Phone(emulator, who).write("/start")
    await intake.post({"phone": "+79001234567", **fields})
    card = await anna.next_message(1, "Lead #")
    answer = await anna.press(card, "lead:take")
    assert answer["text"].startswith("Lead #1 is yours")
    await emulator.wait_for(lambda: [t for t, _ in card_buttons(anna.now(card))] == WORKING)
    return card


async def _lead(sessions: SessionFactory, lead_id: int = 1) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def _event_kinds(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all())


async def _open_tasks(sessions: SessionFactory) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).where(Task.done_at.is_(None)))).all())


async def test_quick_call_back_puts_the_lead_in_call_back_and_done_brings_it_back(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)

    picker = await anna.press(card, "lead:callback")
    assert picker["text"] == "When should we call the client of lead #1?"
    assert await anna.shows_buttons(
        card,
        [
            "+30 min",
            "+2 h",
            "Tomorrow morning",
            "✍️ Another time…",
            "« Back",
        ],
    )
    answer = await anna.press(card, "when:1:2h")
    assert answer["text"] == "Call back lead #1 at 5 Jan 14:00."
    shown = await anna.until(card, "📞 Call back: 5 Jan 14:00")
    assert "📞 Call back — yours" in shown.text
    assert [t for t, _ in card_buttons(shown)] == [
        "✔️ Done",
        "🕒 Reschedule",
        "🚫 Refuse",
        "🗑 Junk",
        "✏️ Note",
        "📜 History",
    ]
    [task] = await _open_tasks(sessions)
    assert task.due_at == task.created_at + timedelta(hours=2)

    # rescheduling to tomorrow morning keeps one open call-back, due at 09:00 local
    await anna.press(card, "lead:reschedule")
    answer = await anna.press(card, "when:1:tomorrow")
    assert answer["text"] == "Call back lead #1 at 6 Jan 09:00."
    await anna.until(card, "6 Jan 09:00")
    assert len(await _open_tasks(sessions)) == 1

    done = await anna.press(card, "lead:done")
    assert done["text"] == "Lead #1 is back in work."
    shown = await anna.until(card, "🟡 In work — yours")
    assert "Call back:" not in shown.text and [t for t, _ in card_buttons(shown)] == WORKING
    assert await _open_tasks(sessions) == []
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK
    assert await _event_kinds(sessions) == [
        "created",
        "taken",
        "callback_scheduled",
        "callback_scheduled",
        "callback_done",
    ]


async def test_tomorrow_morning_is_when_the_team_opens(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    redis_url: str | None,
) -> None:
    config = fast_config(working_hours={"opens": "10:30", "closes": "19:00"})
    async with (
        running_app(emulator, database_url, clock, config, redis_url=redis_url) as app,
        aiohttp.ClientSession() as http,
    ):
        anna = Phone(emulator, ANNA)
        card = await _anna_takes(emulator, Intake(app, http))
        await anna.press(card, "lead:callback")
        answer = await anna.press(card, "when:1:tomorrow")
        assert answer["text"] == "Call back lead #1 at 6 Jan 10:30."


async def test_typed_call_back_time_is_read_in_the_managers_zone_and_nonsense_gets_an_example(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    await anna.press(card, "lead:callback")
    question = await anna.press_for_reply(card, "when:1:other")
    assert "When should we call the client of lead #1?" in question.text
    assert "Europe/Moscow" in question.text

    unreadable = await anna.write("when the <b>moon</b> is full 🌕")
    assert unreadable.text.startswith("I could not read “when the <b>moon</b> is full 🌕”")
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK  # still waiting for a time

    confirmed = await anna.write("tomorrow 10:30")
    assert confirmed.text == "📞 Call back lead #1 at 6 Jan 10:30."
    await anna.until(card, "📞 Call back: 6 Jan 10:30")
    [task] = await _open_tasks(sessions)
    assert task.due_at.isoformat() == "2026-01-06T07:30:00+00:00"  # 10:30 Moscow is 07:30 UTC


async def test_cancel_leaves_the_call_back_dialogue_and_the_lead_as_it_was(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    await anna.press(card, "lead:callback")
    await anna.press_for_reply(card, "when:1:other")
    cancelled = await anna.write("/cancel")
    assert cancelled.text == "OK, cancelled: the lead stays as it was."
    again = await anna.write("/cancel")
    assert again.text == "Nothing to cancel: no dialogue is open."
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK
    assert await _open_tasks(sessions) == []


async def test_refuse_with_a_reason_closes_the_lead_and_other_asks_for_words(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    picker = await anna.press(card, "lead:refuse")
    assert picker["text"] == "Why did the client of lead #1 say no?"
    assert await anna.shows_buttons(
        card,
        [
            "Price",
            "Timing",
            "Chose a competitor",
            "No answer after several attempts",
            "Other",
            "« Back",
        ],
    )
    ask = await anna.press_for_reply(card, "why:refuse:1:other")
    assert "Say in a few words what it is" in ask.text
    closed = await anna.write("Moved to <Canada> 🇨🇦")
    assert closed.text == "🚫 Lead #1 refused: Other — Moved to <Canada> 🇨🇦."
    shown = await anna.until(card, "🚫 Refused")
    assert "Reason: Other — Moved to <Canada> 🇨🇦" in shown.text
    assert card_buttons(shown) == []  # a manager has nothing left to press on a closed lead
    lead = await _lead(sessions)
    assert (lead.status, lead.close_reason) == (LeadStatus.REFUSED, "other")


async def test_back_from_a_picker_restores_the_card_buttons(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    await anna.press(card, "lead:refuse")
    back = await anna.press(card, "card:1")
    assert back.get("text") is None  # no pop-up: the buttons simply come back
    assert await anna.shows_buttons(card, WORKING)
    # every copy of the card was edited once when Anna took it, and nothing was refused
    assert [r.method for r in emulator.requests if r.status != 200] == []


async def test_qualify_walks_the_fields_prefilled_and_saves_what_changed(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    name_step = await anna.press_for_reply(card, "lead:qualify")
    assert name_step.text.startswith("Lead #1 · 📝 qualifying · 1/4")
    assert "Client's full name" in name_step.text and "Not filled in yet" in name_step.text
    assert [t for t, _ in card_buttons(name_step)] == ["✖️ Cancel"]  # required: no Skip

    too_long = await anna.write("Я" * 201)
    assert too_long.text.startswith("Client's full name: please type from 1 to 200 characters.")
    phone_step = await anna.write("Ivan <b>Petrov</b> 😀")
    assert "2/4" in phone_step.text and "Now: +7 900 123-45-67" in phone_step.text
    assert [t for t, _ in card_buttons(phone_step)] == ["✔️ Keep", "✖️ Cancel"]
    assert card_buttons(anna.now(name_step)) == []  # the answered question lost its buttons

    service_step = await anna.press_for_reply(phone_step, "step:1:1:keep")
    assert "3/4" in service_step.text and "Service wanted" in service_step.text
    amount_step = await anna.write("Kitchen renovation")
    assert "4/4" in amount_step.text and "Deal amount</b> (optional)" in amount_step.source_text
    assert [t for t, _ in card_buttons(amount_step)] == ["Skip »", "✖️ Cancel"]
    saved = await anna.press_for_reply(amount_step, "step:1:3:skip")
    assert saved.text == "📝 Lead #1: saved — Client's full name, Service wanted."

    shown = await anna.until(card, "Ivan <b>Petrov</b> 😀")
    assert "Kitchen renovation" in shown.text and "🟡 In work — yours" in shown.text
    lead = await _lead(sessions)
    assert (lead.name, lead.service, lead.status) == (
        "Ivan <b>Petrov</b> 😀",
        "Kitchen renovation",
        LeadStatus.IN_WORK,
    )
    async with sessions() as session:
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "qualified"))
        contact = await session.get(Contact, lead.contact_id)
    assert event is not None and event.data == {
        "fields": {"name": "Ivan <b>Petrov</b> 😀", "service": "Kitchen renovation"}
    }
    assert contact is not None and contact.name == "Ivan <b>Petrov</b> 😀"


async def test_convert_asks_only_for_what_is_missing_and_records_the_amount(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake, name="Ivan Petrov")
    first = await anna.press_for_reply(card, "lead:convert")
    assert first.text.startswith("Lead #1 · ✅ deal · 1/2")
    assert "To close the deal, fill in: Service wanted." in first.text
    amount_step = await anna.write("Kitchen")
    assert "2/2" in amount_step.text and "Deal amount" in amount_step.text

    wrong = await anna.write("lots of money")
    assert wrong.text.startswith("That does not look like an amount. Example: 150000")
    done = await anna.write("150 000,50 ₽")
    assert done.text == "✅ Lead #1 is a deal for 150\u202f000.50 ₽. Well done!"
    shown = await anna.until(card, "✅ Deal")
    assert card_buttons(shown) == []
    lead = await _lead(sessions)
    assert (lead.status, lead.amount, lead.service) == (
        LeadStatus.CONVERTED,
        Decimal("150000.50"),
        "Kitchen",
    )
    assert lead.closed_at is not None
    assert (await _event_kinds(sessions))[-1] == "convert"


async def test_cancelled_convert_changes_nothing_and_its_old_buttons_are_out_of_date(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake, name="Ivan", service="Kitchen")
    amount_step = await anna.press_for_reply(card, "lead:convert")
    assert amount_step.text.startswith("Lead #1 · ✅ deal · 1/1")  # only the amount is asked
    answer = await anna.press(amount_step, "step:1:0:cancel")
    assert answer["text"] == "OK, cancelled: the lead stays as it was."
    stale = await anna.press_data(amount_step, "step:1:0:skip")
    assert stale["text"] == "This button is out of date. Open the lead's card again."
    assert stale["show_alert"]
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK
    assert await _event_kinds(sessions) == ["created", "taken"]


async def test_notes_and_history_newest_first_in_pages(
    emulator: TelegramEmulator, intake: Intake, clock: ManualClock
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    for number in range(1, 9):
        clock.advance(timedelta(minutes=1))
        ask = await anna.press_for_reply(card, "lead:note")
        assert ask.text.startswith("✏️ Your note on lead #1")
        added = await anna.write(f"called, busy <{number}>")
        assert added.text == "✏️ Note added to lead #1."

    history = await anna.press_for_reply(card, "lead:history")
    lines = history.text.splitlines()
    assert lines[0] == "📜 Lead #1: history (1/2)"
    newest_first = range(8, 0, -1)
    assert lines[1:] == [f"5 Jan 12:0{n} · Anna · note: called, busy <{n}>" for n in newest_first]
    assert [t for t, _ in card_buttons(history)] == ["1/2", "▶"]

    await anna.press(history, "hist:1:1")
    page_two = await anna.until(history, "(2/2)")
    assert page_two.text.splitlines()[1:] == [
        "5 Jan 12:00 · Anna · taken",
        "5 Jan 12:00 · system · created: website form",
    ]
    assert [t for t, _ in card_buttons(page_two)] == ["◀", "2/2"]


async def test_the_russian_history_names_events_and_sources_in_russian(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    """Boris (Russian) reads a lead's history: event kinds and the source in Russian, dates as
    day.month; a source the bot does not know is shown as the form sent it."""
    for who in (ANNA, BORIS, SVETA):
        await Phone(emulator, who).write("/start")
    await intake.post({"phone": "+79001234567", "source": "landing"})
    await intake.post({"phone": "+79001234567", "source": "promo-2026"})
    boris = Phone(emulator, BORIS)
    card = await boris.next_message(1, "Лид #1")
    assert card.text.splitlines()[0] == "Лид #1 · лендинг"
    await boris.press(card, "lead:take")
    await emulator.wait_for(lambda: "lead:history" in str(card_buttons(boris.now(card))))
    history = await boris.press_for_reply(card, "lead:history", "история")
    assert history.text.splitlines()[1:] == [
        "05.01 12:00 · Boris · взят",
        "05.01 12:00 · система · написал снова: promo-2026",
        "05.01 12:00 · система · создан: лендинг",
    ]


async def test_someone_elses_lead_and_stale_buttons_get_an_alert_and_change_nothing(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    card = await _anna_takes(emulator, intake)
    boris = Phone(emulator, BORIS)
    boris_card = await boris.next_message(1, "Лид #")
    await boris.until(boris_card, "взял(а) Anna")
    # Boris's client sends what Anna's buttons send: every one is refused, naming the owner
    for data in (
        "lead:callback:1",
        "lead:refuse:1",
        "lead:qualify:1",
        "lead:convert:1",
        "lead:note:1",
        "lead:history:1",
        "when:1:2h",
        "why:refuse:1:price",
        "hist:1:0",
    ):
        answer = await boris.press_data(boris_card, data)
        assert (answer["text"], answer["show_alert"]) == ("Этот лид ведёт Anna, не вы.", True)
    anna = Phone(emulator, ANNA)
    done = await anna.press_data(card, "lead:done:1")  # no call-back was set
    assert done["text"] == "This button is out of date. Open the lead's card again."
    reopen = await anna.press_data(card, "lead:reopen:1")
    assert reopen["text"] == "This button is out of date. Open the lead's card again."
    stranger = Phone(emulator, STRANGER)
    emulator.send_text(STRANGER, "/start")
    greeting = await stranger.next_message(0)
    answer = await stranger.press_data(greeting, "lead:convert:1")
    assert answer["text"] == "This button is for the sales team only."
    assert await _event_kinds(sessions) == ["created", "taken"]
    assert await _open_tasks(sessions) == []


async def test_a_dialogue_waiting_for_words_gets_a_hint_for_anything_else_and_cancel_works(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _anna_takes(emulator, intake)
    await anna.press(card, "lead:refuse")
    await anna.press_for_reply(card, "why:refuse:1:other", "Say in a few words")
    before = len(anna.messages())
    emulator.send_contact(ANNA, "+79001112233")  # not words
    hint = await anna.next_message(before)
    assert hint.text.startswith("Please answer with a text message, or send /cancel")
    unknown = await anna.write("/whatever", "Please answer")
    assert unknown.text == hint.text
    cancelled = await anna.write("/cancel", "cancelled")
    assert cancelled.text == "OK, cancelled: the lead stays as it was."
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK

    await anna.press(card, "card:1")  # back from the reasons to the card's own buttons
    await anna.press_for_reply(card, "lead:note", "Your note")
    before = len(anna.messages())
    emulator.send_contact(ANNA, "+79001112233")
    await anna.next_message(before, "Please answer")
    cancelled = await anna.write("/cancel", "cancelled")
    assert await _event_kinds(sessions) == ["created", "taken"]  # no note, no refusal


async def test_refuse_from_a_new_card_takes_the_lead_and_needs_two_taps(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """A new card offers Refuse: the press takes the lead for Anna (first press wins) and shows
    the reasons on her card; a reason closes it. Boris, too late, is told who has it."""
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    for who in (anna, boris):
        await who.write("/start")
    await intake.post({"phone": "+79001234567"})
    card = await anna.next_message(1, "Lead #1")
    boris_card = await boris.next_message(1, "Лид #1")
    assert [t for t, _ in card_buttons(card)] == ["✋ Take", "🚫 Refuse", "🗑 Junk"]

    picked = await anna.press(card, "lead:refuse:1")  # tap 1
    assert picked["text"] == "Why did the client of lead #1 say no?"
    # the press is answered first; the take's refresh and the reasons follow on the card
    shown = await anna.until(card, "In work — yours")
    await emulator.wait_for(lambda: "why:refuse:1:price" in _datas(anna.now(card)))
    assert "why:refuse:1:price" in _datas(anna.now(card)), shown.text
    late = await boris.press_data(boris_card, "lead:refuse:1")
    assert late["text"] == "Этот лид ведёт Anna, не вы."
    await outbox_sent(sessions)  # the take's refresh of every card has gone out
    assert "why:refuse:1:price" in _datas(anna.now(card))

    closed = await anna.press(card, "why:refuse:1:price")  # tap 2
    assert closed["text"].startswith("Lead #1")
    lead = await _lead(sessions)
    assert (lead.status, lead.close_reason) == (LeadStatus.REFUSED, "price")
    assert await _event_kinds(sessions) == ["created", "taken", "refuse"]


def _datas(message: BotMessage) -> list[str]:
    return [data for _, data in card_buttons(message)]
