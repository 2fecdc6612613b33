"""What the report's charts draw (bot/reports/chart_data.py) on a real database, SQLite and
PostgreSQL: leads placed on their local (Moscow, UTC+3) day, hour and weekday, even across
local midnight; every day of the period present; a manager's own leads only; take times.

Leads (local times): Sun 04.01 23:59 web_form (before the period); Mon 05.01 00:00 web_form,
Anna takes it at 00:10; Mon 05.01 02:30 tilda, Boris takes it at 02:35; Tue 06.01 23:59 tilda;
Wed 07.01 00:00 web_form (after the period)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.reports.chart_data import chart_data
from storage.db import SessionFactory
from storage.models import Staff

PERIOD = (date(2026, 1, 5), date(2026, 1, 6))
MONDAY, TUESDAY = 0, 1


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


async def _seed(sessions: SessionFactory, staff: dict[str, Staff]) -> None:
    plan = [
        ("web_form", moscow(4, 23, 59), None, None),
        ("web_form", moscow(5, 0), "anna", timedelta(minutes=10)),
        ("tilda", moscow(5, 2, 30), "boris", timedelta(minutes=5)),
        ("tilda", moscow(6, 23, 59), None, None),
        ("web_form", moscow(7, 0), None, None),
    ]
    async with sessions() as session:
        for n, (source, created, who, wait) in enumerate(plan):
            [made] = await intake_leads(
                session, [LeadInput(source=source, phone=f"+7900000000{n}")], created
            )
            if who is not None and wait is not None:
                assert (await take_lead(session, made.lead_id, staff[who], created + wait)).ok


async def test_leads_land_on_their_local_day_hour_and_weekday(
    sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig
) -> None:
    """Two days, each shown; Monday holds the 00:00 and 02:30 leads, Tuesday the 23:59 one;
    the leads just outside the period are not counted; take times 10 and 5 minutes."""
    await _seed(sessions, staff)
    async with sessions() as session:
        data = await chart_data(session, PERIOD, config)
    assert data.days == [date(2026, 1, 5), date(2026, 1, 6)]
    assert data.by_source == {"web_form": [1, 0], "tilda": [1, 1]}
    assert data.grid[MONDAY][0] == 1 and data.grid[MONDAY][2] == 1
    assert data.grid[TUESDAY][23] == 1
    assert sum(map(sum, data.grid)) == 3
    assert sorted(data.take_seconds) == [300.0, 600.0]


async def test_a_managers_own_leads_only(
    sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig
) -> None:
    """Anna's charts: only the lead she took (Monday 00:00, 10 minutes to take)."""
    await _seed(sessions, staff)
    async with sessions() as session:
        data = await chart_data(
            session, PERIOD, config, manager_telegram_id=staff["anna"].telegram_id
        )
    assert data.by_source == {"web_form": [1, 0]}
    assert sum(map(sum, data.grid)) == 1 and data.take_seconds == [600.0]
