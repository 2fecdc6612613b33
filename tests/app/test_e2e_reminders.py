"""End to end: time limits as the team sees them. A lead nobody takes reminds the managers,
then escalates to the supervisor (Sveta, in Russian) with Reassign / Take over / Snooze; a
call-back due reminds its owner; a client waiting for an answer reminds the owner, then the
supervisor; nothing at night; every press re-checked. The clock is moved, never waited on;
the sweep is the one the scheduler runs. Monday 05.01 12:00 Moscow time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.leads.actions import junk_lead
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import (
    Lead,
    LeadCard,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Role,
    Staff,
)
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

KATE = 7001
ALEX = 1004


async def _start_staff(emulator: TelegramEmulator) -> None:
    for who in (ANNA, BORIS, SVETA):  # Start pressed once: the bot learns each language
        await Phone(emulator, who).write("/start")


async def _sweep(app: Application, clock: ManualClock, delta: timedelta) -> None:
    """Move the clock and sweep; return once what the sweep fired is sent, so that a check that
    nothing came looks after everything it could have sent."""
    clock.advance(delta)
    await app.jobs.fire_due_alerts()
    await outbox_sent(app.sessions)


async def _escalated_new_lead(
    emulator: TelegramEmulator, app: Application, intake: Intake, clock: ManualClock
) -> BotMessage:
    await _start_staff(emulator)
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    await anna.next_message(1, "Lead #1")
    await _sweep(app, clock, timedelta(minutes=10))
    await anna.next_message(1, "has not been taken for 10 min")
    await _sweep(app, clock, timedelta(minutes=20))
    return await sveta.next_message(1, "Эскалация")


async def test_a_lead_nobody_takes_reminds_the_pool_then_escalates_with_its_fixes(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    await _start_staff(emulator)
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    anna, boris, sveta = Phone(emulator, ANNA), Phone(emulator, BORIS), Phone(emulator, SVETA)
    await anna.next_message(1, "Lead #1")
    await _sweep(app, clock, timedelta(minutes=9))
    assert not [m for m in anna.messages() if "not been taken" in (m.text or "")]
    await _sweep(app, clock, timedelta(minutes=1))
    reminder = await anna.next_message(1, "has not been taken for 10 min")
    assert "+7 900 123-45-67" in reminder.text  # international: a tap dials it
    assert [t for t, _ in card_buttons(reminder)] == ["✋ Take", "🚫 Refuse", "🗑 Junk"]
    await boris.next_message(1, "не взят в работу уже 10 мин")
    await _sweep(app, clock, timedelta(minutes=20))
    escalation = await sveta.next_message(1, "Эскалация")
    assert "Лид #1 не взят в работу уже 30 мин" in escalation.text
    buttons = card_buttons(escalation)
    assert [t for t, _ in buttons] == ["👥 Передать", "🙋 Забрать себе", "😴 Отложить на 15 мин"]
    assert buttons[0][1] == "lead:reassign:1"
    await _sweep(app, clock, timedelta(hours=5))  # each step once
    assert len([m for m in sveta.messages() if "Эскалация" in (m.text or "")]) == 1
    async with sessions() as session:
        alerted = LeadEvent.kind.in_(["reminded", "escalated"])
        kinds = (
            await session.scalars(select(LeadEvent.kind).where(alerted).order_by(LeadEvent.id))
        ).all()
    assert list(kinds) == ["reminded", "escalated"]


async def test_a_reminder_copy_says_who_took_the_lead_and_loses_its_buttons(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """Anna's reminder is a copy of the card: once Boris takes the lead it must not still say
    New with Take (a press there could only be refused)."""
    await _start_staff(emulator)
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    card = await boris.next_message(1, "Лид #1")
    await _sweep(app, clock, timedelta(minutes=10))
    reminder = await anna.next_message(1, "has not been taken for 10 min")
    assert [t for t, _ in card_buttons(reminder)] == ["✋ Take", "🚫 Refuse", "🗑 Junk"]
    await boris.press(card, "lead:take:1")
    await emulator.wait_for(lambda: "taken by Boris" in (anna.now(reminder).text or ""))
    now = anna.now(reminder)
    assert now.text.startswith("✅ Settled: lead #1 taken by Boris at 12:10")
    assert "has not been taken" not in now.text
    assert card_buttons(now) == []  # nothing left to press
    stale = await anna.press_data(reminder, "lead:take:1")  # an old client's cached keyboard
    assert stale["show_alert"] is True


async def test_an_escalation_copy_follows_the_lead_after_another_supervisor_acts(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """Sveta takes the lead over from her escalation; Alex's copy of the same escalation no
    longer offers Reassign / Snooze: it says the lead was taken, by whom and when."""
    emulator.add_user(ALEX, "Alex", language_code="en")
    async with sessions() as session:
        await add_staff(session, ALEX, Role.ADMIN, "Alex", clock.now())
    alex = Phone(emulator, ALEX)
    await alex.write("/start")
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    alex_copy = await alex.next_message(1, "Escalation")
    assert [t for t, _ in card_buttons(alex_copy)] == ["👥 Reassign", "😴 Snooze 15 min"]
    await Phone(emulator, SVETA).press(escalation, "esc:own")
    await emulator.wait_for(lambda: "Settled" in (alex.now(alex_copy).text or ""))
    now = alex.now(alex_copy)
    assert now.text.startswith("✅ Settled: lead #1 taken by Sveta at 12:30")
    assert card_buttons(now) == []
    sveta = Phone(emulator, SVETA)
    await emulator.wait_for(lambda: "Решено" in (sveta.now(escalation).text or ""))
    sveta_now = sveta.now(escalation)
    assert sveta_now.text.startswith("✅ Решено: лид #1 взял(а) Sveta в 12:30")
    assert card_buttons(sveta_now) == []


async def test_a_pending_reminder_copy_is_redrawn_with_the_buttons_that_still_work(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """A call-back reminder stays pending while the call-back is owed; after the deal it says
    the lead is closed and offers no Done / Reschedule."""
    await _start_staff(emulator)
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    anna = Phone(emulator, ANNA)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await emulator.wait_for(
        lambda: "lead:callback:1" in [d for _, d in card_buttons(anna.now(card))]
    )
    await anna.press(anna.now(card), "lead:callback:1")
    await emulator.wait_for(
        lambda: any(d.startswith("when:") for _, d in card_buttons(anna.now(card)))
    )
    await anna.press(card, "when:1:30m")
    await _sweep(app, clock, timedelta(minutes=30))
    reminder = await anna.next_message(1, "Call-back")
    assert "✔️ Done" in [t for t, _ in card_buttons(reminder)]
    async with sessions() as session:  # closed elsewhere (another copy of the card, /merge)
        anna_row = await session.scalar(select(Staff).where(Staff.telegram_id == ANNA))
        assert anna_row is not None
        junked = await junk_lead(session, 1, anna_row, "spam", None, clock.now(), app.config)
        assert junked.ok
    # committed through the test's own engine, which does not wake the app's notifier (it
    # would find the row on its 5 s idle round, as long as this wait: a race)
    app.notifier.wake()
    await emulator.wait_for(lambda: "Settled" in (anna.now(reminder).text or ""))
    now = anna.now(reminder)
    assert now.text.startswith("✅ Settled at 12:30: lead #1 is closed")
    assert card_buttons(now) == []


async def test_snooze_brings_the_escalation_back_after_15_min_and_a_second_press_is_stale(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    sveta, anna = Phone(emulator, SVETA), Phone(emulator, ANNA)
    answer = await sveta.press(escalation, "esc:snz")
    assert answer["text"].startswith("Отложено: эскалация по лиду #1 вернётся в 05.01 12:45")
    again = await sveta.press(escalation, "esc:snz")  # the same card, pressed twice
    assert again["show_alert"] is True
    forged = await anna.press_data(escalation, button_of(escalation, "esc:snz"))
    assert forged["show_alert"] is True  # a manager may not snooze
    await _sweep(app, clock, timedelta(minutes=14))
    assert len([m for m in sveta.messages() if "Эскалация" in (m.text or "")]) == 1
    await _sweep(app, clock, timedelta(minutes=1))
    await emulator.wait_for(
        lambda: len([m for m in sveta.messages() if "Эскалация" in (m.text or "")]) == 2
    )
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all()
    assert list(kinds).count("snoozed") == 1 and list(kinds).count("escalated") == 2


async def test_an_admin_gets_the_escalation_without_take_over(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """Admins run the team and own no leads: Take over would only be refused them."""
    emulator.add_user(ALEX, "Alex", language_code="en")
    async with sessions() as session:
        await add_staff(session, ALEX, Role.ADMIN, "Alex", clock.now())
    alex = Phone(emulator, ALEX)
    await alex.write("/start")
    await _escalated_new_lead(emulator, app, intake, clock)
    escalation = await alex.next_message(1, "Escalation")
    assert [t for t, _ in card_buttons(escalation)] == ["👥 Reassign", "😴 Snooze 15 min"]
    sveta_sees = await Phone(emulator, SVETA).next_message(1, "Эскалация")
    assert "🙋 Забрать себе" in [t for t, _ in card_buttons(sveta_sees)]


def button_of(message: BotMessage, starts_with: str) -> str:
    return next(data for _, data in card_buttons(message) if data.startswith(starts_with))


async def test_take_over_makes_the_supervisor_the_owner(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    sveta = Phone(emulator, SVETA)
    answer = await sveta.press(escalation, "esc:own")
    assert answer["text"] == "Лид #1 теперь ваш."
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.owner_id is not None and lead.status == "in_work"
    stale = await sveta.press(escalation, "esc:own")
    assert stale["show_alert"] is True


async def test_reassign_from_the_escalation_uses_the_manager_picker(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    sveta, boris = Phone(emulator, SVETA), Phone(emulator, BORIS)
    await sveta.press(escalation, "lead:reassign:1")
    await emulator.wait_for(
        lambda: any(d.startswith("give:") for _, d in card_buttons(sveta.now(escalation)))
    )
    picker = card_buttons(sveta.now(escalation))
    assert any("Boris" in text and "0" in text for text, _ in picker)
    boris_button = next(d for t, d in picker if "Boris" in t)
    before = len(boris.messages())
    await sveta.press_data(escalation, boris_button)
    await boris.next_message(before, "передал(а) вам лид #1")


async def test_the_manager_given_a_lead_gets_the_whole_card_at_the_bottom_of_the_chat(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """Boris's pool copy of the lead is far up his chat (under a reminder): after Sveta gives
    him the lead he gets the card itself below, with his buttons, and the old copy goes quiet."""
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    sveta, boris = Phone(emulator, SVETA), Phone(emulator, BORIS)
    pool_copy = next(m for m in boris.messages() if (m.text or "").startswith("Лид #1"))
    await sveta.press(escalation, "lead:reassign:1")
    await emulator.wait_for(
        lambda: any(d.startswith("give:") for _, d in card_buttons(sveta.now(escalation)))
    )
    give = next(d for t, d in card_buttons(sveta.now(escalation)) if "Boris" in t)
    before = len(boris.messages())
    await sveta.press_data(escalation, give)
    card = await boris.next_message(before, "Лид #1 · заявка с сайта")
    assert card.message_id != pool_copy.message_id
    assert "lead:callback:1" in [d for _, d in card_buttons(card)]  # his work buttons
    await boris.next_message(before, "передал(а) вам лид #1")
    await emulator.wait_for(lambda: card_buttons(boris.now(pool_copy)) == [])
    await outbox_sent(app.sessions)
    async with sessions() as session:
        kept = (
            await session.scalars(select(LeadCard.message_id).where(LeadCard.chat_id == BORIS))
        ).all()
    assert list(kept) == [card.message_id]  # the new card is the copy kept current


async def test_back_from_the_picker_on_an_escalation_brings_back_the_escalations_buttons(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    """Reassign opens the manager picker on the escalation itself; Back must restore
    Reassign / Take over / Snooze, not turn the escalation into a work card."""
    escalation = await _escalated_new_lead(emulator, app, intake, clock)
    sveta = Phone(emulator, SVETA)
    await sveta.press(escalation, "lead:reassign:1")
    await emulator.wait_for(
        lambda: any(d.startswith("give:") for _, d in card_buttons(sveta.now(escalation)))
    )
    await sveta.press(sveta.now(escalation), "card:1")
    await emulator.wait_for(
        lambda: not any(d.startswith("give:") for _, d in card_buttons(sveta.now(escalation)))
    )
    buttons = [t for t, _ in card_buttons(sveta.now(escalation))]
    assert buttons == ["👥 Передать", "🙋 Забрать себе", "😴 Отложить на 15 мин"]


async def test_a_call_back_due_reminds_its_owner_then_a_take_over_tells_the_owner(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
) -> None:
    await _start_staff(emulator)
    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "In work")
    await anna.press(card, "lead:callback:1")
    await emulator.wait_for(lambda: any(d == "when:1:2h" for _, d in card_buttons(anna.now(card))))
    await anna.press(card, "when:1:2h")
    await _sweep(app, clock, timedelta(hours=1, minutes=59))
    assert not [m for m in anna.messages() if "Call-back" in (m.text or "")]
    await _sweep(app, clock, timedelta(minutes=1))
    reminder = await anna.next_message(1, "📞 Call-back with Ivan due now")
    assert [t for t, _ in card_buttons(reminder)][:2] == ["✔️ Done", "🕒 Reschedule"]
    await _sweep(app, clock, timedelta(minutes=30))
    escalation = await sveta.next_message(1, "Перезвон с клиентом Ivan просрочен на 30 мин")
    before = len(anna.messages())
    await sveta.press(escalation, "esc:own")
    await anna.next_message(before, "passed your lead #1 to Sveta")


async def test_an_unanswered_client_reminds_the_owner_then_the_supervisor_and_a_reply_stops_it(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
) -> None:
    await _start_staff(emulator)
    emulator.add_user(KATE, "Kate", language_code="en")
    kate, anna, sveta = Phone(emulator, KATE), Phone(emulator, ANNA), Phone(emulator, SVETA)
    await kate.write("/start")
    await kate.write("Do you deliver?", "Thank you")
    card = await anna.next_message(1, "Lead #1")
    await anna.press(card, "lead:take:1")
    await anna.until(card, "In work — yours")
    emulator.send_text(KATE, "Hello?")
    await anna.next_message(1, "got in touch again")
    await _sweep(app, clock, timedelta(minutes=10))
    reminder = await anna.next_message(1, "The client has been waiting for an answer 10 min")
    assert card_buttons(reminder)[0][0] == "💬 Reply"
    await _sweep(app, clock, timedelta(minutes=20))
    await sveta.next_message(1, "Клиент ждёт ответа уже 30 мин")

    emulator.send_text(KATE, "Anyone?")  # a new wait: answered this time
    await anna.next_message(1, "Anyone?")
    await anna.press_for_reply(card, "lead:reply:1", "Your answer")
    await anna.write("Yes, we do", "Sent")
    await _sweep(app, clock, timedelta(hours=3))
    waits = [m for m in anna.messages() if "waiting for an answer" in (m.text or "")]
    assert len(waits) == 1


async def test_nobody_is_pinged_at_night_and_the_limit_counts_from_the_opening(
    emulator: TelegramEmulator,
    app: Application,
    intake: Intake,
    clock: ManualClock,
) -> None:
    await _start_staff(emulator)
    clock.set(datetime(2026, 1, 5, 20, 0, tzinfo=UTC))  # 23:00 in Moscow
    await intake.post({"phone": "+79001234567"})
    anna = Phone(emulator, ANNA)
    await anna.next_message(1, "Lead #1")
    await _sweep(app, clock, timedelta(hours=2))  # 01:00: nobody is woken
    clock.set(datetime(2026, 1, 6, 6, 9, tzinfo=UTC))  # 09:09, nine minutes after the opening
    await app.jobs.fire_due_alerts()
    await outbox_sent(app.sessions)
    assert not [m for m in anna.messages() if "not been taken" in (m.text or "")]
    clock.advance(timedelta(minutes=1))
    app.clock_moved()  # the scheduler's own sweep runs at once
    # the headline counts the real wait since 23:00, not the 10 min of the limit's step
    reminder = await anna.next_message(1, "has not been taken for")
    assert reminder.text.startswith("⏰ Lead #1 has not been taken for 10 h 10 min\n")
    await _sweep(app, clock, timedelta(minutes=20))  # 09:30: the escalation
    escalation = await Phone(emulator, SVETA).next_message(1, "Эскалация")
    assert escalation.text.startswith("🚨 Эскалация. ⏰ Лид #1 не взят в работу уже 10 ч 30 мин\n")


async def test_two_instances_on_one_postgresql_send_each_reminder_once(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("one process per SQLite file: two instances are a PostgreSQL set-up")
    leads = 20
    lifted = unpaced_config()
    async with (
        running_app(emulator, database_url, clock, lifted) as first,
        running_app(emulator, database_url, clock, lifted) as second,
        aiohttp.ClientSession() as http,
    ):
        intake = Intake(first, http)
        for n in range(leads):
            await intake.post({"phone": f"+7900{n:07d}"})

        def reminders() -> list[str]:
            return [
                m.text for m in emulator.chat_messages(ANNA) if "не взят в работу" in (m.text or "")
            ]

        await emulator.wait_for(lambda: len(emulator.chat_messages(ANNA)) >= leads, timeout=20)
        clock.advance(timedelta(minutes=10))
        sweeps = [app.jobs.fire_due_alerts() for app in (first, second, first, second)]
        await asyncio.gather(*sweeps)
        first.clock_moved()
        second.clock_moved()
        await emulator.wait_for(lambda: len(reminders()) >= leads, timeout=20)
        await outbox_sent(sessions)  # what was fired is sent: the rows say what came
        await _each_lead_reminded_once(sessions, emulator, reminders(), leads)
    # and after both instances stopped (their own sweeps finished or never began): no late copy
    await _each_lead_reminded_once(sessions, emulator, reminders(), leads)


async def _each_lead_reminded_once(
    sessions: SessionFactory, emulator: TelegramEmulator, reminders: list[str], leads: int
) -> None:
    """One `reminded` event per lead; Anna's reminders are her sent alert rows, one per lead,
    and none is still pending."""
    async with sessions() as session:
        reminded = dict(
            (
                await session.execute(
                    select(LeadEvent.lead_id, func.count())
                    .where(LeadEvent.kind == "reminded")
                    .group_by(LeadEvent.lead_id)
                )
            ).all()
        )
        alerts = (
            await session.execute(
                select(OutboxMessage.lead_id, OutboxMessage.state).where(
                    OutboxMessage.kind == OutboxKind.ALERT, OutboxMessage.chat_id == ANNA
                )
            )
        ).all()
    assert reminded == {lead_id: 1 for lead_id in range(1, leads + 1)}
    assert sorted(alerts) == [(lead_id, OutboxState.SENT) for lead_id in range(1, leads + 1)]
    assert len(reminders) == leads
    assert len({text.split("\n")[0] for text in reminders}) == leads
