"""Follow-up sequences on the database side: a `timing` refusal enrols the lead; a due step
becomes one outbox row (a message with buttons for the client, or a task for the owner) only
within working hours and at most once a day per client; every stop condition ends it; a restart
or a second instance never loses or repeats a step.

The clock starts on Monday 5 January 2026, 09:00 UTC (12:00 in Moscow, the team's zone); the
team works 09:00-19:00 Moscow time (06:00-16:00 UTC), Monday to Friday."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.common.outbox import client_answer
from bot.config import AppConfig, ConfigError, load_app_config
from bot.intake.client_chat import client_wrote, reply_not_delivered
from bot.intake.input import LeadInput
from bot.intake.sequence_answers import (
    PressRefusal,
    client_not_interested,
    client_pressed_yes,
)
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, reopen_lead, take_lead
from bot.leads.merge import merge_leads
from bot.leads.qualify import convert_lead
from bot.privacy.erase import erase_person, find_person
from bot.sequences import sweep
from bot.sequences.channels import set_channel
from bot.sequences.stats import SequenceStats, sequence_stats
from bot.sequences.stops import StopReason, person_said_stop
from bot.sequences.sweep import StepOutcome, run_due_steps
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import (
    Contact,
    ContactChannel,
    EnrolmentState,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    SequenceEnrolment,
    Staff,
)

KATE, LENA = 7001, 7002
THU_NOON = datetime(2026, 1, 8, 9, 0, tzinfo=UTC)  # Monday + 3 days: 12:00 in Moscow
NOT_NOW = {
    "name": "not_now",
    "trigger": "timing",
    "steps": [
        {"after": "3d", "message": "sequence_not_now", "buttons": True},
        {"after": "14d", "task": "call_again"},
    ],
}


def _config(*sequences: dict[str, Any]) -> AppConfig:
    return load_app_config(overrides={"sequences": list(sequences) or [NOT_NOW]})


async def _refused(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    anna: Staff,
    telegram_id: int = KATE,
    reason: str = "timing",
) -> int:
    """A lead of the client's (a Telegram one: the bot can write to them), Anna took it and
    refused it with `reason`. (Through the intake, not client_wrote: a message of the client
    would answer the sequences they are in.)"""
    item = LeadInput(source="telegram", name="Kate", message="Hi", telegram_id=telegram_id)
    async with sessions() as session:
        [result] = await intake_leads(session, [item], clock.now(), config=config)
        assert (await take_lead(session, result.lead_id, anna, clock.now(), config)).ok
        closed = await close_lead(
            session, result.lead_id, anna, Action.REFUSE, reason, None, clock.now(), config
        )
        assert closed.ok
    return result.lead_id


async def _enrolments(sessions: SessionFactory) -> list[SequenceEnrolment]:
    async with sessions() as session:
        found = await session.scalars(select(SequenceEnrolment).order_by(SequenceEnrolment.id))
        return list(found.all())


async def _texts(sessions: SessionFactory, template: str) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.TEXT)
            .order_by(OutboxMessage.id)
        )
        return [row for row in found.all() if row.payload.get("template") == template]


async def _run(sessions: SessionFactory, at: datetime, config: AppConfig) -> list[StepOutcome]:
    async with sessions() as session:
        return [run.outcome for run in await run_due_steps(session, at, config, None)]


async def _lead(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None
    return lead


async def test_a_timing_refusal_enrols_the_lead_and_its_first_step_is_due_after_3_days(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = _config()
    lead_id = await _refused(sessions, clock, config, staff["anna"])
    [row] = await _enrolments(sessions)
    assert (row.lead_id, row.sequence, row.step, row.state) == (lead_id, "not_now", 0, "active")
    assert row.due_at == THU_NOON
    # a price refusal starts nothing: no sequence names it
    await _refused(sessions, clock, config, staff["anna"], telegram_id=LENA, reason="price")
    assert len(await _enrolments(sessions)) == 1
    # nothing is due before Thursday noon
    assert await _run(sessions, THU_NOON - timedelta(seconds=1), config) == []


async def test_the_due_message_goes_to_the_client_with_buttons_then_the_owner_gets_the_task(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Thursday noon: Kate's chat gets the follow-up with Yes / Not interested (one outbox row
    and a `sequence_message` event); 14 days later Anna is asked to call Kate again, and the
    sequence is finished."""
    config = _config()
    anna = staff["anna"]
    lead_id = await _refused(sessions, clock, config, anna)
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.SENT]
    [message] = await _texts(sessions, "sequence_not_now")
    assert (message.chat_id, message.lead_id, message.staff_id) == (KATE, lead_id, None)
    [row] = await _enrolments(sessions)
    assert message.payload["sequence"] == {"enrolment": row.id, "buttons": True}
    assert message.payload["locale"] == "ru"  # the team's language: the client's is unknown
    assert (row.step, row.messages_sent, row.last_message_at) == (1, 1, THU_NOON)
    assert row.due_at == THU_NOON + timedelta(days=14)  # Thursday 22 January, 12:00 Moscow
    assert await _run(sessions, THU_NOON + timedelta(days=1), config) == []  # nothing twice

    assert await _run(sessions, row.due_at, config) == [StepOutcome.TASK]
    [task] = await _texts(sessions, "sequence_task")
    assert (task.chat_id, task.staff_id) == (anna.telegram_id, anna.id)
    assert task.payload["context"]["task"] == "call_again"
    [done] = await _enrolments(sessions)
    assert (done.state, done.due_at, done.ended_at) == ("finished", None, row.due_at)
    async with sessions() as session:
        kinds = list(
            (
                await session.scalars(
                    select(LeadEvent.kind)
                    .where(LeadEvent.lead_id == lead_id)
                    .order_by(LeadEvent.id)
                )
            ).all()
        )
    assert kinds[-2:] == ["sequence_message", "sequence_task"]
    assert await _lead(sessions, lead_id) is not None
    assert (await _lead(sessions, lead_id)).status == LeadStatus.REFUSED  # nobody answered


