"""End to end: lead lists, search, and what a supervisor does from a card — reassign and
reopen. Anna's Telegram is in English, Boris's and Sveta's (the supervisor) in Russian;
Moscow time 05.01 12:00 when each test starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, LeadStatus, Staff
from tests.harness import (
    ANNA,
    BORIS,
    SVETA,
    Intake,
    Phone,
    card_buttons,
    outbox_sent,
    running_app,
    unpaced_config,
)


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    """Telegram's per-chat pace lifted: these tests send a dozen cards to one chat and must
    not wait ten seconds for them (the pace itself is tested in test_e2e_delivery)."""
    lifted = unpaced_config()
    async with running_app(emulator, database_url, clock, lifted) as application:
        yield application


async def _everyone_starts(emulator: TelegramEmulator) -> None:
    for who in (ANNA, BORIS, SVETA):
        await Phone(emulator, who).write("/start")


async def _leads(intake: Intake, *names: str) -> None:
    for number, name in enumerate(names):
        status, _ = await intake.post({"name": name, "phone": f"+7900123450{number}"})
        assert status == 201


async def _take(phone: Phone, lead_id: int) -> None:
    card = await phone.next_message(0, f"#{lead_id} ")
    answer = await phone.press(card, f"lead:take:{lead_id}")
    assert "take" not in answer["text"].lower() or "yours" in answer["text"]


def _lines(message: BotMessage) -> list[str]:
    return [text for text, _ in card_buttons(message)]


async def test_lists_from_the_menu_show_my_new_todays_and_overdue_leads(
    emulator: TelegramEmulator, intake: Intake, clock: ManualClock
) -> None:
    await _everyone_starts(emulator)
    anna = Phone(emulator, ANNA)
    menu = await anna.write("/leads")
    assert menu.text.startswith("📋 Lead lists are in the menu under the input field")
    assert menu.reply_markup is not None
    assert [[b["text"] for b in row] for row in menu.reply_markup["keyboard"]] == [
        ["📋 My leads", "🆕 New"],
        ["📞 Today", "⏰ Overdue"],
    ]

    await _leads(intake, "Ivan", "Olga <script>", "Petr")
    await emulator.wait_for(lambda: len([m for m in anna.messages() if "Lead #" in m.text]) == 3)
    empty = await anna.write("📋 My leads", "My open leads")
    assert empty.text.startswith("📋 My open leads\n")
    assert "You have no open leads" in empty.text
    await _take(anna, 2)

    mine = await anna.write("📋 My leads", "My open leads")
    assert mine.text.startswith("📋 My open leads: 1")
    assert _lines(mine) == ["#2 🟡 Olga <script>"]
    new = await anna.write("🆕 New", "New leads")
    assert _lines(new) == ["#1 🆕 Ivan", "#3 🆕 Petr"]  # the oldest waiting first

    clock.advance(timedelta(minutes=20))  # past the [sla.not_taken] reminder at 10 min
    overdue = await anna.write("⏰ Overdue", "Overdue leads")
    assert _lines(overdue) == ["#1 🆕 Ivan · 5 Jan 12:10", "#3 🆕 Petr · 5 Jan 12:10"]
    today = await anna.write("📞 Today", "Call-backs due today")
    assert "No call-backs are due today." in today.text


async def test_a_long_list_pages_and_a_line_opens_the_live_card(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await _everyone_starts(emulator)
    await _leads(intake, *(f"Client {n}" for n in range(1, 11)))
    anna = Phone(emulator, ANNA)
    # the cards the leads brought are all in, so a card below is one opened from the list
    await emulator.wait_for(lambda: len([m for m in anna.messages() if "Lead #" in m.text]) == 10)
    new = await anna.write("🆕 New", "New leads nobody took")
    assert new.text.startswith("🆕 New leads nobody took: 10 · page 1/2")
    assert _lines(new)[-2:] == ["1/2", "▶"] and len(_lines(new)) == 10
    await anna.press(new, "list:new:1")
    page_two = await anna.until(new, "page 2/2")
    assert _lines(page_two) == ["#9 🆕 Client 9", "#10 🆕 Client 10", "◀", "2/2"]

    first = await anna.press_for_reply(page_two, "open:10", "Lead #10")
    assert [t for t, _ in card_buttons(first)] == ["✋ Take", "🚫 Refuse", "🗑 Junk"]
    again = await anna.press_for_reply(page_two, "open:10", "Lead #10")
    # the newest copy is the one kept up to date; the older one lost its buttons
    await emulator.wait_for(lambda: card_buttons(anna.now(first)) == [])
    await anna.press(again, "lead:take:10")
    await anna.until(again, "In work — yours")
    assert "In work" not in anna.now(first).text


async def test_find_by_phone_in_any_format_name_fragment_email_and_id(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await _everyone_starts(emulator)
    await intake.post({"name": "Анна Каренина", "phone": "+79001112233", "email": "anna@k.ru"})
    await intake.post({"name": "Ivan 100%_sure", "phone": "+79004445566"})
    boris = Phone(emulator, BORIS)
    await emulator.wait_for(lambda: len([m for m in boris.messages() if "Лид #" in m.text]) == 2)
    for query, expected in (
        ("8 (900) 111-22-33", ["#1 🆕 Анна Каренина"]),
        ("карен", ["#1 🆕 Анна Каренина"]),  # any case, Cyrillic too
        ("ANNA@K.RU", ["#1 🆕 Анна Каренина"]),
        ("#2", ["#2 🆕 Ivan 100%_sure"]),
        ("100%_", ["#2 🆕 Ivan 100%_sure"]),  # % and _ are letters here, not patterns
        ("%", []),
    ):
        found = await boris.write(f"/find {query}", "🔎")
        assert _lines(found) == expected, query
    nothing = await boris.write("/find <b>nobody</b>")
    assert nothing.text.startswith("🔎 По «<b>nobody</b>» ничего не нашлось.")
    ask = await boris.write("/find")
    assert ask.text.startswith("🔎 Пришлите телефон")
    typed = await boris.write("ivan")
    assert _lines(typed) == ["#2 🆕 Ivan 100%_sure"]


async def test_supervisor_reassigns_with_counts_and_both_owners_are_told(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await _everyone_starts(emulator)
    await _leads(intake, "Ivan")
    anna, boris, sveta = (Phone(emulator, who) for who in (ANNA, BORIS, SVETA))
    await _take(anna, 1)
    found = await sveta.write("/find #1", "🔎")
    card = await sveta.press_for_reply(found, "open:1", "Лид #1")
    assert _lines(card)[-1] == "👥 Передать"
    picker = await sveta.press(card, "lead:reassign:1")
    assert picker["text"].startswith("Кому передать лид #1?")
    assert await sveta.shows_buttons(card, ["🟢 Boris · 0 откр.", "🟢 Sveta · 0 откр.", "« Назад"])

    before = len(boris.messages())
    pool_copy = await boris.next_message(0, "Лид #1 ")
    await boris.until(pool_copy, "взял(а) Anna")  # Anna's take is drawn on it
    edits_before = len(boris.now(pool_copy).history)
    answer = await sveta.press(card, "give:1:2:")
    assert answer["text"] == "Лид #1 теперь ведёт Boris."
    # one message: who gave it, over the full card, at the bottom of Boris's chat
    told = await boris.next_message(before, "передал(а) вам лид #1")
    assert told.text.startswith("👥 Sveta передал(а) вам лид #1: теперь он ваш.\n\nЛид #1 ")
    assert "В работе — у вас" in told.text
    assert "📞 Перезвонить" in _lines(told)  # Boris works it now
    assert len(boris.messages()) == before + 1
    await anna.next_message(0, "Sveta passed your lead #1 to Boris.")
    # the old copy: drawn once, as the lead is now, with no buttons
    old = await boris.until(pool_copy, "В работе — у вас")
    await emulator.wait_for(lambda: card_buttons(boris.now(pool_copy)) == [])
    await outbox_sent(sessions)
    assert len(boris.now(pool_copy).history) == edits_before + 1, old.text
    anna_card = next(m for m in anna.messages() if m.text.startswith("Lead #1 "))
    shown = await anna.until(anna_card, "taken by Boris")
    assert card_buttons(shown) == []
    async with sessions() as session:
        lead = await session.get(Lead, 1)
        kinds = (await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all()
    assert lead is not None and lead.owner_id == 2 and lead.status == LeadStatus.IN_WORK
    assert kinds == ["created", "taken", "reassigned"]


async def test_two_reassigns_from_the_same_picker_one_wins_with_one_event(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await _everyone_starts(emulator)
    await _leads(intake, "Ivan")
    sveta = Phone(emulator, SVETA)
    found = await sveta.write("/find #1", "🔎")
    card = await sveta.press_for_reply(found, "open:1", "Лид #1")
    await sveta.press(card, "lead:reassign:1")
    to_anna = sveta.press_data(card, "give:1:1:1")
    to_boris = sveta.press_data(card, "give:1:2:1")
    answers = sorted(a["text"] for a in await asyncio.gather(to_anna, to_boris))
    # the press that came second finds the lead changed since the picker was opened
    assert answers[0] == "Кнопка устарела. Откройте карточку лида заново."
    assert answers[1].startswith("Лид #1 теперь ведёт")
    async with sessions() as session:
        events = (
            await session.scalars(select(LeadEvent).where(LeadEvent.kind == "reassigned"))
        ).all()
        lead = await session.get(Lead, 1)
    assert len(events) == 1 and lead is not None and lead.owner_id == events[0].data["to"]


async def test_managers_cannot_reassign_or_reopen_and_supervisor_reopens_a_junked_lead(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await _everyone_starts(emulator)
    await _leads(intake, "Ivan")
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    await _take(anna, 1)
    card = await anna.next_message(0, "Lead #1 ")
    forged = await anna.press_data(card, "give:1:2:2")
    assert forged["text"] == "Only a supervisor can do this." and forged["show_alert"]
    await anna.press(card, "lead:junk:1")
    await anna.press(card, "why:junk:1:spam")
    await anna.until(card, "Junk")

    reopen = await anna.press_data(card, "lead:reopen:1")
    assert reopen["text"] == "Only a supervisor can do this."
    found = await sveta.write("/find Ivan", "🔎")
    sveta_card = await sveta.press_for_reply(found, "open:1", "Лид #1")
    assert _lines(sveta_card) == ["♻️ Открыть снова", "📜 История"]
    answer = await sveta.press(sveta_card, "lead:reopen:1")
    assert answer["text"] == "Лид #1 снова открыт и вернулся в работу к Anna."
    shown = await anna.until(card, "In work — yours")
    assert "Reason:" not in shown.text and "📞 Call back" in _lines(shown)
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and (lead.status, lead.close_reason) == (LeadStatus.IN_WORK, None)


async def test_each_role_gets_its_command_menu_in_its_language(
    emulator: TelegramEmulator, app: Application
) -> None:
    await _everyone_starts(emulator)

    def menu(scope: str, language: str = "") -> list[str]:
        return [c["command"] for c in emulator.state.commands.get((scope, language), [])]

    manager = ["leads", "find", "report", "channel", "duty", "cancel"]
    assert menu(f"chat_id={ANNA},type=chat") == manager
    assert menu(f"chat_id={SVETA},type=chat") == [
        "leads",
        "find",
        "overdue",
        "team",
        "digest",
        "report",
        "spend",
        "merge",
        "import",
        "channel",
        "duty",
        "cancel",
    ]
    assert menu("type=default") == menu("type=default", "en") == ["start", "stop"]
    described = emulator.state.commands[(f"chat_id={SVETA},type=chat", "")]
    assert described[0]["description"] == "Списки лидов: мои, новые, перезвоны, просроченные"
