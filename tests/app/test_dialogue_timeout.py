"""End to end: a dialogue left without an answer for 30 minutes (`[dialogues] abandon_after`)
is closed politely, by the minute sweep or at the late answer, and changes nothing; one
answered in time goes on. Every test runs with dialogue state in memory and in Redis.

Time only moves when the test moves the ManualClock; the sweep is called directly.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import select

from bot.app import Application, dialogue_storage
from bot.common.clock import ManualClock
from bot.config import ConfigError, Settings, load_app_config
from bot.devtools.emulator import BotMessage, TelegramEmulator
from handlers.dialogues import abandoned_text
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, LeadStatus, Task
from tests.conftest import FSM_STORAGES
from tests.harness import ANNA, BORIS, TOKEN, Intake, Phone, card_buttons, updates_handled

on_both_storages = pytest.mark.parametrize("fsm_storage", FSM_STORAGES, indirect=True)

ABANDONED = (
    "⌛ The dialogue about lead #1 was closed after 30 min without an answer; nothing was changed."
)
NOTHING_TO_CANCEL = "Nothing to cancel: no dialogue is open."


async def _takes(emulator: TelegramEmulator, intake: Intake, who: int, **fields: str) -> BotMessage:
    """A form lead reaches Anna and Boris; `who` takes it. Their card."""
    phone = Phone(emulator, who)
    for person in (ANNA, BORIS):  # Start once: the bot learns each person's language
        await Phone(emulator, person).write("/start")
    await intake.post({"phone": "+79001234567", **fields})
    card = await phone.next_message(1, "#1")
    await phone.press(card, "lead:take")
    await emulator.wait_for(
        lambda: any(d.startswith("lead:note") for _, d in card_buttons(phone.now(card)))
    )
    return card


async def _lead(sessions: SessionFactory) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, 1)
        assert lead is not None
        return lead


async def _event_kinds(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all())


async def _tasks(sessions: SessionFactory) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task))).all())


@on_both_storages
async def test_the_sweep_closes_a_dialogue_nobody_answered_and_a_late_text_is_not_its_answer(
    emulator: TelegramEmulator,
    intake: Intake,
    app: Application,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _takes(emulator, intake, ANNA)
    await anna.press(card, "lead:refuse")
    ask = await anna.press_for_reply(card, "why:refuse:1:other")
    assert "Say in a few words what it is" in ask.text
    await updates_handled(app)  # the dialogue opens once its question is in the chat

    clock.advance(timedelta(minutes=29))
    assert await app.jobs.close_abandoned_dialogues() == 0  # not yet
    assert anna.last().message_id == ask.message_id
    clock.advance(timedelta(minutes=1))
    before = len(anna.messages())
    assert await app.jobs.close_abandoned_dialogues() == 1
    closed = await anna.next_message(before)
    assert closed.text == ABANDONED
    assert await app.jobs.close_abandoned_dialogues() == 0  # told once

    # the words come too late: they close nothing (Anna is shown her commands instead), and no
    # dialogue is left to cancel
    late = await anna.write("Moved to Canada")
    assert late.text.startswith("ℹ️ I did not get that. Your commands")
    assert (await anna.write("/cancel")).text == NOTHING_TO_CANCEL
    lead = await _lead(sessions)
    assert (lead.status, lead.close_reason) == (LeadStatus.IN_WORK, None)
    assert await _event_kinds(sessions) == ["created", "taken"]


@on_both_storages
async def test_a_late_answer_is_told_the_dialogue_closed_and_schedules_nothing(
    emulator: TelegramEmulator,
    intake: Intake,
    app: Application,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _takes(emulator, intake, ANNA)
    await anna.press(card, "lead:callback")
    await anna.press_for_reply(card, "when:1:other")

    clock.advance(timedelta(hours=2))  # no sweep ran meanwhile (say the process was busy)
    reply = await anna.write("tomorrow 10:30")
    assert reply.text == ABANDONED
    assert (await anna.write("/cancel")).text == NOTHING_TO_CANCEL
    assert await app.jobs.close_abandoned_dialogues() == 0  # already closed, and told once
    assert not any("Call back lead #1" in (m.text or "") for m in anna.messages())
    assert await _tasks(sessions) == []
    assert (await _lead(sessions)).status == LeadStatus.IN_WORK
    assert await _event_kinds(sessions) == ["created", "taken"]


@on_both_storages
async def test_a_dialogue_answered_in_time_goes_on_and_every_answer_restarts_the_wait(
    emulator: TelegramEmulator,
    intake: Intake,
    app: Application,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _takes(emulator, intake, ANNA)
    await anna.press_for_reply(card, "lead:qualify")
    clock.advance(timedelta(minutes=20))
    phone_step = await anna.write("Ivan Petrov")
    assert "2/4" in phone_step.text
    clock.advance(timedelta(minutes=20))  # 40 min since the dialogue opened, 20 since the answer
    assert await app.jobs.close_abandoned_dialogues() == 0
    service_step = await anna.press_for_reply(phone_step, "step:1:1:keep")
    clock.advance(timedelta(minutes=29))
    assert await app.jobs.close_abandoned_dialogues() == 0
    amount_step = await anna.write("Kitchen")
    assert "4/4" in amount_step.text
    assert service_step.message_id < amount_step.message_id
    saved = await anna.press_for_reply(amount_step, "step:1:3:skip")
    assert saved.text == "📝 Lead #1: saved — Client's full name, Service wanted."
    assert not any("closed after" in (m.text or "") for m in anna.messages())
    lead = await _lead(sessions)
    assert (lead.name, lead.service) == ("Ivan Petrov", "Kitchen")


@on_both_storages
async def test_an_abandoned_step_loses_its_buttons_and_boris_is_told_in_russian(
    emulator: TelegramEmulator,
    intake: Intake,
    app: Application,
    clock: ManualClock,
    sessions: SessionFactory,
) -> None:
    boris = Phone(emulator, BORIS)
    card = await _takes(emulator, intake, BORIS, name="Иван", service="Кухня")
    amount_step = await boris.press_for_reply(card, "lead:convert")
    assert [t for t, _ in card_buttons(amount_step)] == ["Пропустить »", "✖️ Отмена"]
    await updates_handled(app)  # the dialogue opens once its question is in the chat

    clock.advance(timedelta(minutes=45))
    before = len(boris.messages())
    assert await app.jobs.close_abandoned_dialogues() == 1
    closed = await boris.next_message(before)
    assert closed.text == "⌛ Диалог по лиду #1 закрыт: 30 мин без ответа, ничего не изменено."
    assert card_buttons(boris.now(amount_step)) == []
    stale = await boris.press_data(amount_step, "step:1:0:skip")
    assert stale["show_alert"]  # out of date: the dialogue is gone
    lead = await _lead(sessions)
    assert (lead.status, lead.amount) == (LeadStatus.IN_WORK, None)
    assert await _event_kinds(sessions) == ["created", "taken"]


@pytest.mark.parametrize("fsm_storage", ["redis"], indirect=True)
async def test_redis_keeps_an_open_dialogue_for_the_next_process_under_the_leadbot_prefix(
    emulator: TelegramEmulator,
    intake: Intake,
    app: Application,
    sessions: SessionFactory,
    redis_url: str,
) -> None:
    anna = Phone(emulator, ANNA)
    card = await _takes(emulator, intake, ANNA)
    await anna.press_for_reply(card, "lead:note")
    await updates_handled(app)  # the dialogue opens once its question is in the chat

    bot_id = int(TOKEN.split(":")[0])
    client = Redis.from_url(redis_url)
    try:
        keys = {key.decode() for key in await client.keys("*")}
    finally:
        await client.aclose()
    assert f"leadbot:{bot_id}:{ANNA}:{ANNA}:state" in keys
    assert all(key.startswith(f"leadbot:{bot_id}:") for key in keys)
    # what a restarted leadbot would find
    storage, _ = dialogue_storage(redis_url)
    try:
        key = StorageKey(bot_id=bot_id, chat_id=ANNA, user_id=ANNA)
        assert await storage.get_state(key) == "NoteText:waiting"
        data = await storage.get_data(key)
    finally:
        await storage.close()
    assert data["lead_id"] == 1 and data["touched_at"] == "2026-01-05T09:00:00+00:00"

    added = await anna.write("called, no answer")
    assert added.text == "✏️ Note added to lead #1."
    assert await _event_kinds(sessions) == ["created", "taken", "note"]


def test_abandon_after_is_a_duration_and_a_blank_redis_url_means_memory() -> None:
    assert load_app_config().dialogues.abandon_after == timedelta(minutes=30)
    custom = load_app_config(overrides={"dialogues": {"abandon_after": "1h30m"}})
    assert custom.dialogues.abandon_after == timedelta(minutes=90)
    with pytest.raises(ConfigError, match="abandon_after"):
        load_app_config(overrides={"dialogues": {"abandon_after": "0s"}})
    assert Settings(_env_file=None, redis_url="").redis_url is None  # type: ignore[call-arg]
    assert abandoned_text({}, timedelta(hours=2), "en") == (
        "⌛ The dialogue was closed after 2 h without an answer; nothing was changed."
    )
