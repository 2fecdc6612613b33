"""End to end: the morning job through the real bot and the emulated Bot API. Moving the clock
past 09:00 Moscow time closes leads left for a week (their cards say so), tells each owner
once, and brings each supervisor the digest; the same day nothing repeats, the next day the
digest comes again; /digest on demand is for supervisors only.

Anna's Telegram is in English; Boris's and Sveta's (the supervisor) in Russian. Leads come
on Monday 05.01 at 12:00 Moscow time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.leads.actions import take_lead
from bot.leads.call_backs import schedule_call_back
from storage.models import JobRun, Lead, LeadStatus, OutboxKind, OutboxMessage, Staff
from tests.harness import (
    ANNA,
    BORIS,
    SVETA,
    Intake,
    Phone,
    card_buttons,
    running_app,
    unpaced_config,
)

TUESDAY_0859 = datetime(2026, 1, 13, 5, 59, tzinfo=UTC)  # 08:59 Moscow, 8 days later
TUESDAY_0901 = datetime(2026, 1, 13, 6, 1, tzinfo=UTC)


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    """Telegram's per-chat pace lifted: cards and their edits need not wait a second each
    (the pace itself is tested in test_e2e_delivery). The weekly report, due on these
    Mondays and Tuesdays too, is off: its own tests are in test_e2e_weekly."""
    lifted = unpaced_config(reports={"weekly_at": "off"})
    async with running_app(emulator, database_url, clock, lifted) as application:
        yield application


def _texts(phone: Phone, contains: str) -> list[BotMessage]:
    return [m for m in phone.messages() if contains in (m.text or "")]


async def _text_rows(app: Application) -> int:
    async with app.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(OutboxMessage.kind == OutboxKind.TEXT)
        )
    return count or 0


async def _leads_for_the_week(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> tuple[BotMessage, BotMessage, BotMessage]:
    """Lead 1 nobody takes; Anna takes lead 2 and promises a call-back; Boris works lead 3.
    Anna's cards of the three."""
    anna = Phone(emulator, ANNA)
    for who in (ANNA, BORIS, SVETA):
        await Phone(emulator, who).write("/start")
    for number in range(3):
        await intake.post({"name": f"Client {number + 1}", "phone": f"+7900111000{number}"})
    await emulator.wait_for(lambda: len(_texts(anna, "Lead #")) == 3)
    async with app.sessions() as session:
        await take_lead(session, 2, staff["anna"], clock.now())
        await schedule_call_back(
            session, 2, staff["anna"], clock.now() + timedelta(days=1), clock.now()
        )
        await take_lead(session, 3, staff["boris"], clock.now())
    first, second, third = (_texts(anna, f"Lead #{n} ")[0] for n in (1, 2, 3))
    await anna.until(second, "📞 Call back: 6 Jan")
    return first, second, third


async def test_past_nine_stale_leads_close_owners_hear_once_and_supervisors_get_the_digest(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    anna, boris, sveta = Phone(emulator, ANNA), Phone(emulator, BORIS), Phone(emulator, SVETA)
    first, second, third = await _leads_for_the_week(emulator, app, intake, staff, clock)

    clock.set(TUESDAY_0859)
    app.clock_moved()
    assert await app.jobs.run_daily() is None  # before 09:00: not yet
    assert await _text_rows(app) == 0

    clock.set(TUESDAY_0901)
    app.clock_moved()  # what the scheduler's minute check would find
    digest = await sveta.next_message(0, "Сводка за день")
    notice = await anna.next_message(0, "Closed as stale")
    assert "Вчера, 12.01.2026" in digest.text
    assert "Сегодня закрыто как устаревшие: 2" in digest.text
    # lead 1 had no owner: the supervisors' count covers it
    assert "Closed as stale: 1" in notice.text
    assert "#2 Client 2" in notice.text and "#1" not in notice.text
    assert "no activity for 7 days" in notice.text
    # every copy of the closed cards is edited; Boris's lead in work is left alone
    for card in (first, second):
        shown = await anna.until(card, "Reason: stale (no activity for 7 days)")
        assert "🗑 Junk" in shown.text and card_buttons(shown) == []
    boris_first = _texts(boris, "Лид #1 ")[0]
    await boris.until(boris_first, "Причина: устарел (без движения 7 дн.)")
    assert "Reason" not in anna.now(third).text
    async with app.sessions() as session:
        lead = await session.get(Lead, 3)
        assert lead is not None and lead.status == LeadStatus.IN_WORK
    assert _texts(boris, "устаревш") == []  # Boris had nothing closed: no message
    assert len(_texts(sveta, "Сводка за день")) == 1

    # later the same day (and after a restart the run is still recorded): nothing again
    clock.set(TUESDAY_0901 + timedelta(hours=10))
    app.clock_moved()
    assert await app.jobs.run_daily() is None
    assert await _text_rows(app) == 2
    async with app.sessions() as session:
        runs = (await session.scalars(select(JobRun.run_key))).all()
    assert runs == ["2026-01-13"]

    # the next morning the digest comes again (nothing more to close)
    clock.set(TUESDAY_0901 + timedelta(days=1))
    app.clock_moved()
    await emulator.wait_for(lambda: len(_texts(sveta, "Сводка за день")) == 2)
    again = _texts(sveta, "Сводка за день")[-1]
    assert "Вчера, 13.01.2026" in again.text and "Сегодня закрыто" not in again.text
    assert len(_texts(anna, "Closed as stale")) == 1


async def test_a_supervisor_reopens_a_stale_lead_from_its_card(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    _first, second, _third = await _leads_for_the_week(emulator, app, intake, staff, clock)
    clock.set(TUESDAY_0901)
    assert await app.jobs.run_daily() is not None
    await anna.until(second, "Reason: stale")

    found = await sveta.write("/find #2", "🔎")
    card = await sveta.press_for_reply(found, "open:2", "Лид #2")
    assert "Причина: устарел (без движения 7 дн.)" in card.text
    assert [text for text, _ in card_buttons(card)] == ["♻️ Открыть снова", "📜 История"]
    await sveta.press(card, "lead:reopen:2")
    await anna.until(second, "🟡 In work — yours")
    assert "Reason" not in anna.now(second).text


async def test_digest_on_demand_for_supervisors_and_refused_to_managers(
    emulator: TelegramEmulator, app: Application, intake: Intake
) -> None:
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    await intake.post({"name": "Client", "phone": "+79001110000"})
    await anna.write("/start")
    refused = await anna.write("/digest", "supervisors")
    assert refused.text == "This command is for supervisors."
    shown = await sveta.write("/digest", "Сводка")
    assert shown.text.startswith("📊 Сводка за день")
    assert "Вчера, 04.01.2026" in shown.text and "Новых лидов: 0" in shown.text
    assert "Просрочено сейчас: 0" in shown.text
    assert await _text_rows(app) == 0  # answered directly, nothing queued
