"""The daily digest (bot/reports/digest.py) and the once-a-day job (bot/reports/daily.py) on a
real database, SQLite and PostgreSQL: yesterday is the local (Moscow) calendar day, what is
overdue now, who gets it, and the run recorded so it happens once a day across
instances and restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import bot.sla.stale
from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.common.render import render
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, junk_lead, take_lead
from bot.leads.call_backs import schedule_call_back
from bot.leads.qualify import convert_lead
from bot.reports.daily import DAILY_JOB, batch_guard, daily_run_key, run_daily
from bot.reports.digest import daily_digest
from bot.reports.runs import claim_run
from bot.sla.stale import close_stale_leads
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import (
    JobRun,
    Lead,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    Role,
    Staff,
)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> datetime:
    """A UTC moment in January 2026 (December for month=12)."""
    year = 2025 if month == 12 else 2026
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def _lead_at(
    sessions: SessionFactory,
    clock: ManualClock,
    moment: datetime,
    source: str = "web_form",
    **fields: str,
) -> int:
    clock.set(moment)
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Lead)) or 0
        [result] = await intake_leads(
            session, [LeadInput(source=source, phone=f"+7901{count:07d}", **fields)], moment
        )
    return result.lead_id


async def _texts(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.TEXT)
            .order_by(OutboxMessage.id)
        )
        return list(found.all())


async def test_yesterday_is_the_local_day_and_overdue_is_as_of_now(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    # before yesterday (Moscow): a lead nobody took, a call-back, one stalled in work, one stale
    stale = await _lead_at(sessions, clock, at(27, 10, month=12))
    stalled = await _lead_at(sessions, clock, at(2, 9))
    async with sessions() as session:
        await take_lead(session, stalled, anna, clock.now())
    calling = await _lead_at(sessions, clock, at(3, 10))
    async with sessions() as session:
        await take_lead(session, calling, anna, clock.now())
        await schedule_call_back(session, calling, anna, at(5, 8), clock.now())
    untaken = await _lead_at(sessions, clock, at(3, 20, 59, 59))  # 23:59:59 Moscow, 03.01
    # yesterday in Moscow, 04.01 = [03.01 21:00, 04.01 21:00) UTC
    deal = await _lead_at(sessions, clock, at(3, 21), name="Ivan")  # 00:00 Moscow
    async with sessions() as session:
        await take_lead(session, deal, anna, clock.now())
        answers = {"service": "tour", "amount": Decimal("1500.50")}
        assert (await convert_lead(session, deal, anna, answers, clock.now(), config)).ok
    refused = await _lead_at(sessions, clock, at(4, 10), source="tilda")
    async with sessions() as session:
        await take_lead(session, refused, anna, clock.now())
        await close_lead(session, refused, anna, Action.REFUSE, "price", None, clock.now(), config)
        assert await close_stale_leads(session, clock.now(), config) == [stale]
    junk = await _lead_at(sessions, clock, at(4, 20, 59, 59))  # 23:59:59 Moscow
    async with sessions() as session:
        await junk_lead(session, junk, anna, "spam", None, clock.now(), config)
    # today in Moscow already (00:00, 05.01): not yesterday's; it waits for somebody on duty
    waiting = await _lead_at(sessions, clock, at(4, 21), name="<b>Zoe</b>")
    async with sessions() as session:
        await session.execute(
            update(Lead).where(Lead.id == waiting).values(waiting_since=at(4, 21))
        )
        await session.commit()

    clock.set(at(5, 9))  # Monday 12:00 Moscow
    async with sessions() as session:
        digest = await daily_digest(session, clock.now(), config)

    assert digest.day == "04.01.2026"
    counts = digest.counts
    # yesterday's cohort, as /report → Yesterday counts it: the deal (reached by converting
    # it), the refused lead and the junk one (junked untaken: nobody took it); the lead of
    # 27.12 closed as stale yesterday is not of that day, nor the one of 23:59:59 on 03.01
    assert (counts.new, counts.taken, counts.contacted) == (3, 2, 1)
    assert (counts.converted, counts.amount) == (1, "1\u202f500.50")
    assert (counts.refused, counts.junk, counts.open) == (1, 1, 0)
    assert digest.channels == [("web_form", 2), ("tilda", 1)]
    # the chart: leads a local day by channel, the seven days up to yesterday
    assert digest.chart is not None and digest.chart.charts == ("daily",)
    assert digest.chart.days[0] == date(2025, 12, 29) and digest.chart.days[-1] == date(2026, 1, 4)
    assert digest.chart.by_source == {"web_form": [0, 0, 0, 0, 1, 2, 2], "tilda": [0] * 6 + [1]}
    assert digest.overdue == {"not_taken": 2, "callback_missed": 1, "stalled": 1}
    assert [(lead.id, lead.breach) for lead in digest.oldest_overdue] == [
        (stalled, "stalled"),
        (untaken, "not_taken"),
        (waiting, "not_taken"),
        (calling, "callback_missed"),
    ]
    # not taken counts as the reminders count ([sla.not_taken] remind, 10 min of working
    # time): a lead of Saturday night is overdue from Monday 09:10, local time
    assert digest.oldest_overdue[1].since == "05.01 09:10"
    assert (digest.waiting, [lead.id for lead in digest.oldest_waiting]) == (1, [waiting])
    assert digest.stale_today == 0

    en = render("digest.html.j2", "en", **digest.context())
    assert "Yesterday, 04.01.2026" in en and "New leads: 3" in en
    assert "website form: 2 · Tilda form: 1" in en
    assert "Taken: 2 · client reached: 1" in en
    assert "Deals: 1 · 1\u202f500.50 ₽" in en
    assert "Refused: 1 · 🗑 Junk: 1 · ⏳ Still open: 0" in en
    assert "Overdue now: 4" in en and "not taken: 2" in en
    assert f"#{untaken} +7 901" in en and "&lt;b&gt;Zoe&lt;/b&gt;" in en
    assert "Waiting for somebody on duty: 1" in en
    ru = render("digest.html.j2", "ru", **digest.context())
    assert "Вчера, 04.01.2026" in ru and "Просрочено сейчас: 4" in ru


async def _supervisors_and_a_former_admin(sessions: SessionFactory, clock: ManualClock) -> None:
    async with sessions() as session:
        await add_staff(session, 1004, Role.ADMIN, "Alla", clock.now())
        gone = await add_staff(session, 1005, Role.SUPERVISOR, "Gleb", clock.now())
        gone.is_active = False
        await session.commit()


async def test_the_daily_run_closes_stale_leads_then_sends_the_digest_to_each_supervisor(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _supervisors_and_a_former_admin(sessions, clock)
    mine = await _lead_at(sessions, clock, at(5, 3))
    await _lead_at(sessions, clock, at(5, 3))  # nobody's
    async with sessions() as session:
        await take_lead(session, mine, staff["boris"], clock.now())
        await schedule_call_back(session, mine, staff["boris"], at(6, 9), clock.now())
    clock.set(at(12, 5, 59))  # 08:59 Moscow: not yet
    async with sessions() as session:
        assert await run_daily(session, clock.now(), config) is None
    clock.set(at(12, 6))  # 09:00 Moscow

    async with sessions() as session:
        ran = await run_daily(session, clock.now(), config)

    assert ran is not None and (ran.run_key, ran.stale_closed) == ("2026-01-12", 2)
    assert (ran.owners_told, ran.digests) == (1, 2)
    texts = await _texts(sessions)
    assert [(row.chat_id, row.payload["template"]) for row in texts] == [
        (1002, "stale_closed"),
        (1003, "digest"),
        (1004, "digest"),
    ]
    assert texts[1].payload["context"]["stale_today"] == 2  # closed before the digest counts
    # each digest is followed by its chart: the two leads of Monday 05.01, in the seven days
    # up to yesterday (05.01 – 11.01), drawn when sent
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.lead_id.is_(None))
                .order_by(OutboxMessage.id)
            )
        ).all()
    assert [(row.chat_id, row.kind) for row in rows] == [
        (1002, OutboxKind.TEXT),
        (1003, OutboxKind.TEXT),
        (1003, OutboxKind.CHARTS),
        (1004, OutboxKind.TEXT),
        (1004, OutboxKind.CHARTS),
    ]
    assert rows[2].payload["charts"] == ["daily"]
    assert (
        rows[2].payload["days"][0] == "2026-01-05" and rows[2].payload["days"][-1] == "2026-01-11"
    )
    assert rows[2].payload["by_source"] == {"web_form": [2, 0, 0, 0, 0, 0, 0]}


async def test_two_claims_at_once_one_wins(sessions: SessionFactory, clock: ManualClock) -> None:
    async def claim() -> bool:
        async with sessions() as session:
            won = await claim_run(session, DAILY_JOB, "2026-01-05", clock.now())
            await asyncio.sleep(0.05)  # both transactions open at once
            await session.commit()
            return won

    assert sorted(await asyncio.gather(claim(), claim())) == [False, True]
    async with sessions() as session:
        assert not await claim_run(session, DAILY_JOB, "2026-01-05", clock.now())
        assert await claim_run(session, DAILY_JOB, "2026-01-06", clock.now())
        await session.rollback()  # not committed: the day is not recorded
    async with sessions() as session:
        keys = (await session.scalars(select(JobRun.run_key))).all()
    assert keys == ["2026-01-05"]


async def test_two_instances_running_at_once_send_one_digest_and_close_each_lead_once(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.sla.stale, "BATCH", 3)  # many batches, so instances could interleave
    for _ in range(30):
        lead_id = await _lead_at(sessions, clock, at(5, 3))
        async with sessions() as session:
            await take_lead(session, lead_id, staff["anna"], clock.now())
            await schedule_call_back(session, lead_id, staff["anna"], at(6, 9), clock.now())
    clock.set(at(12, 7))

    async def instance() -> object:
        async with sessions() as session:
            return await run_daily(session, clock.now(), config)

    runs = await asyncio.gather(*(instance() for _ in range(3)))
    assert sum(run is not None for run in runs) == 1
    texts = await _texts(sessions)
    assert [(row.chat_id, row.payload["template"]) for row in texts] == [
        (1001, "stale_closed"),
        (1003, "digest"),
    ]
    assert texts[0].payload["context"]["total"] == 30
    async with sessions() as session:
        closed = (
            await session.scalars(select(LeadEvent.lead_id).where(LeadEvent.kind == "closed"))
        ).all()
    assert sorted(closed) == list(range(1, 31))


async def test_the_run_waits_for_another_instances_batch_and_reports_its_leads_too(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Instance B (its clock a little ahead) is closing a batch when instance A gets to the
    end of its run: A's messages must wait for B's batch, or B's lead is never reported."""
    first = await _lead_at(sessions, clock, at(5, 3))
    second = await _lead_at(sessions, clock, at(5, 3, 10))
    async with sessions() as session:
        for lead_id in (first, second):
            await take_lead(session, lead_id, staff["anna"], clock.now())
            await schedule_call_back(session, lead_id, staff["anna"], at(6, 9), clock.now())
    guard = batch_guard("2026-01-12")
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_batch(session: AsyncSession) -> bool:
        go_on = await guard(session)
        entered.set()
        await release.wait()
        return go_on

    async def instance_b() -> list[int]:
        async with sessions() as session:
            return await close_stale_leads(session, at(12, 6, 15), config, guard=slow_batch)

    async def instance_a() -> object:
        async with sessions() as session:
            return await run_daily(session, at(12, 6, 5), config)  # only `first` is stale yet

    b = asyncio.create_task(instance_b())
    await entered.wait()
    a = asyncio.create_task(instance_a())
    await asyncio.sleep(0.3)
    release.set()
    assert await b == [first, second]
    assert await a is not None
    [notice, _digest] = await _texts(sessions)
    assert [lead["id"] for lead in notice.payload["context"]["leads"]] == [first, second]


