"""The reports API as another system meets it: GET /api/v1/reports/summary with API_TOKEN,
and what it answers without it, with the intake's token, or with bad parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import aiohttp
import pytest

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.leads.qualify import convert_lead
from bot.reports.spend import record_spend
from bot.reports.summary import report_summary, summary_json
from handlers.web.schemas.reports import SummaryAnswer
from storage.db import SessionFactory
from storage.models import Staff
from tests.harness import ANNA, INTAKE_TOKEN, TOKEN, running_app

API_TOKEN = "reports-secret-for-tests"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
URL = "/api/v1/reports/summary"


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN)
    await emu.start()
    emu.add_user(ANNA, "Anna")
    yield emu
    await emu.stop()


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(emulator, database_url, clock, api_token=API_TOKEN) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {INTAKE_TOKEN}"},
        {"Authorization": API_TOKEN},  # not a Bearer header
    ],
    ids=["none", "wrong", "intake-token", "no-bearer"],
)
async def test_without_the_api_token_it_is_401(
    http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """No token, a wrong one, or the web forms' INTAKE_TOKEN: 401, no numbers."""
    async with http.get(
        URL, params={"from": "2026-01-05", "to": "2026-01-06"}, headers=headers
    ) as r:
        assert r.status == 401
        assert await r.json() == {"error": "missing or wrong token", "field": None}


async def test_api_token_in_the_url_is_not_enough(http: aiohttp.ClientSession) -> None:
    """A reading token goes in the header only (a URL ends up in logs): ?token= is 401."""
    params = {"from": "2026-01-05", "to": "2026-01-06", "token": API_TOKEN}
    async with http.get(URL, params=params) as response:
        assert response.status == 401


async def test_while_api_token_is_unset_it_is_503(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """With API_TOKEN empty the reports API is off: 503 saying so, whatever is sent."""
    async with running_app(emulator, database_url, clock) as application:
        base = f"http://127.0.0.1:{application.http_port}"
        async with aiohttp.ClientSession(base_url=base) as http:
            params = {"from": "2026-01-05", "to": "2026-01-06"}
            async with http.get(URL, params=params, headers=AUTH) as response:
                assert response.status == 503
                assert "API_TOKEN" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2026-01-06"}, "from"),
        ({"from": "2026-01-05"}, "to"),
        ({"from": "05.01.2026", "to": "2026-01-06"}, "from"),
        ({"from": "2026-01-05", "to": "2026-02-30"}, "to"),
        ({"from": "20260105", "to": "2026-01-06"}, "from"),
        ({"from": "0001-01-01", "to": "2026-01-06"}, "from"),
        ({"from": "2026-01-07", "to": "2026-01-06"}, "from"),
        ({"from": "2026-01-05", "to": "2026-01-06", "manager": "anna"}, "manager"),
        ({"from": "2026-01-05", "to": "2026-01-06", "manager": "1" * 30}, "manager"),
    ],
    ids=[
        "no-from",
        "no-to",
        "dotted",
        "feb-30",
        "basic-form",
        "year-1",
        "reversed",
        "name",
        "huge",
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    http: aiohttp.ClientSession, params: dict[str, str], field: str
) -> None:
    """A missing or malformed date, from after to, a manager that is not a Telegram id: 422
    with the parameter in `field`."""
    async with http.get(URL, params=params, headers=AUTH) as response:
        assert response.status == 422
        body = await response.json()
        assert body["field"] == field and body["error"]


