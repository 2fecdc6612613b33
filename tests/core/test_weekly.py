"""The weekly report (bot/reports/weekly.py) on a real database, SQLite and PostgreSQL: from
Monday 09:00 Moscow every active supervisor and admin gets last week's report (Monday to
Sunday, local dates) queued as /report's messages and its album; once a week across
instances, restarts and late starts.

The week reported is Monday 05.01 – Sunday 11.01.2026 (Moscow). Anna takes and converts a
web-form lead of Monday 10:00 (1 000 ₽); a Tilda lead comes at Sunday 23:59 and waits. A lead
of Sunday 04.01 23:59 and one of Monday 12.01 00:00 are outside that week. Sveta (supervisor,
no language known: Russian, the configured one) and Alla (admin, English) read it; Gleb, a
deactivated supervisor, and the managers Anna and Boris do not."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.common.render import render
from bot.config import AppConfig, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.leads.qualify import convert_lead
from bot.reports.album import Album
from bot.reports.weekly import run_weekly
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import JobRun, OutboxKind, OutboxMessage, Role, Staff

MONDAY_0859 = datetime(2026, 1, 12, 5, 59, tzinfo=UTC)  # 08:59 Moscow, Monday 12.01
MONDAY_0900 = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
SECTIONS = ["report_funnel", "report_sources", "report_managers", "report_reasons", "report_calls"]


async def _lead(sessions: SessionFactory, moment: datetime, source: str, phone: str) -> int:
    async with sessions() as session:
        lead = LeadInput(source=source, phone=phone, name="Client")
        [result] = await intake_leads(session, [lead], moment)
    return result.lead_id


async def _the_week(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], clock: ManualClock
) -> None:
    await _lead(sessions, datetime(2026, 1, 4, 20, 59, tzinfo=UTC), "web_form", "+79010000001")
    deal = await _lead(sessions, datetime(2026, 1, 5, 7, tzinfo=UTC), "web_form", "+79010000002")
    async with sessions() as session:
        moment = datetime(2026, 1, 5, 7, 3, tzinfo=UTC)
        assert (await take_lead(session, deal, staff["anna"], moment)).ok
        answers = {"service": "tour", "amount": Decimal("1000")}
        assert (await convert_lead(session, deal, staff["anna"], answers, moment, config)).ok
    await _lead(sessions, datetime(2026, 1, 11, 20, 59, tzinfo=UTC), "tilda", "+79010000003")
    await _lead(sessions, datetime(2026, 1, 11, 21, 0, tzinfo=UTC), "web_form", "+79010000004")
    async with sessions() as session:
        alla = await add_staff(session, 1004, Role.ADMIN, "Alla", clock.now())
        alla.language = "en"
        gleb = await add_staff(session, 1005, Role.SUPERVISOR, "Gleb", clock.now())
        gleb.is_active = False
        await session.commit()


async def _rows(sessions: SessionFactory) -> list[OutboxMessage]:
    """What was queued for people rather than about a lead (not the leads' cards)."""
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.lead_id.is_(None)).order_by(OutboxMessage.id)
        )
        return list(found.all())


def _what(rows: list[OutboxMessage]) -> list[tuple[int | None, str]]:
    return [
        (row.chat_id, row.payload["template"] if row.kind == OutboxKind.TEXT else row.kind)
        for row in rows
    ]


