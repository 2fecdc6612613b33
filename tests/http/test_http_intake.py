"""The HTTP intake as a website form or an API client meets it: answers and errors."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Lead, Staff
from tests.harness import ANNA, INTAKE_TOKEN, TOKEN, running_app


@pytest.fixture
async def app(
    database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    emulator = TelegramEmulator(token=TOKEN)
    await emulator.start()
    emulator.add_user(ANNA, "Anna")
    async with running_app(emulator, database_url, clock) as application:
        yield application
    await emulator.stop()


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


AUTH = {"Authorization": f"Bearer {INTAKE_TOKEN}"}


async def _leads(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Lead)) or 0)


async def test_form_builder_posts_urlencoded_with_the_token_in_the_url(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    async with http.post(
        f"/api/v1/leads?token={INTAKE_TOKEN}",
        data={
            "name": "Ольга",
            "phone": "8 900 765 43 21",
            "formid": "form-7",
            "utm_medium": "cpc",
            "token": INTAKE_TOKEN,  # echoed by the form builder: dropped, not an extra field
        },
    ) as response:
        assert response.status == 201
        answer = await response.json()
        # a web-form client can be reached in Telegram: the link for the thank-you page
        assert re.fullmatch(r"https://t\.me/\w+\?start=c-[\w-]{24}", answer.pop("telegram_link"))
        assert answer == {"id": 1, "status": "new", "duplicate_of": None}
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None
    assert (lead.name, lead.phone, lead.source) == ("Ольга", "+79007654321", "web_form")
    assert lead.utm == {"utm_medium": "cpc"} and lead.extra == {"formid": "form-7"}


async def test_same_external_id_again_answers_200_with_the_same_lead(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    lead = {"email": "a@b.ru", "source": "tilda", "external_id": "req-1"}
    async with http.post("/api/v1/leads", json=lead, headers=AUTH) as first:
        assert first.status == 201
        first_id = (await first.json())["id"]
    async with http.post("/api/v1/leads", json=lead, headers=AUTH) as again:
        assert again.status == 200
        answer = await again.json()
        assert answer.pop("telegram_link").startswith("https://t.me/")  # a new one-time token
        assert answer == {"id": first_id, "status": "new", "duplicate_of": None}
    assert await _leads(sessions) == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "error", "field"),
    [
        ("{not json", {"Content-Type": "application/json"}, 400, "malformed JSON", None),
        ('["a list"]', {"Content-Type": "application/json"}, 400, "must be an object", None),
        ("name=x", {"Content-Type": "text/plain"}, 415, "application/json", None),
        (
            json.dumps({"name": "No contact"}),
            {"Content-Type": "application/json"},
            422,
            "needs a phone, an e-mail or a message",
            "phone",
        ),
        (
            json.dumps({"phone": "call me maybe"}),
            {"Content-Type": "application/json"},
            422,
            "phone",
            "phone",
        ),
        (
            json.dumps({"email": "not-an-address"}),
            {"Content-Type": "application/json"},
            422,
            "e-mail",
            "email",
        ),
        (  # an echoed token is text; a list there is not a form's
            json.dumps({"phone": "+79001234567", "token": ["x"]}),
            {"Content-Type": "application/json"},
            422,
            "token",
            "token",
        ),
        (
            json.dumps({"message": "x" * 70_000}),
            {"Content-Type": "application/json"},
            413,
            "larger than 65536",
            None,
        ),
    ],
)
async def test_bad_requests_get_a_clear_json_error_and_store_nothing(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    body: str,
    headers: dict[str, str],
    status: int,
    error: str,
    field: str | None,
) -> None:
    async with http.post("/api/v1/leads", data=body, headers={**AUTH, **headers}) as response:
        assert response.status == status
        answer = await response.json()
    assert error in answer["error"] and answer["field"] == field
    assert await _leads(sessions) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {INTAKE_TOKEN}"}],
)
async def test_missing_or_wrong_token_is_401(
    http: aiohttp.ClientSession, sessions: SessionFactory, headers: dict[str, str]
) -> None:
    async with http.post(
        "/api/v1/leads", json={"phone": "+79001234567"}, headers=headers
    ) as response:
        assert response.status == 401
        assert await response.json() == {"error": "missing or wrong token", "field": None}
    assert await _leads(sessions) == 0


async def test_healthz_answers_when_the_database_does(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
