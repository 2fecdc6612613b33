"""Auto-close of stale leads (bot/sla/stale.py) on a real database, SQLite and PostgreSQL: the 7-day
boundary, which statuses it touches, what a closed lead carries (tasks, events, card
refreshes), batches, the owners' one message each, the reason's label, and reopening."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import bot.sla.stale
from bot.common.clock import ManualClock
from bot.common.lifecycle import STALE_REASON
from bot.common.render import TELEGRAM_TEXT_LIMIT, render, visible_length
from bot.config import AppConfig, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import Refusal, junk_lead, load_lead, reopen_lead, take_lead
from bot.leads.call_backs import schedule_call_back
from bot.leads.cards import card_as_seen_by
from bot.leads.notes import lead_history, shown_history
from bot.sla.stale import close_stale_leads, stale_closed_since, stale_notices
from storage.db import SessionFactory
from storage.models import (
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    Staff,
    Task,
)

WEEK = timedelta(days=7)


async def _new_leads(
    sessions: SessionFactory, clock: ManualClock, count: int = 1, **fields: str
) -> list[int]:
    start = len(await _all_leads(sessions))
    inputs = [
        LeadInput(source="web_form", phone=f"+7900{start + n:07d}", **fields) for n in range(count)
    ]
    async with sessions() as session:
        return [result.lead_id for result in await intake_leads(session, inputs, clock.now())]


async def _all_leads(sessions: SessionFactory) -> list[Lead]:
    async with sessions() as session:
        return list((await session.scalars(select(Lead).order_by(Lead.id))).all())


async def _lead(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def _close(sessions: SessionFactory, clock: ManualClock, config: AppConfig) -> list[int]:
    async with sessions() as session:
        return await close_stale_leads(session, clock.now(), config)


async def _rows(sessions: SessionFactory, model: type[Any], *where: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def test_a_lead_is_closed_at_exactly_seven_days_and_not_a_second_before(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig
) -> None:
    [old] = await _new_leads(sessions, clock)
    clock.advance(timedelta(seconds=1))
    [younger] = await _new_leads(sessions, clock)
    before = await _lead(sessions, old)
    clock.set(before.updated_at + WEEK)

    assert await _close(sessions, clock, config) == [old]

    closed, kept = await _lead(sessions, old), await _lead(sessions, younger)
    assert (closed.status, closed.close_reason, closed.closed_at) == (
        LeadStatus.JUNK,
        STALE_REASON,
        clock.now(),
    )
    assert closed.version == before.version + 1 and closed.updated_at == clock.now()
    assert closed.alert_at is None and closed.waiting_since is None
    assert kept.status == LeadStatus.NEW
    clock.advance(timedelta(seconds=1))
    assert await _close(sessions, clock, config) == [younger]  # now it is a week old too
    assert await _close(sessions, clock, config) == []  # nothing is closed twice


async def test_call_backs_are_closed_with_their_tasks_and_leads_in_work_are_left_alone(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    calling, working, deal = await _new_leads(sessions, clock, 3)
    async with sessions() as session:
        for lead_id in (calling, working, deal):
            assert (await take_lead(session, lead_id, staff["anna"], clock.now())).ok
        due = clock.now() + timedelta(days=1)
        assert (await schedule_call_back(session, calling, staff["anna"], due, clock.now())).ok
        await session.execute(
            update(Lead).where(Lead.id == deal).values(status=LeadStatus.CONVERTED)
        )
        await session.commit()
    clock.advance(timedelta(days=30))

    assert await _close(sessions, clock, config) == [calling]

    assert (await _lead(sessions, working)).status == LeadStatus.IN_WORK
    assert (await _lead(sessions, deal)).status == LeadStatus.CONVERTED
    [task] = await _rows(sessions, Task, Task.lead_id == calling)
    assert task.done_at == clock.now() and task.alert_at is None
    events = await _rows(sessions, LeadEvent, LeadEvent.kind == "closed")
    assert [(e.lead_id, e.actor_id, e.data) for e in events] == [
        (calling, None, {"reason": "stale", "status": "junk"})
    ]
    refreshes = await _rows(
        sessions,
        OutboxMessage,
        OutboxMessage.kind == OutboxKind.CARD_REFRESH,
        OutboxMessage.created_at == clock.now(),
    )
    assert [row.lead_id for row in refreshes] == [calling]


async def test_any_change_restarts_the_week(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    [lead_id] = await _new_leads(sessions, clock)
    clock.advance(timedelta(days=5))
    async with sessions() as session:
        await session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=clock.now()))
        await session.commit()
    clock.advance(timedelta(days=5))
    assert await _close(sessions, clock, config) == []


async def test_thousands_of_leads_go_in_batches_each_its_own_transaction(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.sla.stale, "BATCH", 7)
    lead_ids = await _new_leads(sessions, clock, 20)
    clock.advance(WEEK)
    batches = 0

    async def count(session: AsyncSession) -> bool:
        nonlocal batches
        # every batch before this one is committed: another connection sees it closed
        junk = [lead for lead in await _all_leads(sessions) if lead.status == LeadStatus.JUNK]
        assert len(junk) == 7 * batches
        batches += 1
        return True

    async with sessions() as session:
        closed = await close_stale_leads(session, clock.now(), config, guard=count)
    assert closed == lead_ids and batches == 3  # 7 + 7 + 6
    assert len(await _rows(sessions, LeadEvent, LeadEvent.kind == "closed")) == 20
    assert all(lead.status == LeadStatus.JUNK for lead in await _all_leads(sessions))


async def test_a_guard_saying_no_stops_before_the_next_batch(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.sla.stale, "BATCH", 5)
    await _new_leads(sessions, clock, 12)
    clock.advance(WEEK)
    answers = iter([True, False])

    async def once(session: AsyncSession) -> bool:
        return next(answers)

    async with sessions() as session:
        closed = await close_stale_leads(session, clock.now(), config, guard=once)
    assert closed == [1, 2, 3, 4, 5]
    assert [lead.status for lead in await _all_leads(sessions)].count(LeadStatus.NEW) == 7


async def test_switched_off_nothing_is_closed(sessions: SessionFactory, clock: ManualClock) -> None:
    config = load_app_config(overrides={"sla": {"auto_close_after": "off"}})
    assert config.sla.auto_close_after is None
    await _new_leads(sessions, clock)
    clock.advance(timedelta(days=365))
    assert await _close(sessions, clock, config) == []


async def test_each_owner_gets_one_message_listing_their_leads_cut_to_fit(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    start = clock.now()
    annas = await _new_leads(sessions, clock, 120, name="Анна Каренина " * 10)
    borises = await _new_leads(sessions, clock, 2)
    nobodys = await _new_leads(sessions, clock, 3)
    async with sessions() as session:
        for lead_id in annas:
            await take_lead(session, lead_id, staff["anna"], clock.now())
        for lead_id in borises:
            await take_lead(session, lead_id, staff["boris"], clock.now())
            due = clock.now() + timedelta(hours=1)
            await schedule_call_back(session, lead_id, staff["boris"], due, clock.now())
    async with sessions() as session:  # Anna's leads wait in call-back too
        await session.execute(
            update(Lead).where(Lead.id.in_(annas)).values(status=LeadStatus.CALL_BACK)
        )
        await session.commit()
    clock.advance(WEEK + timedelta(hours=1))
    assert len(await _close(sessions, clock, config)) == 125

    async with sessions() as session:
        closed = await stale_closed_since(session, start)
        rows = await stale_notices(session, closed, config, clock.now())
    assert [lead.id for lead in closed if lead.owner_id is None] == nobodys
    assert [row["chat_id"] for row in rows] == [1001, 1002]  # nobody's leads: no message
    anna, boris = rows
    assert anna["payload"]["template"] == "stale_closed"
    context = anna["payload"]["context"]
    assert (context["total"], context["more"], len(context["leads"])) == (120, 70, 50)
    for locale in ("ru", "en"):
        text = render("stale_closed.html.j2", locale, **context)
        assert visible_length(text) <= TELEGRAM_TEXT_LIMIT
        assert f"#{annas[0]} Анна" in text
    text = render("stale_closed.html.j2", "en", **context)
    assert "no activity for 7 days" in text and "…and 70 more" in text
    boris_text = render("stale_closed.html.j2", "ru", **boris["payload"]["context"])
    assert f"#{borises[0]} +7 900" in boris_text and "ещё" not in boris_text


async def test_the_card_and_history_say_stale_and_the_junk_picker_does_not_offer_it(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    assert STALE_REASON not in [reason.code for reason in config.reasons("junk")]
    [lead_id] = await _new_leads(sessions, clock)
    async with sessions() as session:
        forged = await junk_lead(
            session, lead_id, staff["anna"], STALE_REASON, None, clock.now(), config
        )
    assert forged.refusal is Refusal.UNKNOWN_REASON
    clock.advance(WEEK)
    await _close(sessions, clock, config)
    async with sessions() as session:
        sveta = await session.get(Staff, staff["sveta"].id)
        assert sveta is not None
        lead = await load_lead(session, lead_id)
        assert lead is not None
        sveta.language = "en"
        view, _ = card_as_seen_by(lead, sveta, config, clock.now(), 1)
        sveta.language = "ru"
        ru_view, _ = card_as_seen_by(lead, sveta, config, clock.now(), 1)
        lines, _ = await lead_history(session, lead_id, 0)
    assert "Reason: stale (no activity for 7 days)" in view.text
    assert "Причина: устарел (без движения 7 дн.)" in ru_view.text
    assert [a.value for a in view.actions] == ["reopen", "history"]
    [line, *_] = shown_history(lines, config, "en")
    assert (line.who, line.kind, line.detail) == (None, "closed", "stale (no activity for 7 days)")


async def test_a_supervisor_reopens_a_stale_lead_and_a_manager_cannot(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    unowned, owned = await _new_leads(sessions, clock, 2)
    async with sessions() as session:
        await take_lead(session, owned, staff["anna"], clock.now())
        due = clock.now() + timedelta(hours=2)
        await schedule_call_back(session, owned, staff["anna"], due, clock.now())
    clock.advance(WEEK)
    assert await _close(sessions, clock, config) == [unowned, owned]
    async with sessions() as session:
        refused = await reopen_lead(session, owned, staff["anna"], clock.now())
        assert refused.refusal is Refusal.NOT_ALLOWED
        assert (await reopen_lead(session, owned, staff["sveta"], clock.now())).ok
        assert (await reopen_lead(session, unowned, staff["sveta"], clock.now())).ok
    back, pool = await _lead(sessions, owned), await _lead(sessions, unowned)
    assert (back.status, back.close_reason, back.owner_id) == (
        LeadStatus.IN_WORK,
        None,
        staff["anna"].id,
    )
    assert (pool.status, pool.close_reason) == (LeadStatus.NEW, None)
    async with sessions() as session:
        assert await stale_closed_since(session, clock.now() - WEEK) == []  # no longer closed