async def test_quiet_hours_and_weekends_move_the_step_to_the_next_opening(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Refused on Friday at 18:00 Moscow time with a 2-hour step: 20:00 is after closing, so it
    is due at Monday's opening (09:00 Moscow = 06:00 UTC). A sweep that runs late (the step was
    due at opening, the sweep came at 20:00) puts it off to the next morning, sending nothing."""
    two_hours = {**NOT_NOW, "steps": [{"after": "2h", "message": "sequence_not_now"}]}
    config = _config(two_hours)
    clock.set(datetime(2026, 1, 9, 15, 0, tzinfo=UTC))  # Friday 18:00 in Moscow
    await _refused(sessions, clock, config, staff["anna"])
    [row] = await _enrolments(sessions)
    monday_opening = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
    assert row.due_at == monday_opening
    assert await _run(sessions, datetime(2026, 1, 10, 12, 0, tzinfo=UTC), config) == []  # Sat

    monday_evening = datetime(2026, 1, 12, 17, 0, tzinfo=UTC)  # 20:00 in Moscow
    assert await _run(sessions, monday_evening, config) == [StepOutcome.POSTPONED]
    assert await _texts(sessions, "sequence_not_now") == []
    [moved] = await _enrolments(sessions)
    assert moved.due_at == datetime(2026, 1, 13, 6, 0, tzinfo=UTC)  # Tuesday 09:00 Moscow
    assert await _run(sessions, moved.due_at, config) == [StepOutcome.SENT]


async def test_one_sequence_message_a_day_per_client(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Two sequences start on the same refusal, both due Thursday noon: Kate gets one message
    on Thursday; the other waits for Friday's opening (09:00 Moscow), then goes."""
    other = {**NOT_NOW, "name": "second_try"}
    config = _config(NOT_NOW, other)
    await _refused(sessions, clock, config, staff["anna"])
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.SENT, StepOutcome.POSTPONED]
    assert len(await _texts(sessions, "sequence_not_now")) == 1
    _first, second = await _enrolments(sessions)
    friday_opening = datetime(2026, 1, 9, 6, 0, tzinfo=UTC)
    assert second.due_at == friday_opening and second.step == 0
    assert await _run(sessions, THU_NOON + timedelta(hours=6), config) == []  # still Thursday
    assert await _run(sessions, friday_opening, config) == [StepOutcome.SENT]
    assert len(await _texts(sessions, "sequence_not_now")) == 2