async def test_answers_the_same_numbers_as_the_report(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    app: Application,
    staff: dict[str, Staff],
) -> None:
    """Two leads on Monday 05.01 (Moscow), one a deal of 54 700.50 by Anna: the API's JSON
    is report_summary's, amounts as "54700.50", the period with its time zone; source= and
    manager= narrow it the same way."""
    anna = staff["anna"]
    created = datetime(2026, 1, 5, 7, tzinfo=UTC)  # 10:00 Moscow
    async with sessions() as session:
        items = [
            LeadInput(source="web_form", phone="+79000000001", name="Ivan"),
            LeadInput(source="tilda", phone="+79000000002"),
        ]
        first, _ = await intake_leads(session, items, created)
        taken = datetime(2026, 1, 5, 7, 1, tzinfo=UTC)
        assert (await take_lead(session, first.lead_id, anna, taken)).ok
        answers = {"service": "tour", "amount": Decimal("54700.50")}
        closed = datetime(2026, 1, 5, 8, tzinfo=UTC)
        assert (await convert_lead(session, first.lead_id, anna, answers, closed, app.config)).ok

    period = (date(2026, 1, 5), date(2026, 1, 11))
    async with http.get(URL, params={"from": "2026-01-05", "to": "2026-01-11"}, headers=AUTH) as r:
        assert r.status == 200
        answer = await r.json()
    async with sessions() as session:
        now = app.clock.now()  # the API reads "overdue now" at its request's moment
        expected = summary_json(await report_summary(session, period, app.config, now=now))
    assert answer == expected
    # the answer is what the OpenAPI document's SummaryAnswer describes, field for field
    assert SummaryAnswer.model_validate(answer).model_dump(mode="json", by_alias=True) == answer
    assert answer["period"] == {
        "from": "2026-01-05",
        "to": "2026-01-11",
        "timezone": "Europe/Moscow",
    }
    assert answer["funnel"]["received"] == 2 and answer["funnel"]["amount"] == "54700.50"
    [row] = [row for row in answer["by_manager"] if row["telegram_id"] == ANNA]
    assert (row["taken"], row["converted"], row["take_p50_s"]) == (1, 1, 60)

    params = {"from": "2026-01-05", "to": "2026-01-11", "source": "tilda", "manager": str(ANNA)}
    async with http.get(URL, params=params, headers=AUTH) as r:
        narrowed = await r.json()
    async with sessions() as session:
        summary = await report_summary(
            session, period, app.config, source="tilda", manager_telegram_id=ANNA, now=now
        )
    assert narrowed == summary_json(summary)
    assert narrowed["funnel"]["received"] == 0  # the tilda lead is nobody's


async def test_spend_costs_and_campaigns_in_the_answer(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    app: Application,
    staff: dict[str, Staff],
) -> None:
    """January's web_form spend of 31 000 (by /spend) over 05.01–11.01 (7 of 31 days) is
    7 000.00: two web_form leads, 3 500.00 a lead, no deal (null); telegram has no spend
    (nulls); for one manager there is no spend at all.
    by_campaign: the yandex/autumn lead, the deep-link lead (tag) and one without either."""
    created = datetime(2026, 1, 5, 7, tzinfo=UTC)
    async with sessions() as session:
        items = [
            LeadInput(
                source="web_form",
                phone="+79000000001",
                utm={"utm_source": "yandex", "utm_campaign": "autumn"},
            ),
            LeadInput(source="web_form", phone="+79000000002"),
            LeadInput(source="telegram", telegram_id=5001, message="hi", utm={"start": "promo"}),
        ]
        await intake_leads(session, items, created)
        result = await record_spend(
            session, "web_form", Decimal("31000"), date(2026, 1, 1), staff["sveta"], created
        )
        assert result.ok
    params = {"from": "2026-01-05", "to": "2026-01-11"}
    async with http.get(URL, params=params, headers=AUTH) as r:
        assert r.status == 200
        answer = await r.json()
    rows = {row["source"]: row for row in answer["by_source"]}
    costs = ("received", "spend", "cost_per_lead", "cost_per_deal")
    assert [rows["web_form"][key] for key in costs] == [2, "7000.00", "3500.00", None]
    assert [rows["telegram"][key] for key in costs] == [1, None, None, None]
    assert answer["by_campaign"] == [
        {
            "utm_source": None,
            "utm_campaign": None,
            "tag": None,
            "received": 1,
            "junk": 0,
            "converted": 0,
            "amount": "0.00",
        },
        {
            "utm_source": None,
            "utm_campaign": None,
            "tag": "promo",
            "received": 1,
            "junk": 0,
            "converted": 0,
            "amount": "0.00",
        },
        {
            "utm_source": "yandex",
            "utm_campaign": "autumn",
            "tag": None,
            "received": 1,
            "junk": 0,
            "converted": 0,
            "amount": "0.00",
        },
    ]
    manager = {**params, "manager": str(ANNA)}
    async with http.get(URL, params=manager, headers=AUTH) as r:
        assert (await r.json())["by_source"] == []  # one manager's report: no spend rows
