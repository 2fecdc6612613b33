"""The report's leads by campaign (bot/reports/campaigns.py) on SQLite and PostgreSQL: the
`utm_source`/`utm_campaign` a form sent and the bot's deep-link tag, read out of the lead's
JSON by the database and grouped there.

Leads of Monday 05.01.2026 (Moscow):
  yandex / autumn          3 leads (one " autumn " with blanks): a deal of 1 000, a junk
  yandex / (no campaign)   1
  vk / 5                   1 (the campaign sent as a number)
  <b>x</b> / a&b           1 (markup kept as text)
  deep link ?start=promo   2 (clients who opened t.me/<bot>?start=promo and wrote)
  nothing                  2"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.client_chat import client_wrote
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead
from bot.reports.campaigns import CampaignRow
from bot.reports.summary import report_summary, summary_json
from storage.db import SessionFactory
from storage.models import Staff

DAY = (date(2026, 1, 5), date(2026, 1, 5))
ARRIVED = datetime(2026, 1, 5, 7, tzinfo=UTC)  # 10:00 Moscow


@pytest.fixture
async def leads(sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff]) -> list[int]:
    utms: list[dict[str, Any]] = [
        {"utm_source": "yandex", "utm_campaign": "autumn"},
        {"utm_source": "yandex", "utm_campaign": " autumn "},
        {"utm_source": "yandex", "utm_campaign": "autumn", "utm_medium": "cpc"},
        {"utm_source": "yandex"},
        {"utm_source": "vk", "utm_campaign": 5},
        {"utm_source": "<b>x</b>", "utm_campaign": "a&b"},
        {},
        {},
    ]
    items = [
        LeadInput(source="web_form", phone=f"+7900000{n:04d}", name="Client", utm=utm)
        for n, utm in enumerate(utms)
    ]
    async with sessions() as session:
        results = await intake_leads(session, items, ARRIVED)
    for n in range(2):
        async with sessions() as session:
            await client_wrote(session, 5000 + n, "Client", "hello", ARRIVED, config, None, "promo")
    anna = staff["anna"]
    deal, junk = results[0].lead_id, results[1].lead_id
    async with sessions() as session:
        assert (await take_lead(session, deal, anna, ARRIVED + timedelta(minutes=1))).ok
        answers = {"service": "tour", "amount": Decimal("1000")}
        done = ARRIVED + timedelta(minutes=5)
        assert (await convert_lead(session, deal, anna, answers, done, config)).ok
        closed = await close_lead(session, junk, anna, Action.JUNK, "spam", None, done, config)
        assert closed.ok
    return [result.lead_id for result in results]


async def test_leads_by_utm_and_deep_link_tag(
    sessions: SessionFactory, config: AppConfig, leads: list[int]
) -> None:
    """Most leads first; " autumn " is autumn; the number 5 reads "5"; leads with no campaign
    are one row of nulls; the deep link's tag is `tag`."""
    async with sessions() as session:
        summary = await report_summary(session, DAY, config)
    assert summary.by_campaign == [
        CampaignRow("yandex", "autumn", None, 3, 1, 1, Decimal("1000.00")),
        CampaignRow(None, None, None, 2),
        CampaignRow(None, None, "promo", 2),
        CampaignRow("<b>x</b>", "a&b", None, 1),
        CampaignRow("vk", "5", None, 1),
        CampaignRow("yandex", None, None, 1),
    ]
    assert [row.tagged for row in summary.by_campaign] == [True, False, True, True, True, True]


async def test_filters_narrow_the_campaigns_and_json_carries_them(
    sessions: SessionFactory, config: AppConfig, leads: list[int]
) -> None:
    """source=telegram: only the deep-link row; Anna's own: the deal she took (the junk she
    closed untaken is not hers). The API's by_campaign: amounts as strings, nulls for what is
    missing."""
    async with sessions() as session:
        telegram = await report_summary(session, DAY, config, source="telegram")
        anna = await report_summary(session, DAY, config, manager_telegram_id=1001)
        answer = summary_json(await report_summary(session, DAY, config))
    assert telegram.by_campaign == [CampaignRow(None, None, "promo", 2)]
    assert anna.by_campaign == [CampaignRow("yandex", "autumn", None, 1, 0, 1, Decimal("1000.00"))]
    assert answer["by_campaign"][0] == {
        "utm_source": "yandex",
        "utm_campaign": "autumn",
        "tag": None,
        "received": 3,
        "junk": 1,
        "converted": 1,
        "amount": "1000.00",
    }
    assert answer["by_campaign"][1] == {
        "utm_source": None,
        "utm_campaign": None,
        "tag": None,
        "received": 2,
        "junk": 0,
        "converted": 0,
        "amount": "0.00",
    }


async def test_an_empty_period_has_no_campaigns(
    sessions: SessionFactory, config: AppConfig, leads: list[int]
) -> None:
    async with sessions() as session:
        summary = await report_summary(session, (date(2026, 1, 6), date(2026, 1, 6)), config)
    assert summary.by_campaign == []
    assert summary_json(summary)["by_campaign"] == []