async def test_a_client_the_bot_cannot_write_to_becomes_a_task_for_the_owner(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """A web-form lead (a phone, no Telegram): the message step asks Anna to call or e-mail."""
    config = _config()
    anna = staff["anna"]
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="tilda", name="Olga", phone="+79001234567")], clock.now()
        )
        assert (await take_lead(session, result.lead_id, anna, clock.now(), config)).ok
        assert (
            await close_lead(
                session, result.lead_id, anna, Action.REFUSE, "timing", None, clock.now(), config
            )
        ).ok
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.TASK]
    assert await _texts(sessions, "sequence_not_now") == []
    [task] = await _texts(sessions, "sequence_task")
    assert task.chat_id == anna.telegram_id
    assert task.payload["context"]["task"] == "reach_client"
    assert task.payload["context"]["phone"] == "+79001234567"
    async with sessions() as session:
        contact = await session.scalar(select(Contact))
    # the person's first origin is where they first came from; no preferred channel known yet
    assert contact is not None and (contact.first_origin, contact.preferred_channel) == (
        "tilda",
        None,
    )


async def test_a_client_message_stops_the_sequence_and_reopens_the_lead_hot_to_its_owner(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = _config()
    anna = staff["anna"]
    lead_id = await _refused(sessions, clock, config, anna)
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.SENT]
    async with sessions() as session:
        result = await client_wrote(
            session, KATE, "Kate", "<b>yes</b> 🎉 call me", THU_NOON, config, None
        )
    assert result.lead_id == lead_id  # the message joined the reopened lead, no new lead
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.close_reason) == (LeadStatus.IN_WORK, anna.id, None)
    [row] = await _enrolments(sessions)
    assert (row.state, row.stop_reason) == ("stopped", StopReason.CLIENT_WROTE)
    async with sessions() as session:
        hot = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "sequence_reply"))
        cards = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.CARD, OutboxMessage.chat_id == anna.telegram_id)
            .order_by(OutboxMessage.id.desc())
        )
        card = cards.first()
        contact = await session.scalar(select(Contact).where(Contact.telegram_id == KATE))
    assert hot is not None and hot.data == {"sequence": "not_now", "answer": "wrote"}
    assert card is not None and card.payload["fresh"]  # at the bottom of Anna's chat, with:
    assert card.payload["headline"]["template"] == "sequence_hot_headline"
    assert contact is not None and contact.preferred_channel == "telegram"
    assert await _run(sessions, THU_NOON + timedelta(days=30), config) == []  # nothing more


