"""The chat's numbers are the API's: Sveta's /report for the last 7 days, read off her phone
(the funnel, the channels, the managers), equals what GET /api/v1/reports/summary answers for
the same dates at the same moment. The history is test_e2e_report's three leads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.models import Staff
from tests.app.test_e2e_report import ARRIVED, _sections, _three_leads
from tests.harness import SVETA, Phone, running_app, unpaced_config

API_TOKEN = "reports-secret-for-tests"


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(
        emulator, database_url, clock, config=unpaced_config(), api_token=API_TOKEN
    ) as application:
        yield application


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return int(found.group(1))


def _amount(text: str) -> Decimal:
    """ "54 700.50 ₽" (a narrow no-break space between thousands) as a Decimal."""
    found = re.search(r"💰 Сделок: \d+ · ([\d\u202f]+\.\d\d)", text)
    assert found, text
    return Decimal(found.group(1).replace("\u202f", ""))


async def test_the_chat_and_the_api_give_the_same_numbers(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff], clock: ManualClock
) -> None:
    await _three_leads(app, staff)
    clock.set(ARRIVED.replace(hour=9))  # 12:00 Moscow
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "Отчёт")
    before = len(sveta.messages())
    await sveta.press(menu, "rep:d7:all")
    funnel, sources, managers, _reasons, _calls = await _sections(emulator, sveta, before, 5)
    params = {"from": "2025-12-30", "to": "2026-01-05"}
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as http,
        http.get("/api/v1/reports/summary", params=params, headers=headers) as answer,
    ):
        assert answer.status == 200
        api: dict[str, Any] = await answer.json()
    numbers = api["funnel"]
    assert {
        "received": _number(r"получено: (\d+)", funnel),
        "taken": _number(r"взято: (\d+)", funnel),
        "contacted": _number(r"дозвонились: (\d+)", funnel),
        "qualified": _number(r"квалифицировано: (\d+)", funnel),
        "converted": _number(r"сделок: (\d+)", funnel),
        "junk": _number(r"Мусор: (\d+)", funnel),
        "refused": _number(r"Отказы: (\d+)", funnel),
        "open": _number(r"Ещё в работе: (\d+)", funnel),
    } == {
        key: numbers[key]
        for key in (
            "received",
            "taken",
            "contacted",
            "qualified",
            "converted",
            "junk",
            "refused",
            "open",
        )
    }
    assert numbers["received"] == 3  # the history is there: not two empty reports agreeing
    assert _amount(funnel) == Decimal(numbers["amount"])
    for row in api["by_source"]:
        name = {"web_form": "заявка с сайта", "tilda": "Tilda"}[row["source"]]
        line = next(line for line in sources.splitlines() if f"{name}: " in line)
        assert _number(r"получено (\d+)", line) == row["received"]
        assert _number(r"сделок (\d+)", line) == row["converted"]
    for row in api["by_manager"]:
        line = next(line for line in managers.splitlines() if f"{row['name']}: " in line)
        assert _number(r"взято (\d+)", line) == row["taken"]
        assert _number(r"дозвонились (\d+)", line) == row["contacted"]
        assert _number(r"сделок (\d+)", line) == row["converted"]