async def test_monday_at_nine_supervisors_and_admins_get_last_weeks_sections_and_album(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _the_week(sessions, config, staff, clock)
    async with sessions() as session:
        assert await run_weekly(session, MONDAY_0859, config) is None  # not yet
    assert await _rows(sessions) == []

    async with sessions() as session:
        ran = await run_weekly(session, MONDAY_0900, config)

    assert ran is not None
    assert (ran.run_key, ran.first, ran.last) == ("2026-W03", "2026-01-05", "2026-01-11")
    assert (ran.readers, ran.messages) == (2, 12)
    rows = await _rows(sessions)
    # each reader: the five sections /report shows, then the album; no manager, not Gleb
    assert _what(rows) == [
        *[(1003, name) for name in SECTIONS],
        (1003, OutboxKind.CHARTS),
        *[(1004, name) for name in SECTIONS],
        (1004, OutboxKind.CHARTS),
    ]
    # every row keeps the language its words were chosen in
    assert [row.payload["locale"] for row in rows] == ["ru"] * 6 + ["en"] * 6
    sveta_funnel = render("report_funnel.html.j2", "ru", **rows[0].payload["context"])
    assert "Прошлая неделя, 05.01 – 11.01" in sveta_funnel
    assert "получено: 2" in sveta_funnel and "→ сделок: 1 · 50%" in sveta_funnel
    assert "1\u202f000 ₽" in sveta_funnel
    alla_funnel = render("report_funnel.html.j2", "en", **rows[6].payload["context"])
    assert "Last week, 5 Jan – 11 Jan" in alla_funnel and "received: 2" in alla_funnel
    alla_sources = render("report_sources.html.j2", "en", **rows[7].payload["context"])
    assert "website form" in alla_sources and "Tilda form" in alla_sources
    # the album: the four charts' numbers, read back from the row as they were written
    album = Album.of_payload(rows[5].payload)
    assert album.charts == ("funnel", "daily", "take_time", "arrivals")
    assert album.funnel == (2, 1, 1, 1, 1)  # received, taken, reached, qualified, deals
    assert album.days == tuple(date(2026, 1, day) for day in range(5, 12))
    assert album.by_source == {"web_form": [1, 0, 0, 0, 0, 0, 0], "tilda": [0] * 6 + [1]}
    assert album.take is not None and album.take.median == 3.0  # taken in 3 minutes
    assert album.grid[0][10] == 1 and album.grid[6][23] == 1  # Monday 10:00, Sunday 23:00
    assert rows[11].payload["locale"] == "en"

    # the same minute again, or later that week (a restart: new sessions): nothing more
    for moment in (MONDAY_0900, datetime(2026, 1, 18, 20, 59, tzinfo=UTC)):  # Sun 23:59
        async with sessions() as session:
            assert await run_weekly(session, moment, config) is None
    assert len(await _rows(sessions)) == 12
    async with sessions() as session:
        assert (await session.scalars(select(JobRun.run_key))).all() == ["2026-W03"]

    # the next Monday: before nine nothing, at nine the week of 12.01 – 18.01
    async with sessions() as session:
        assert await run_weekly(session, datetime(2026, 1, 19, 5, 59, tzinfo=UTC), config) is None
    async with sessions() as session:
        again = await run_weekly(session, datetime(2026, 1, 19, 6, 0, tzinfo=UTC), config)
    assert again is not None and (again.run_key, again.first) == ("2026-W04", "2026-01-12")
    assert len(await _rows(sessions)) == 24


async def test_an_instance_down_on_monday_sends_it_on_wednesday_for_the_same_week(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _the_week(sessions, config, staff, clock)
    wednesday = datetime(2026, 1, 14, 12, tzinfo=UTC)  # 15:00 Moscow
    async with sessions() as session:
        ran = await run_weekly(session, wednesday, config)
    assert ran is not None
    assert (ran.run_key, ran.first, ran.last) == ("2026-W03", "2026-01-05", "2026-01-11")


async def test_three_instances_at_once_queue_the_report_once(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    await _the_week(sessions, config, staff, clock)

    async def instance() -> object:
        async with sessions() as session:
            return await run_weekly(session, MONDAY_0900, config)

    runs = await asyncio.gather(*(instance() for _ in range(3)))
    assert sum(run is not None for run in runs) == 1
    rows = await _rows(sessions)
    assert [chat for chat, _ in _what(rows)] == [1003] * 6 + [1004] * 6


async def test_a_week_without_leads_is_one_message_each_and_no_album(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        ran = await run_weekly(session, MONDAY_0900, config)
    assert ran is not None and ran.messages == 1  # Sveta only: the sole supervisor
    [row] = await _rows(sessions)
    assert (row.chat_id, row.payload["template"]) == (1003, "report_empty")
    shown = render("report_empty.html.j2", "ru", **row.payload["context"])
    assert "Прошлая неделя, 05.01 – 11.01" in shown and "лидов не создано" in shown


async def test_switched_off_it_never_runs(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    off = load_app_config(overrides={"reports": {"weekly_at": "off"}})
    async with sessions() as session:
        assert await run_weekly(session, MONDAY_0900, off) is None
    assert await _rows(sessions) == []
