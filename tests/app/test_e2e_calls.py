"""End to end: a missed call reaches the managers as a call-back task on the lead's card; more
calls count on it; Called back / No answer from the card; an answered call completes it.

Anna's Telegram is in English, Boris's in Russian. The clock stands at 05.01 12:00 Moscow time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, Task
from tests.harness import (
    ANNA,
    BORIS,
    INTAKE_TOKEN,
    SVETA,
    Intake,
    Phone,
    card_buttons,
    outbox_sent,
)

MISSED_LINE = "📵 Missed call from +7 900 123-45-67, 12:02"
BUTTONS = ["☎️ Called back", "🔁 No answer, try in 30 min"]


class Pbx:
    """The office phone system posting call events to POST /api/v1/calls."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def call(
        self,
        call_id: str,
        status: str = "missed",
        direction: str = "in",
        at: str = "12:02",
        duration: int = 0,
    ) -> dict[str, Any]:
        client, office = "+79001234567", "+74950000000"
        body = {
            "call_id": call_id,
            "direction": direction,
            "status": status,
            "from": client if direction == "in" else office,
            "to": office if direction == "in" else client,
            "started_at": f"2026-01-05T{at}:00+03:00",
            "duration": duration,
        }
        headers = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
        async with self.http.post("/api/v1/calls", json=body, headers=headers) as response:
            assert response.status in (200, 201), await response.text()
            return dict(await response.json())


@pytest.fixture
async def pbx(app: Application) -> AsyncIterator[Pbx]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as http:
        yield Pbx(http)


async def _started(emulator: TelegramEmulator) -> tuple[Phone, Phone]:
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    return Phone(emulator, ANNA), Phone(emulator, BORIS)


async def _task(sessions: SessionFactory) -> Task:
    async with sessions() as session:
        task = await session.scalar(select(Task))
        assert task is not None
        return task


async def _event_kinds(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all())


def _texts(message: Any) -> list[str]:
    return [text for text, _ in card_buttons(message)]


async def test_missed_calls_reach_the_pool_and_count_on_one_card_then_called_back(
    emulator: TelegramEmulator,
    app: Application,
    pbx: Pbx,
    sessions: SessionFactory,
    clock: ManualClock,
) -> None:
    anna, boris = await _started(emulator)
    await pbx.call("c-1")
    card = await anna.next_message(1, "Lead #1")
    assert MISSED_LINE in card.text and "phone call" in card.text
    assert _texts(card)[:2] == BUTTONS and "✋ Take" in _texts(card)
    boris_card = await boris.next_message(1, "Лид #1")
    assert "📵 Пропущенный звонок с +7 900 123-45-67, 12:02" in boris_card.text
    sent = len(anna.messages())
    await pbx.call("c-2", status="no_answer", at="12:05")
    shown = await anna.until(card, "12:05 (×2)")
    assert "Missed call from +7 900 123-45-67, 12:05 (×2)" in shown.text
    assert len(anna.messages()) == sent  # edited, never sent again
    # No answer: the task waits 30 minutes more; the press took the new lead for Anna
    answer = await anna.press(card, "lead:no_answer")
    assert answer["text"] == "🔁 Lead #1: try again at 5 Jan 12:30."
    task = await _task(sessions)
    assert task.done_at is None and task.due_at == clock.now() + timedelta(minutes=30)
    assert (task.alert_at, task.alert_level) == (task.due_at, 0)
    shown = await anna.until(card, "next try at 12:30")
    assert "🟡 In work — yours" in shown.text and _texts(shown)[:2] == BUTTONS
    # Boris's copy no longer offers the call to him: the lead is Anna's
    refused = await boris.press_data(boris_card, "lead:called_back:1")
    assert (refused["text"], refused["show_alert"]) == ("Этот лид ведёт Anna, не вы.", True)
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.contacted_at is None  # no answer is not contact
    assert lead.alert_at == clock.now() + timedelta(hours=2)  # "no contact" runs from the take
    # at 12:30 Anna is reminded to try again, with the same buttons
    clock.advance(timedelta(minutes=30))
    await app.jobs.fire_due_alerts()
    retry = await anna.next_message(1, "🔁 Time to try the missed call again")
    assert retry.text.startswith(
        "🔁 Time to try the missed call again: no answer 1 time so far (lead #1)"
    )
    assert _texts(retry)[:2] == BUTTONS
    answer = await anna.press(card, "lead:called_back")
    assert answer["text"] == "☎️ Lead #1: the missed call is returned."
    shown = await anna.until(card, "☎️ Called back at 12:30")
    assert "☎️ Called back" not in _texts(shown)
    task = await _task(sessions)
    assert task.done_at is not None and task.count == 2
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.contacted_at is not None and lead.owner_id is not None
    stale = await anna.press_data(card, "lead:called_back:1")
    assert stale["text"] == "This button is out of date. Open the lead's card again."
    assert await _event_kinds(sessions) == [
        "created",
        "call",
        "call",
        "taken",
        "missed_call_retry",
        "reminded",
        "missed_call_done",
    ]


