"""Advertising spend (bot/reports/spend.py) and the report's costs on a real database, SQLite
and PostgreSQL, every number checked by hand. The team works in Moscow (UTC+3).

The period is 20.11.2026–09.12.2026 (20 local days: 11 of November's 30, 9 of December's 31).
Spend entered:
  vk_ads   November 15 000, December 31 000   -> 15 000 × 11/30 + 31 000 × 9/31 = 5 500 + 9 000
           (October 99 999 and January 20 000: outside the period)             = 14 500.00
  tilda    November 10 000                    -> 10 000 × 11/30 = 3 666.666… = 3 666.67
  call     December 5 000 (no leads)          -> 5 000 × 9/31 = 1 451.612… = 1 451.61
Leads (local times):
  vk_ads   19.11 23:59:59 (before), 20.11 00:00 (Anna converts it for 30 000), 25.11 12:00
           (junk), 01.12 10:00, 09.12 23:59:59; 10.12 00:00 (after)
  tilda    21.11, 22.11, 23.11: none converted
  web_form 02.12: no spend"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead
from bot.reports.spend import (
    SpendProblem,
    period_spend,
    record_spend,
    spend_list,
)
from bot.reports.summary import SourceRow, report_summary, summary_json
from storage.db import SessionFactory
from storage.models import AdSpend, Staff

PERIOD = (date(2026, 11, 20), date(2026, 12, 9))
NOW = datetime(2026, 12, 10, 9, tzinfo=UTC)
MOSCOW = timedelta(hours=3)
ANNA = 1001


def local(day: int, month: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Moscow wall-clock moment of 2026 as UTC."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC) - MOSCOW


async def _lead(sessions: SessionFactory, moment: datetime, source: str, n: int) -> int:
    async with sessions() as session:
        item = LeadInput(source=source, phone=f"+7900000{n:04d}", name="Client")
        [result] = await intake_leads(session, [item], moment)
    return result.lead_id


async def _spend(
    sessions: SessionFactory, staff: Staff, source: str, amount: str, month: date
) -> None:
    async with sessions() as session:
        result = await record_spend(session, source, Decimal(amount), month, staff, NOW)
        assert result.ok, result.problem


@pytest.fixture
async def history(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff]
) -> dict[str, int]:
    anna, sveta = staff["anna"], staff["sveta"]
    ids = {
        "before": await _lead(sessions, local(19, 11, 23, 59, 59), "vk_ads", 1),
        "deal": await _lead(sessions, local(20, 11), "vk_ads", 2),
        "junk": await _lead(sessions, local(25, 11, 12), "vk_ads", 3),
        "open": await _lead(sessions, local(1, 12, 10), "vk_ads", 4),
        "last": await _lead(sessions, local(9, 12, 23, 59, 59), "vk_ads", 5),
        "after": await _lead(sessions, local(10, 12), "vk_ads", 6),
    }
    for n in range(3):
        await _lead(sessions, local(21 + n, 11, 12), "tilda", 10 + n)
    await _lead(sessions, local(2, 12, 12), "web_form", 20)
    async with sessions() as session:
        assert (await take_lead(session, ids["deal"], anna, local(20, 11, 9))).ok
        answers = {"service": "tour", "amount": Decimal("30000")}
        assert (
            await convert_lead(session, ids["deal"], anna, answers, local(20, 11, 10), config)
        ).ok
        junked = await close_lead(
            session, ids["junk"], anna, Action.JUNK, "spam", None, local(25, 11, 13), config
        )
        assert junked.ok
    await _spend(sessions, sveta, "vk_ads", "99999", date(2026, 10, 1))
    await _spend(sessions, sveta, "vk_ads", "15000", date(2026, 11, 1))
    await _spend(sessions, sveta, "vk_ads", "31000", date(2026, 12, 1))
    await _spend(sessions, sveta, "vk_ads", "20000", date(2027, 1, 1))
    await _spend(sessions, sveta, "tilda", "10000", date(2026, 11, 1))
    await _spend(sessions, sveta, "call", "5000", date(2026, 12, 1))
    return ids


async def test_a_period_over_two_months_takes_a_share_of_each(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """vk_ads: 14 500.00 over its 4 leads of the period = 3 625.00 a lead, one deal: 14 500.00
    a deal. tilda: 3 666.67 over 3 leads = 1 222.22, no deal: no cost per deal. web_form: no
    spend, no costs. call: spend and no lead, a row of its own after the others."""
    async with sessions() as session:
        assert await period_spend(session, *PERIOD) == {
            "vk_ads": Decimal("14500.00"),
            "tilda": Decimal("3666.67"),
            "call": Decimal("1451.61"),
        }
        summary = await report_summary(session, PERIOD, config)
    assert summary.by_source == [
        SourceRow(
            "vk_ads",
            4,
            1,
            1,
            0,
            1,
            Decimal("30000.00"),
            spend=Decimal("14500.00"),
            cost_per_lead=Decimal("3625.00"),
            cost_per_deal=Decimal("14500.00"),
        ),
        SourceRow(
            "tilda",
            3,
            0,
            0,
            0,
            0,
            Decimal("0.00"),
            spend=Decimal("3666.67"),
            cost_per_lead=Decimal("1222.22"),
            cost_per_deal=None,
        ),
        SourceRow("web_form", 1, 0, 0, 0, 0, Decimal("0.00")),
        SourceRow("call", 0, 0, 0, 0, 0, Decimal("0.00"), spend=Decimal("1451.61")),
    ]
    assert summary.funnel.received == 8  # the spend-only row adds no lead


async def test_a_period_within_one_month_takes_its_days_share(
    sessions: SessionFactory, history: dict[str, int]
) -> None:
    """All of November: 15 000; its first day only: 15 000 / 30 = 500; one December day:
    31 000 / 31 = 1 000; a period with no spend month: nothing."""
    async with sessions() as session:
        november = await period_spend(session, date(2026, 11, 1), date(2026, 11, 30))
        first_day = await period_spend(session, date(2026, 11, 1), date(2026, 11, 1), "vk_ads")
        december_day = await period_spend(session, date(2026, 12, 31), date(2026, 12, 31))
        none = await period_spend(session, date(2025, 1, 1), date(2025, 12, 31))
    assert november == {"vk_ads": Decimal("15000.00"), "tilda": Decimal("10000.00")}
    assert first_day == {"vk_ads": Decimal("500.00")}
    assert december_day == {"vk_ads": Decimal("1000.00"), "call": Decimal("161.29")}
    assert none == {}


async def test_filters_keep_the_source_and_drop_spend_for_one_manager(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """source=vk_ads: its row alone, priced; source=call: only its spend row; manager=Anna:
    her one lead, no spend and no costs (the money bought the source's leads, not hers), and
    no spend-only rows (the lead she junked untaken is not hers)."""
    async with sessions() as session:
        vk = await report_summary(session, PERIOD, config, source="vk_ads")
        call = await report_summary(session, PERIOD, config, source="call")
        anna = await report_summary(session, PERIOD, config, manager_telegram_id=ANNA)
    [row] = vk.by_source
    assert (row.source, row.received, row.spend, row.cost_per_lead) == (
        "vk_ads",
        4,
        Decimal("14500.00"),
        Decimal("3625.00"),
    )
    assert call.by_source == [
        SourceRow("call", 0, 0, 0, 0, 0, Decimal("0.00"), spend=Decimal("1451.61"))
    ]
    assert call.funnel.received == 0
    assert anna.by_source == [SourceRow("vk_ads", 1, 1, 1, 0, 0, Decimal("30000.00"))]


async def test_json_carries_spend_and_costs_as_strings(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The API's by_source: "14500.00", "3625.00"; null where nothing divides."""
    async with sessions() as session:
        answer = summary_json(await report_summary(session, PERIOD, config))
    rows = {row["source"]: row for row in answer["by_source"]}
    costs = ("spend", "cost_per_lead", "cost_per_deal")
    assert [rows["vk_ads"][key] for key in costs] == ["14500.00", "3625.00", "14500.00"]
    assert [rows["tilda"][key] for key in costs] == ["3666.67", "1222.22", None]
    assert [rows["web_form"][key] for key in costs] == [None, None, None]
    assert [rows["call"][key] for key in costs] == ["1451.61", None, None]
    assert rows["call"]["received"] == 0


async def test_a_second_entry_replaces_the_first(
    sessions: SessionFactory, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """vk_ads November again, by an admin, at 18 000.50: the answer names the 15 000 it
    replaced; one row is left, with the new amount, person and time."""
    async with sessions() as session:
        admin = Staff(telegram_id=1009, name="Alex", role="admin", is_active=True, created_at=NOW)
        session.add(admin)
        await session.commit()
        later = NOW + timedelta(hours=1)
        result = await record_spend(
            session, "vk_ads", Decimal("18000.50"), date(2026, 11, 17), admin, later
        )
        assert result.ok
        assert (result.entry.month, result.entry.amount) == (date(2026, 11, 1), Decimal("18000.50"))
        assert result.replaced == Decimal("15000.00")
        rows = (
            await session.scalars(
                select(AdSpend).where(
                    AdSpend.source == "vk_ads", AdSpend.month == date(2026, 11, 1)
                )
            )
        ).all()
        assert [(Decimal(r.amount), r.entered_by_id, r.entered_at) for r in rows] == [
            (Decimal("18000.50"), admin.id, later)
        ]
        first = await record_spend(
            session, "tilda", Decimal("1"), date(2026, 9, 1), staff["sveta"], NOW
        )
        assert first.ok and first.replaced is None


async def test_a_manager_and_an_unknown_source_record_nothing(
    sessions: SessionFactory, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """Anna (a manager) is refused; "vk_adz" (no lead ever came from it) is refused with the
    sources of the last 30 days to pick from; "cf7", one of leadbot's own channels, is taken
    though no lead came from it yet."""
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(AdSpend))
        refused = await record_spend(
            session, "vk_ads", Decimal("1"), date(2026, 12, 1), staff["anna"], NOW
        )
        assert refused.problem is SpendProblem.NOT_ALLOWED
        typo = await record_spend(
            session, "vk_adz", Decimal("1"), date(2026, 12, 1), staff["sveta"], NOW
        )
        assert typo.problem is SpendProblem.UNKNOWN_SOURCE
        # leads since 10.11 12:00 (30 days back): vk_ads 6, tilda 3, web_form 1
        assert typo.recent_sources == ("vk_ads", "tilda", "web_form")
        assert await session.scalar(select(func.count()).select_from(AdSpend)) == before
        channel = await record_spend(
            session, "cf7", Decimal("700"), date(2026, 12, 1), staff["sveta"], NOW
        )
        assert channel.ok


async def test_the_list_shows_this_and_last_month(
    sessions: SessionFactory, history: dict[str, int]
) -> None:
    """November and December: newest month first, then by source, with who entered each."""
    async with sessions() as session:
        lines = await spend_list(session, date(2026, 11, 1), date(2026, 12, 10))
    assert [(line.month, line.source, line.amount, line.entered_by) for line in lines] == [
        (date(2026, 12, 1), "call", Decimal("5000.00"), "Sveta"),
        (date(2026, 12, 1), "vk_ads", Decimal("31000.00"), "Sveta"),
        (date(2026, 11, 1), "tilda", Decimal("10000.00"), "Sveta"),
        (date(2026, 11, 1), "vk_ads", Decimal("15000.00"), "Sveta"),
    ]


async def test_an_entry_made_meanwhile_is_replaced_not_doubled(
    sessions: SessionFactory, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """Two supervisors enter tilda for February at once: Sveta's /spend finds no row, and
    before it commits another entry of 100 is committed. Her insert meets the unique (source,
    month) and is tried again as a replacement: one row is left, with her 250, and her answer
    names the 100 it replaced."""
    february = date(2027, 2, 1)
    async with sessions() as session:
        real_scalar = session.scalar
        raced = []

        async def scalar_then_race(statement: Any, *args: Any, **kwargs: Any) -> Any:
            found = await real_scalar(statement, *args, **kwargs)
            if not raced and "ad_spend" in str(statement) and found is None:
                raced.append(True)
                async with sessions() as other:
                    other.add(AdSpend(source="tilda", month=february, amount=100, entered_at=NOW))
                    await other.commit()
            return found

        session.scalar = scalar_then_race  # type: ignore[method-assign]
        result = await record_spend(session, "tilda", Decimal("250"), february, staff["sveta"], NOW)
    assert raced and result.ok and result.replaced == Decimal("100.00")
    async with sessions() as session:
        rows = (await session.scalars(select(AdSpend).where(AdSpend.month == february))).all()
    assert [(r.source, Decimal(r.amount), r.entered_by_id) for r in rows] == [
        ("tilda", Decimal("250.00"), staff["sveta"].id)
    ]