async def test_a_status_change_and_a_merge_stop_the_sequence(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = _config()
    first = await _refused(sessions, clock, config, staff["anna"])
    async with sessions() as session:  # Sveta reopens it: the manager works on it again
        assert (await reopen_lead(session, first, staff["sveta"], clock.now(), config)).ok
    second = await _refused(sessions, clock, config, staff["anna"], telegram_id=LENA)
    async with sessions() as session:
        other = await client_wrote(session, 7003, "Lena", "hi", clock.now(), config, None)
        merged = await merge_leads(session, second, other.lead_id, staff["sveta"], clock.now())
        assert merged.ok
    reopened, merged_row = await _enrolments(sessions)
    assert (reopened.state, reopened.stop_reason) == ("stopped", StopReason.STATUS_CHANGED)
    assert (merged_row.state, merged_row.stop_reason) == ("stopped", StopReason.MERGED)
    assert await _run(sessions, THU_NOON, config) == []
    assert await _texts(sessions, "sequence_not_now") == []


@pytest.mark.parametrize("how", ["not_interested", "stop_command", "blocked"])
async def test_not_interested_stop_and_a_blocked_bot_end_every_sequence_for_good(
    how: str, sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Kate has two refused leads in sequences; one "Not interested" press (or /stop, or the
    bot blocked: an answer refused with 403) ends both, and a later refusal starts nothing."""
    config = _config()
    anna = staff["anna"]
    first = await _refused(sessions, clock, config, anna)
    await _refused(sessions, clock, config, anna)
    enrolment = (await _enrolments(sessions))[0]
    async with sessions() as session:
        if how == "not_interested":
            result = await client_not_interested(session, enrolment.id, KATE, clock.now())
            assert result.refusal is None
        elif how == "stop_command":
            await person_said_stop(session, KATE, StopReason.STOP_COMMAND, clock.now())
            await session.commit()
        else:
            answer = client_answer(first, KATE, anna.id, anna.telegram_id, 1, clock.now(), html="x")
            row = OutboxMessage(**answer)
            await reply_not_delivered(session, row, True, "Forbidden: bot was blocked", clock.now())
            await session.commit()
    rows = await _enrolments(sessions)
    assert [(row.state, row.stop_reason) for row in rows] == [("stopped", how)] * 2
    await _refused(sessions, clock, config, anna)
    assert len(await _enrolments(sessions)) == 2  # no third: Kate said stop for good
    assert await _run(sessions, THU_NOON, config) == []
    assert await _texts(sessions, "sequence_not_now") == []


async def test_yes_reopens_the_lead_and_a_forged_press_changes_nothing(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = _config()
    lead_id = await _refused(sessions, clock, config, staff["anna"])
    [row] = await _enrolments(sessions)
    async with sessions() as session:  # Lena presses a button with Kate's enrolment's id
        forged = await client_pressed_yes(session, row.id, LENA, THU_NOON, config, None)
        stop_forged = await client_not_interested(session, row.id, LENA, THU_NOON)
    assert forged.refusal is stop_forged.refusal is PressRefusal.NOT_YOURS
    assert (await _lead(sessions, lead_id)).status == LeadStatus.REFUSED
    assert (await _enrolments(sessions))[0].state == EnrolmentState.ACTIVE
    async with sessions() as session:
        yes = await client_pressed_yes(session, row.id, KATE, THU_NOON, config, None)
        again = await client_pressed_yes(session, row.id, KATE, THU_NOON, config, None)
    assert yes.reopened and yes.refusal is None
    assert not again.reopened and again.refusal is None  # open already: nothing more
    assert (await _lead(sessions, lead_id)).status == LeadStatus.IN_WORK
    [stopped] = await _enrolments(sessions)
    assert stopped.stop_reason == StopReason.CLIENT_YES


async def test_a_crash_before_the_commit_loses_nothing_and_a_restart_repeats_nothing(
    database_url: str,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies after advancing the enrolment but before the commit: nothing of the
    step is kept, so the next run (a fresh process: another engine) sends it, once; a third
    run finds nothing due."""
    config = _config()
    await _refused(sessions, clock, config, staff["anna"])
    real_enqueue = sweep.enqueue

    async def dies(*args: Any) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(sweep, "enqueue", dies)
    with pytest.raises(RuntimeError, match="killed"):
        await _run(sessions, THU_NOON, config)
    monkeypatch.setattr(sweep, "enqueue", real_enqueue)
    [row] = await _enrolments(sessions)
    assert (row.step, row.due_at) == (0, THU_NOON)  # rolled back: still due

    engine = create_engine(database_url)
    try:
        restarted = session_factory(engine)
        assert await _run(restarted, THU_NOON + timedelta(minutes=1), config) == [StepOutcome.SENT]
        assert await _run(restarted, THU_NOON + timedelta(minutes=2), config) == []
    finally:
        await engine.dispose()
    assert len(await _texts(sessions, "sequence_not_now")) == 1


async def test_two_instances_on_postgresql_send_each_step_once(
    database_url: str, sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Two instances sweep the same 12 due steps at once, each with its own pool: every
    client gets exactly one message and each step is counted once."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process: there are no two instances to compare")
    config = _config()
    for client in range(12):
        await _refused(sessions, clock, config, staff["anna"], telegram_id=8000 + client)
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        runs = await asyncio.gather(
            *(_run(session_factory(engine), THU_NOON, config) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    outcomes = runs[0] + runs[1]
    assert outcomes.count(StepOutcome.SENT) == 12
    messages = await _texts(sessions, "sequence_not_now")
    assert sorted(row.chat_id for row in messages) == [8000 + n for n in range(12)]
    async with sessions() as session:
        sent = await session.scalar(select(func.sum(SequenceEnrolment.messages_sent)))
    assert sent == 12


async def test_a_client_who_prefers_the_phone_gets_a_call_not_a_message(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Kate is in Telegram, but her preferred channel is the phone (a manager's choice): the
    message step asks Anna to reach her instead of writing to her."""
    config = _config()
    lead_id = await _refused(sessions, clock, config, staff["anna"])
    lead = await _lead(sessions, lead_id)
    assert lead.contact_id is not None
    async with sessions() as session:
        await set_channel(session, lead.contact_id, ContactChannel.PHONE)
        await session.commit()
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.TASK]
    assert await _texts(sessions, "sequence_not_now") == []
    [task] = await _texts(sessions, "sequence_task")
    assert task.payload["context"]["task"] == "reach_client"


async def test_the_report_counts_enrolled_sent_replies_reopened_and_converted_after(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Kate and Lena are refused "timing" (2 enrolled); both get the follow-up on Thursday (2
    sent); Kate presses Yes (1 reply, 1 reopened) and Anna converts her lead (1 converted
    after). Lena converts nothing. The week before counts nothing."""
    config = _config()
    anna = staff["anna"]
    kate_lead = await _refused(sessions, clock, config, anna)
    await _refused(sessions, clock, config, anna, telegram_id=LENA)
    assert await _run(sessions, THU_NOON, config) == [StepOutcome.SENT, StepOutcome.SENT]
    kate_row = (await _enrolments(sessions))[0]
    async with sessions() as session:
        assert (await client_pressed_yes(session, kate_row.id, KATE, THU_NOON, config, None)).ok
        answers = {"name": "Kate Ivanova", "phone": "+79001234567", "service": "tour"}
        converted = await convert_lead(
            session, kate_lead, anna, answers, THU_NOON + timedelta(hours=1), config
        )
        assert converted.ok
    week = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    async with sessions() as session:
        stats = await sequence_stats(session, *week)
        before = await sequence_stats(session, week[0] - timedelta(days=7), week[0])
    assert stats == SequenceStats(enrolled=2, sent=2, replies=1, reopened=1, converted_after=1)
    assert before.empty


async def test_a_person_erased_on_request_gets_no_follow_up(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = _config()
    await _refused(sessions, clock, config, staff["anna"])
    async with sessions() as session:
        person = await find_person(session, telegram_id=KATE)
        await erase_person(session, person, "operator", clock.now())
    [row] = await _enrolments(sessions)
    assert (row.state, row.stop_reason) == ("stopped", StopReason.ERASED)
    assert await _run(sessions, THU_NOON, config) == []
    assert await _texts(sessions, "sequence_task") == []  # nobody is asked to call them either


@pytest.mark.parametrize(
    ("sequence", "error"),
    [
        ({**NOT_NOW, "trigger": "nope"}, "trigger 'nope' is neither a refuse reason"),
        (
            {**NOT_NOW, "steps": [{"after": "1d", "message": "no_such_template"}]},
            "no template templates/ru/no_such_template.html.j2",
        ),
        ({**NOT_NOW, "steps": [{"after": "1d"}]}, "either a `message` or a `task`"),
        ({**NOT_NOW, "steps": [{"after": "0s", "task": "call_again"}]}, "longer than zero"),
        ({**NOT_NOW, "steps": [{"after": "1d", "task": "dance"}]}, "task: one of call_again"),
    ],
)
def test_a_sequence_the_bot_cannot_run_is_refused_at_start(
    sequence: dict[str, Any], error: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_app_config(overrides={"sequences": [sequence]})