async def test_a_restart_after_the_run_repeats_nothing_and_the_next_day_runs_again(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    clock.set(at(5, 14))  # 17:00 Moscow: the instance was down at 09:00; it runs now
    async with sessions() as session:
        assert await run_daily(session, clock.now(), config) is not None
    clock.set(at(5, 20, 59))  # 23:59 Moscow, after a restart (new sessions, same database)
    async with sessions() as session:
        assert await run_daily(session, clock.now(), config) is None
    assert len(await _texts(sessions)) == 1
    clock.set(at(5, 21))  # 00:00 Moscow, 06.01: before daily_at
    async with sessions() as session:
        assert await run_daily(session, clock.now(), config) is None
    clock.set(at(6, 6))  # 09:00 Moscow
    async with sessions() as session:
        again = await run_daily(session, clock.now(), config)
    assert again is not None and again.run_key == "2026-01-06"
    assert len(await _texts(sessions)) == 2


async def test_leads_closed_by_an_interrupted_run_are_still_reported_once(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    for _ in range(2):
        lead_id = await _lead_at(sessions, clock, at(5, 3))
        async with sessions() as session:
            await take_lead(session, lead_id, staff["anna"], clock.now())
            await schedule_call_back(session, lead_id, staff["anna"], at(6, 9), clock.now())
    clock.set(at(12, 6))
    async with sessions() as session:  # a run closed the leads, then the process died
        assert await close_stale_leads(session, clock.now(), config) == [1, 2]
    clock.set(at(12, 6, 5))
    async with sessions() as session:
        ran = await run_daily(session, clock.now(), config)
    assert ran is not None and ran.stale_closed == 2
    [notice, _digest] = await _texts(sessions)
    assert [lead["id"] for lead in notice.payload["context"]["leads"]] == [1, 2]


def test_the_run_key_is_the_local_date_from_daily_at(config: AppConfig) -> None:
    assert daily_run_key(at(5, 5, 59), config) is None  # 08:59 Moscow
    assert daily_run_key(at(5, 6), config) == "2026-01-05"
    assert daily_run_key(at(5, 21), config) is None  # 00:00 Moscow, 06.01
    assert daily_run_key(at(5, 20, 59), config) == "2026-01-05"