async def test_an_answered_call_back_completes_the_task_and_the_card_says_so(
    emulator: TelegramEmulator, pbx: Pbx, sessions: SessionFactory
) -> None:
    anna, _ = await _started(emulator)
    await pbx.call("c-1")
    card = await anna.next_message(1, "Lead #1")
    result = await pbx.call("c-3", status="answered", direction="out", at="12:20", duration=95)
    assert result["task_completed"] is True
    shown = await anna.until(card, "☎️ Called back at 12:20")
    assert "☎️ Called back" not in _texts(shown) and MISSED_LINE not in shown.text
    assert (await _task(sessions)).done_at is not None
    assert await _event_kinds(sessions) == ["created", "call", "missed_call_done", "call"]


async def test_a_missed_call_not_returned_reminds_then_escalates_until_the_call_back_ends_it(
    emulator: TelegramEmulator,
    app: Application,
    pbx: Pbx,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """[sla] missed_call = 15m, 1h: counted from the call at 12:02, not from the sweep."""
    anna, boris = await _started(emulator)
    sveta = Phone(emulator, SVETA)
    await sveta.write("/start")
    await pbx.call("c-1")
    card = await anna.next_message(1, "Lead #1")
    assert (await anna.press(card, "lead:take"))["text"].startswith("Lead #1 is yours")

    async def sweep(minutes: int) -> None:  # returns once what it fired is sent
        clock.advance(timedelta(minutes=minutes))
        await app.jobs.fire_due_alerts()
        await outbox_sent(sessions)

    await sweep(16)  # 12:16
    assert not [m for m in anna.messages() if "not returned" in (m.text or "")]
    await sweep(1)  # 12:17: the owner is reminded, with the call's own buttons
    reminder = await anna.next_message(1, "📵 Missed call not returned 15 min (lead #1)")
    assert "+7 900 123-45-67" in reminder.text and _texts(reminder)[:2] == BUTTONS
    assert not [m for m in boris.messages() if "не перезвонен" in (m.text or "")]
    await sweep(44)  # 13:01
    assert not [m for m in sveta.messages() if "Эскалация" in (m.text or "")]
    await sweep(1)  # 13:02: an hour without a call-back goes to the supervisor
    escalation = await sveta.next_message(1, "Эскалация")
    assert "Пропущенный звонок не перезвонен 1 ч (лид #1)" in escalation.text
    assert [t for t, _ in card_buttons(escalation)] == [
        "👥 Передать",
        "🙋 Забрать себе",
        "😴 Отложить на 15 мин",
    ]
    # Somebody rang the client back from the office phone: the task ends, the card says so
    result = await pbx.call("c-2", status="answered", direction="out", at="13:05", duration=60)
    assert result["task_completed"] is True
    await anna.until(card, "☎️ Called back at 13:05")
    assert (await _task(sessions)).alert_at is None
    alerts = len(anna.messages()) + len(sveta.messages())
    await sweep(5 * 60)  # nothing more about a returned call
    assert len(anna.messages()) + len(sveta.messages()) == alerts
    kinds = await _event_kinds(sessions)
    assert [k for k in kinds if k in ("reminded", "escalated", "missed_call_done")] == [
        "reminded",
        "escalated",
        "missed_call_done",
    ]


async def test_a_missed_call_on_the_owners_lead_is_one_message_with_the_buttons(
    emulator: TelegramEmulator, intake: Intake, pbx: Pbx, sessions: SessionFactory
) -> None:
    anna, boris = await _started(emulator)
    await intake.post({"phone": "8 900 123-45-67", "name": "Olga"})
    card = await anna.next_message(1, "Lead #1")
    assert (await anna.press(card, "lead:take"))["text"].startswith("Lead #1 is yours")
    await anna.until(card, "🟡 In work — yours")
    before = len(anna.messages())
    await pbx.call("c-1")
    note = await anna.next_message(before, "Missed call")
    assert note.text.startswith("📵 Missed call from +7 900 123-45-67, 12:02 — lead #1.")
    assert _texts(note) == BUTTONS
    await anna.until(card, MISSED_LINE)
    await pbx.call("c-2", at="12:04")
    await anna.until(card, "(×2)")
    assert len(anna.messages()) == before + 1  # the repeat only edits the card
    # Boris sends what Anna's message sends: refused, nothing changes
    boris_card = await boris.next_message(1, "Лид #1")
    refused = await boris.press_data(boris_card, "lead:no_answer:1")
    assert refused["text"] == "Этот лид ведёт Anna, не вы." and refused["show_alert"] is True
    assert (await _task(sessions)).due_at.isoformat() == "2026-01-05T09:02:00+00:00"
    answer = await anna.press(note, "lead:called_back")
    assert answer["text"] == "☎️ Lead #1: the missed call is returned."
    await anna.until(card, "☎️ Called back at 12:00")
    assert (await _task(sessions)).done_at is not None
    history = await anna.press_for_reply(card, "lead:history", "history")
    assert "call: incoming, missed, 0 s" in history.text and "called back" in history.text
