"""The lead's lifecycle on a real database: the rules of bot/common/lifecycle.py (tested pure in
tests/unit/test_lifecycle_rules.py) as bot/leads/actions.py `apply_action` enforces them, through
the public functions of bot/leads/actions.py, bot/leads/call_backs.py, bot/leads/qualify.py and
bot/leads/notes.py: what is recorded (status, close fields, tasks, events, the card refresh in
the outbox) and what a refused action leaves alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import ActionResult, Refusal, close_lead, junk_lead, reopen_lead, take_lead
from bot.leads.call_backs import finish_call_back, schedule_call_back
from bot.leads.notes import NOTE_LIMIT, add_note, lead_history
from bot.leads.qualify import convert_lead, qualify_lead
from storage.db import SessionFactory
from storage.models import (
    CALL_BACK_TASK,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Staff,
    Task,
)

NEW = LeadStatus.NEW
IN_WORK = LeadStatus.IN_WORK
CALL_BACK = LeadStatus.CALL_BACK
CONVERTED = LeadStatus.CONVERTED
REFUSED = LeadStatus.REFUSED
JUNK = LeadStatus.JUNK

# ----------------------------------------------------------------------------------------------
# The same rules on the database.

PHONE = "+79001234567"


async def _new_lead(sessions: SessionFactory, clock: ManualClock, phone: str = PHONE) -> int:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", phone=phone)], clock.now()
        )
    return result.lead_id


async def _taken_lead(sessions: SessionFactory, clock: ManualClock, who: Staff) -> int:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        assert (await take_lead(session, lead_id, who, clock.now())).ok
    clock.advance(timedelta(minutes=5))
    return lead_id


async def _lead(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None
    return lead


async def _events(
    sessions: SessionFactory, lead_id: int, kind: str | None = None
) -> list[LeadEvent]:
    query = select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
    if kind is not None:
        query = query.where(LeadEvent.kind == kind)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def _tasks(sessions: SessionFactory, lead_id: int) -> list[Task]:
    async with sessions() as session:
        query = select(Task).where(Task.lead_id == lead_id).order_by(Task.id)
        return list((await session.scalars(query)).all())


async def _refreshes(sessions: SessionFactory, lead_id: int) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.kind == OutboxKind.CARD_REFRESH
        )
        return list((await session.scalars(query)).all())


async def test_refusing_a_lead_in_work_records_the_reason_the_time_and_one_refuse_event(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    before = await _lead(sessions, lead_id)
    async with sessions() as session:
        result = await close_lead(
            session,
            lead_id,
            staff["anna"],
            Action.REFUSE,
            "price",
            "Нашли дешевле",
            clock.now(),
            config,
        )

    assert result.ok and result.refusal is None
    lead = await _lead(sessions, lead_id)
    assert lead.status == REFUSED
    assert lead.owner_id == staff["anna"].id
    assert (lead.close_reason, lead.close_comment) == ("price", "Нашли дешевле")
    assert lead.closed_at == clock.now() and lead.updated_at == clock.now()
    assert lead.version == before.version + 1
    [event] = await _events(sessions, lead_id, "refuse")
    assert event.actor_id == staff["anna"].id
    assert event.data == {"reason": "price", "comment": "Нашли дешевле"}
    assert event.created_at == clock.now()


async def test_a_refuse_without_comment_records_only_the_reason(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        result = await close_lead(
            session, lead_id, staff["anna"], Action.REFUSE, "timing", None, clock.now(), config
        )
    assert result.ok
    lead = await _lead(sessions, lead_id)
    assert (lead.close_reason, lead.close_comment) == ("timing", None)
    [event] = await _events(sessions, lead_id, "refuse")
    assert event.data == {"reason": "timing"}


@pytest.mark.parametrize("who", ["anna", "sveta"])
async def test_refusing_a_new_lead_is_outdated_and_changes_nothing(
    who: str,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        result = await close_lead(
            session, lead_id, staff[who], Action.REFUSE, "price", None, clock.now(), config
        )

    assert result.refusal == Refusal.OUTDATED and not result.ok
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.version) == (NEW, None, 1)
    assert (lead.close_reason, lead.closed_at) == (None, None)
    assert [event.kind for event in await _events(sessions, lead_id)] == ["created"]
    assert await _refreshes(sessions, lead_id) == []


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Action.REFUSE, "spam"),  # a junk reason is not a refuse reason
        (Action.JUNK, "price"),  # and the other way round
        (Action.REFUSE, "no-such-reason"),
        (Action.JUNK, ""),
    ],
)
async def test_an_unknown_close_reason_is_refused_and_changes_nothing(
    outcome: Action,
    reason: str,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    before = await _lead(sessions, lead_id)
    async with sessions() as session:
        result = await close_lead(
            session, lead_id, staff["anna"], outcome, reason, None, clock.now(), config
        )

    assert result.refusal == Refusal.UNKNOWN_REASON
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.version, lead.close_reason) == (IN_WORK, before.version, None)
    assert [event.kind for event in await _events(sessions, lead_id)] == ["created", "taken"]
    assert len(await _refreshes(sessions, lead_id)) == 1  # the take's only


ActionCall = Callable[[AsyncSession, int, Staff, datetime, AppConfig], Awaitable[ActionResult]]


async def _refuse(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await close_lead(session, lead_id, who, Action.REFUSE, "price", None, now, config)


async def _junk(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await junk_lead(session, lead_id, who, "spam", None, now, config)


async def _call_back(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await schedule_call_back(session, lead_id, who, now + timedelta(hours=2), now)


async def _qualify(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await qualify_lead(session, lead_id, who, {"service": "Кухня"}, now)


async def _convert(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await convert_lead(
        session, lead_id, who, {"name": "Иван", "service": "Кухня"}, now, config
    )


async def _take(
    session: AsyncSession, lead_id: int, who: Staff, now: datetime, config: AppConfig
) -> ActionResult:
    return await take_lead(session, lead_id, who, now)


ON_A_LEAD_IN_WORK: dict[str, ActionCall] = {
    "refuse": _refuse,
    "junk": _junk,
    "schedule_callback": _call_back,
    "qualify": _qualify,
    "convert": _convert,
}


@pytest.mark.parametrize("act", ON_A_LEAD_IN_WORK.values(), ids=list(ON_A_LEAD_IN_WORK))
async def test_a_manager_acting_on_another_managers_lead_is_told_whose_it_is(
    act: ActionCall,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    before = await _lead(sessions, lead_id)
    async with sessions() as session:
        result = await act(session, lead_id, staff["boris"], clock.now(), config)

    assert (result.refusal, result.owner_name) == (Refusal.NOT_YOURS, "Anna")
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.version) == (IN_WORK, staff["anna"].id, before.version)
    assert lead.service is None
    assert [event.kind for event in await _events(sessions, lead_id)] == ["created", "taken"]
    assert await _tasks(sessions, lead_id) == []


@pytest.mark.parametrize("act", ON_A_LEAD_IN_WORK.values(), ids=list(ON_A_LEAD_IN_WORK))
async def test_a_supervisor_may_act_on_a_managers_lead(
    act: ActionCall,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        result = await act(session, lead_id, staff["sveta"], clock.now(), config)

    assert result.ok
    assert result.owner_name == "Anna"  # the lead stays Anna's
    assert (await _lead(sessions, lead_id)).owner_id == staff["anna"].id


async def test_a_manager_may_junk_an_unowned_new_lead_which_stays_unowned(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        result = await junk_lead(
            session, lead_id, staff["boris"], "spam", None, clock.now(), config
        )

    assert result.ok and result.owner_name is None
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.close_reason) == (JUNK, None, "spam")
    [event] = await _events(sessions, lead_id, "junk")
    assert event.actor_id == staff["boris"].id


@pytest.mark.parametrize("act", ON_A_LEAD_IN_WORK.values(), ids=list(ON_A_LEAD_IN_WORK))
async def test_acting_on_a_closed_lead_is_refused_as_closed(
    act: ActionCall,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (await _refuse(session, lead_id, staff["anna"], clock.now(), config)).ok
    async with sessions() as session:
        result = await act(session, lead_id, staff["anna"], clock.now(), config)
    assert result.refusal == Refusal.CLOSED
    assert (await _lead(sessions, lead_id)).status == REFUSED


async def test_acting_on_a_missing_lead_is_refused_as_not_found(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    for act in (_take, _refuse, _junk, _call_back, _qualify, _convert):
        async with sessions() as session:
            result = await act(session, 999_999, staff["sveta"], clock.now(), config)
        assert (result.refusal, result.lead) == (Refusal.NOT_FOUND, None), act.__name__
    async with sessions() as session:
        assert (await reopen_lead(session, 999_999, staff["sveta"], clock.now())).refusal == (
            Refusal.NOT_FOUND
        )


@pytest.mark.parametrize("who", ["anna", "boris"])
async def test_a_manager_may_not_reopen_a_closed_lead_not_even_its_owner(
    who: str,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (await _refuse(session, lead_id, staff["anna"], clock.now(), config)).ok
    closed = await _lead(sessions, lead_id)
    clock.advance(timedelta(hours=1))
    async with sessions() as session:
        result = await reopen_lead(session, lead_id, staff[who], clock.now())

    assert result.refusal == Refusal.NOT_ALLOWED
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.close_reason, lead.version) == (REFUSED, "price", closed.version)
    assert await _events(sessions, lead_id, "reopen") == []


async def test_a_supervisor_reopens_an_owned_lead_back_to_its_owner_with_close_fields_cleared(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (
            await close_lead(
                session,
                lead_id,
                staff["anna"],
                Action.REFUSE,
                "other",
                "Передумал",
                clock.now(),
                config,
            )
        ).ok
    clock.advance(timedelta(hours=1))
    async with sessions() as session:
        result = await reopen_lead(session, lead_id, staff["sveta"], clock.now())

    assert result.ok and result.owner_name == "Anna"
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id) == (IN_WORK, staff["anna"].id)
    assert (lead.close_reason, lead.close_comment, lead.closed_at) == (None, None, None)
    assert lead.updated_at == clock.now()
    [event] = await _events(sessions, lead_id, "reopen")
    assert event.actor_id == staff["sveta"].id


async def test_a_supervisor_reopens_an_unowned_junk_lead_into_the_pool_as_new(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        assert (
            await junk_lead(session, lead_id, staff["boris"], "spam", None, clock.now(), config)
        ).ok
    async with sessions() as session:
        result = await reopen_lead(session, lead_id, staff["sveta"], clock.now())

    assert result.ok
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id, lead.close_reason, lead.closed_at) == (
        NEW,
        None,
        None,
        None,
    )
    async with sessions() as session:  # and any manager may take it again
        assert (await take_lead(session, lead_id, staff["boris"], clock.now())).ok


async def test_reopening_a_lead_that_is_still_open_is_outdated(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        result = await reopen_lead(session, lead_id, staff["sveta"], clock.now())
    assert result.refusal == Refusal.OUTDATED
    assert (await _lead(sessions, lead_id)).status == IN_WORK


async def test_scheduling_a_callback_puts_the_lead_in_callback_with_exactly_one_open_task(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    due = clock.now() + timedelta(hours=3)
    async with sessions() as session:
        result = await schedule_call_back(session, lead_id, staff["anna"], due, clock.now())

    assert result.ok
    assert (await _lead(sessions, lead_id)).status == CALL_BACK
    [task] = await _tasks(sessions, lead_id)
    assert (task.kind, task.assignee_id, task.due_at) == (CALL_BACK_TASK, staff["anna"].id, due)
    assert (task.created_at, task.done_at, task.fired_at) == (clock.now(), None, None)
    [event] = await _events(sessions, lead_id, "callback_scheduled")
    assert event.data == {"due_at": due.isoformat()}
    assert event.actor_id == staff["anna"].id


async def test_rescheduling_closes_the_previous_task_and_leaves_one_open(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    first_due = clock.now() + timedelta(hours=3)
    async with sessions() as session:
        anna = staff["anna"]
        assert (await schedule_call_back(session, lead_id, anna, first_due, clock.now())).ok
    clock.advance(timedelta(hours=1))
    second_due = clock.now() + timedelta(days=1)
    async with sessions() as session:
        result = await schedule_call_back(session, lead_id, staff["anna"], second_due, clock.now())

    assert result.ok
    assert (await _lead(sessions, lead_id)).status == CALL_BACK
    first, second = await _tasks(sessions, lead_id)
    assert (first.due_at, first.done_at) == (first_due, clock.now())
    assert (second.due_at, second.done_at) == (second_due, None)
    assert len(await _events(sessions, lead_id, "callback_scheduled")) == 2


async def test_a_supervisors_callback_is_assigned_to_the_leads_owner(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    due = clock.now() + timedelta(hours=1)
    async with sessions() as session:
        assert (await schedule_call_back(session, lead_id, staff["sveta"], due, clock.now())).ok
    [task] = await _tasks(sessions, lead_id)
    assert task.assignee_id == staff["anna"].id


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-1)], ids=["now", "past"])
async def test_a_callback_not_in_the_future_is_rejected_before_anything_changes(
    offset: timedelta, sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        with pytest.raises(ValueError, match="future"):
            await schedule_call_back(
                session, lead_id, staff["anna"], clock.now() + offset, clock.now()
            )
    assert (await _lead(sessions, lead_id)).status == IN_WORK
    assert await _tasks(sessions, lead_id) == []


async def test_scheduling_a_callback_on_a_new_lead_is_outdated(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _new_lead(sessions, clock)
    async with sessions() as session:
        result = await schedule_call_back(
            session, lead_id, staff["sveta"], clock.now() + timedelta(hours=1), clock.now()
        )
    assert result.refusal == Refusal.OUTDATED
    assert await _tasks(sessions, lead_id) == []


async def test_finishing_a_callback_returns_the_lead_to_work_and_closes_its_task(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (
            await schedule_call_back(
                session, lead_id, staff["anna"], clock.now() + timedelta(hours=2), clock.now()
            )
        ).ok
    clock.advance(timedelta(hours=2))
    async with sessions() as session:
        result = await finish_call_back(session, lead_id, staff["anna"], clock.now())

    assert result.ok
    lead = await _lead(sessions, lead_id)
    assert (lead.status, lead.owner_id) == (IN_WORK, staff["anna"].id)
    [task] = await _tasks(sessions, lead_id)
    assert task.done_at == clock.now()
    [event] = await _events(sessions, lead_id, "callback_done")
    assert event.actor_id == staff["anna"].id


async def test_finishing_a_callback_on_another_managers_lead_is_not_yours(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (
            await schedule_call_back(
                session, lead_id, staff["anna"], clock.now() + timedelta(hours=2), clock.now()
            )
        ).ok
    async with sessions() as session:
        result = await finish_call_back(session, lead_id, staff["boris"], clock.now())

    assert (result.refusal, result.owner_name) == (Refusal.NOT_YOURS, "Anna")
    assert (await _lead(sessions, lead_id)).status == CALL_BACK
    [task] = await _tasks(sessions, lead_id)
    assert task.done_at is None


async def test_finishing_a_callback_of_a_lead_in_work_is_outdated(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        result = await finish_call_back(session, lead_id, staff["anna"], clock.now())
    assert result.refusal == Refusal.OUTDATED
    assert await _events(sessions, lead_id, "callback_done") == []


@pytest.mark.parametrize(
    ("outcome", "reason", "status"),
    [(Action.REFUSE, "no_answer", REFUSED), (Action.JUNK, "wrong_number", JUNK)],
)
async def test_closing_a_lead_in_callback_closes_its_open_tasks(
    outcome: Action,
    reason: str,
    status: LeadStatus,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (
            await schedule_call_back(
                session, lead_id, staff["anna"], clock.now() + timedelta(hours=2), clock.now()
            )
        ).ok
        session.add(
            Task(
                lead_id=lead_id,
                kind="answer_owed",
                assignee_id=staff["anna"].id,
                due_at=clock.now() + timedelta(hours=1),
                created_at=clock.now(),
            )
        )
        await session.commit()
    clock.advance(timedelta(minutes=30))
    async with sessions() as session:
        result = await close_lead(
            session, lead_id, staff["anna"], outcome, reason, None, clock.now(), config
        )

    assert result.ok
    assert (await _lead(sessions, lead_id)).status == status
    tasks = await _tasks(sessions, lead_id)
    assert len(tasks) == 2
    assert [task.done_at for task in tasks] == [clock.now(), clock.now()]


async def test_closing_a_lead_leaves_other_leads_tasks_open(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    kept = await _taken_lead(sessions, clock, staff["anna"])
    closed = await _new_lead(sessions, clock, phone="+79007654321")
    async with sessions() as session:
        assert (await take_lead(session, closed, staff["anna"], clock.now())).ok
    for lead_id in (kept, closed):
        async with sessions() as session:
            assert (
                await schedule_call_back(
                    session, lead_id, staff["anna"], clock.now() + timedelta(hours=2), clock.now()
                )
            ).ok
    async with sessions() as session:
        assert (await _refuse(session, closed, staff["anna"], clock.now(), config)).ok

    [task] = await _tasks(sessions, kept)
    assert task.done_at is None


async def _take_apart(
    sessions: SessionFactory, clock: ManualClock, lead_id: int, who: Staff
) -> ActionResult:
    async with sessions() as session:
        return await take_lead(session, lead_id, who, clock.now())


async def _junk_apart(
    sessions: SessionFactory, clock: ManualClock, lead_id: int, who: Staff, config: AppConfig
) -> ActionResult:
    async with sessions() as session:
        return await junk_lead(session, lead_id, who, "spam", None, clock.now(), config)


@pytest.mark.parametrize(
    "take_first", [True, False], ids=["take-started-first", "junk-started-first"]
)
async def test_concurrent_take_and_junk_by_different_people_leave_one_consistent_outcome(
    take_first: bool,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    config: AppConfig,
) -> None:
    for round_ in range(5):
        lead_id = await _new_lead(sessions, clock, phone=f"+7900123450{round_}")
        take = _take_apart(sessions, clock, lead_id, staff["anna"])
        junk = _junk_apart(sessions, clock, lead_id, staff["boris"], config)
        if take_first:
            took, junked = await asyncio.gather(take, junk)
        else:
            junked, took = await asyncio.gather(junk, take)

        assert [took.ok, junked.ok].count(True) == 1
        lead = await _lead(sessions, lead_id)
        taken_events = await _events(sessions, lead_id, "taken")
        junk_events = await _events(sessions, lead_id, "junk")
        if took.ok:
            assert (junked.refusal, junked.owner_name) == (Refusal.NOT_YOURS, "Anna")
            assert (lead.status, lead.owner_id, lead.close_reason) == (
                IN_WORK,
                staff["anna"].id,
                None,
            )
            assert (len(taken_events), len(junk_events)) == (1, 0)
            assert taken_events[0].actor_id == staff["anna"].id
        else:
            assert took.refusal == Refusal.CLOSED
            assert (lead.status, lead.owner_id, lead.close_reason) == (JUNK, None, "spam")
            assert (len(taken_events), len(junk_events)) == (0, 1)
            assert junk_events[0].actor_id == staff["boris"].id
        assert lead.version == 2  # exactly one change was applied
        assert len(await _refreshes(sessions, lead_id)) == 1


async def test_each_successful_change_enqueues_one_card_refresh_and_a_refusal_none_at_all(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock)
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]

    async def refreshes_after(act: Callable[[AsyncSession], Awaitable[ActionResult]]) -> int:
        clock.advance(timedelta(minutes=1))
        before = len(await _refreshes(sessions, lead_id))
        async with sessions() as session:
            await act(session)
        return len(await _refreshes(sessions, lead_id)) - before

    now = clock.now
    steps: list[tuple[str, Callable[[AsyncSession], Awaitable[ActionResult]], int]] = [
        ("boris refuses a new lead", lambda s: _refuse(s, lead_id, boris, now(), config), 0),
        ("anna takes", lambda s: take_lead(s, lead_id, anna, now()), 1),
        ("boris takes too late", lambda s: take_lead(s, lead_id, boris, now()), 0),
        ("anna schedules", lambda s: _call_back(s, lead_id, anna, now(), config), 1),
        ("anna reschedules", lambda s: _call_back(s, lead_id, anna, now(), config), 1),
        ("boris finishes", lambda s: finish_call_back(s, lead_id, boris, now()), 0),
        ("anna finishes", lambda s: finish_call_back(s, lead_id, anna, now()), 1),
        ("anna qualifies", lambda s: _qualify(s, lead_id, anna, now(), config), 1),
        (
            "anna: unknown reason",
            lambda s: junk_lead(s, lead_id, anna, "?", None, now(), config),
            0,
        ),
        ("anna refuses", lambda s: _refuse(s, lead_id, anna, now(), config), 1),
        ("anna reopens", lambda s: reopen_lead(s, lead_id, anna, now()), 0),
        ("sveta reopens", lambda s: reopen_lead(s, lead_id, sveta, now()), 1),
        ("anna converts", lambda s: _convert(s, lead_id, anna, now(), config), 1),
    ]
    for name, act, expected in steps:
        assert await refreshes_after(act) == expected, name

    rows = await _refreshes(sessions, lead_id)
    assert len(rows) == 8
    assert all(
        (row.state, row.chat_id, row.staff_id, row.attempts) == (OutboxState.PENDING, None, None, 0)
        for row in rows
    )
    assert (await _lead(sessions, lead_id)).status == CONVERTED


async def test_every_successful_change_writes_exactly_one_event_in_order(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    anna = staff["anna"]
    async with sessions() as session:
        await _call_back(session, lead_id, anna, clock.now(), config)
    async with sessions() as session:
        await finish_call_back(session, lead_id, anna, clock.now())
    async with sessions() as session:
        await _qualify(session, lead_id, staff["boris"], clock.now(), config)  # refused
    async with sessions() as session:
        await _qualify(session, lead_id, anna, clock.now(), config)
    async with sessions() as session:
        await _junk(session, lead_id, anna, clock.now(), config)
    async with sessions() as session:
        await reopen_lead(session, lead_id, staff["sveta"], clock.now())

    kinds = [event.kind for event in await _events(sessions, lead_id)]
    assert kinds == [
        "created",
        "taken",
        "callback_scheduled",
        "callback_done",
        "qualified",
        "junk",
        "reopen",
    ]
    assert (await _lead(sessions, lead_id)).version == 7  # one bump per change


# ----------------------------------------------------------------------------------------------
# Notes and history (bot/leads/notes.py): for the owner and supervisors, not for other managers.


async def test_the_owner_adds_a_note_which_history_shows_newest_first(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    before = await _lead(sessions, lead_id)
    async with sessions() as session:
        result = await add_note(
            session, lead_id, staff["anna"], "Перезвонить после 18", clock.now()
        )
    assert result.ok
    lead = await _lead(sessions, lead_id)
    assert lead.updated_at == clock.now() != before.updated_at  # the lead is being worked
    assert (lead.version, lead.status) == (before.version, IN_WORK)  # the card stays as it is

    async with sessions() as session:
        lines, pages = await lead_history(session, lead_id, page=0)
    assert pages == 1
    assert [(line.kind, line.who) for line in lines] == [
        ("note", "Anna"),
        ("taken", "Anna"),
        ("created", None),
    ]
    assert lines[0].data == {"text": "Перезвонить после 18"}
    assert len(await _refreshes(sessions, lead_id)) == 1  # the take's: a note leaves the card


async def test_a_note_is_cut_to_the_note_limit(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])
    async with sessions() as session:
        assert (
            await add_note(session, lead_id, staff["sveta"], "x" * (NOTE_LIMIT + 50), clock.now())
        ).ok
    [note] = await _events(sessions, lead_id, "note")
    assert note.data == {"text": "x" * NOTE_LIMIT}
    assert note.actor_id == staff["sveta"].id


async def test_another_manager_may_not_annotate_a_lead(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    owned = await _taken_lead(sessions, clock, staff["anna"])
    unowned = await _new_lead(sessions, clock, phone="+79007654321")
    async with sessions() as session:
        foreign = await add_note(session, owned, staff["boris"], "hi", clock.now())
    async with sessions() as session:
        pool = await add_note(session, unowned, staff["boris"], "hi", clock.now())
    async with sessions() as session:
        missing = await add_note(session, 999_999, staff["sveta"], "hi", clock.now())

    assert (foreign.refusal, foreign.owner_name) == (Refusal.NOT_YOURS, "Anna")
    assert (pool.refusal, pool.owner_name) == (Refusal.NOT_ALLOWED, None)
    assert missing.refusal == Refusal.NOT_FOUND
    assert await _events(sessions, owned, "note") == []
    assert await _events(sessions, unowned, "note") == []


async def test_history_pages_hold_the_page_size_and_an_out_of_range_page_shows_the_last(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _taken_lead(sessions, clock, staff["anna"])  # created, taken
    for number in range(5):
        async with sessions() as session:
            await add_note(session, lead_id, staff["anna"], f"note {number}", clock.now())

    async with sessions() as session:
        first, pages = await lead_history(session, lead_id, page=0, size=3)
        last, _ = await lead_history(session, lead_id, page=99, size=3)
    assert pages == 3
    assert [line.data.get("text") for line in first] == ["note 4", "note 3", "note 2"]
    assert [line.kind for line in last] == ["created"]
