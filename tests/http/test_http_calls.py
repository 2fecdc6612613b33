"""POST /api/v1/calls against the real running application: auth, refusals of bad input (never
a 500), idempotent retries, missed calls collapsing into one call-back task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import MISSED_CALL_TASK, Call, Lead, LeadEvent, Staff, Task
from tests.harness import INTAKE_TOKEN, running_app

AUTH = {"Authorization": f"Bearer {INTAKE_TOKEN}"}


def missed(call_id: str = "c-1", **more: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "direction": "in",
        "status": "missed",
        "from": "8 900 123-45-67",
        "to": "+7 495 000-00-00",
        "started_at": "2026-01-05T12:02:00+03:00",
        "duration": 0,
        **more,
    }


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(emulator, database_url, clock) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, body: Any, headers: dict[str, str] | None = AUTH, **kw: Any
) -> tuple[int, Any]:
    async with http.post("/api/v1/calls", json=body, headers=headers, **kw) as response:
        return response.status, await response.json()


async def _tasks(sessions: SessionFactory) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def _count(sessions: SessionFactory, model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_missed_call_opens_a_lead_and_a_call_back_task(
    http: aiohttp.ClientSession, sessions: SessionFactory, config: AppConfig
) -> None:
    status, body = await _post(http, missed())
    assert status == 201
    assert body == {
        "call_id": "c-1",
        "status": "missed",
        "recorded": True,
        "duplicate": False,
        "lead_id": 1,
        "task_id": 1,
        "lead_created": True,
        "task_completed": False,
    }
    async with sessions() as session:
        lead = await session.get(Lead, 1)
        call = await session.scalar(select(Call))
        events = list(await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id)))
    assert lead is not None and (lead.source, lead.phone, lead.status) == (
        "call",
        "+79001234567",
        "new",
    )
    assert call is not None and call.lead_id == 1 and call.raw["from"] == "8 900 123-45-67"
    assert events == ["created", "call"]
    [task] = await _tasks(sessions)
    assert (task.kind, task.count, task.done_at, task.alert_level) == (MISSED_CALL_TASK, 1, None, 0)
    assert task.due_at.isoformat() == "2026-01-05T09:02:00+00:00"
    assert task.data == {"phone": "+79001234567", "last_at": "2026-01-05T09:02:00+00:00"}
    assert task.alert_at is not None and task.alert_at > task.due_at


async def test_the_same_event_twice_is_recorded_once(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    first = await _post(http, missed())
    again = await _post(http, missed())
    assert first[0] == 201 and again[0] == 200
    assert again[1]["duplicate"] is True and again[1]["recorded"] is False
    assert (again[1]["lead_id"], again[1]["task_id"]) == (1, 1)
    [task] = await _tasks(sessions)
    assert task.count == 1
    assert await _count(sessions, Call) == 1 and await _count(sessions, Lead) == 1


async def test_two_missed_calls_from_one_number_are_one_task_counted_twice(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    await _post(http, missed("c-1"))
    status, body = await _post(
        http,
        missed(
            "c-2",
            status="busy",
            started_at="2026-01-05T09:10:00Z",
            **{"from": "+7 (900) 123 45 67"},
        ),
    )
    assert status == 201 and body["lead_created"] is False and body["task_id"] == 1
    [task] = await _tasks(sessions)
    assert task.count == 2 and task.data["last_at"] == "2026-01-05T09:10:00+00:00"
    assert await _count(sessions, Lead) == 1


async def test_an_answered_call_completes_the_task_and_a_list_is_accepted(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    answered = {
        "call_id": "c-9",
        "direction": "out",
        "status": "answered",
        "from": "101",
        "to": "+79001234567",
        "started_at": "2026-01-05T09:20:00Z",
        "duration": 75,
        "staff": "101",
    }
    status, body = await _post(http, [missed(), answered])
    assert status == 201 and [b["call_id"] for b in body] == ["c-1", "c-9"]
    assert body[1]["task_completed"] is True and body[1]["lead_id"] == 1
    [task] = await _tasks(sessions)
    assert task.done_at is not None and task.data["called_back_at"] == "2026-01-05T09:20:00+00:00"
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.contacted_at is not None


async def test_wrong_or_missing_token_is_401_and_no_token_configured_is_503(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    assert (await _post(http, missed(), headers=None))[0] == 401
    status, body = await _post(http, missed(), headers={"Authorization": "Bearer nope"})
    assert status == 401 and body["error"] == "missing or wrong token"
    assert await _count(sessions, Call) == 0


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"call_id": None}, "call_id", "call_id is required"),
        ({"direction": "sideways"}, "direction", "direction must be one of: in, out"),
        ({"status": "ringing"}, "status", "status must be one of"),
        ({"from": "not a phone"}, "from", "cannot read phone number"),
        ({"from": None}, "from", "from is required"),
        ({"started_at": "yesterday"}, "started_at", "ISO 8601"),
        ({"started_at": "2026-01-05T12:00:00"}, "started_at", "time zone"),
        ({"duration": "-5"}, "duration", "between 0 and a week"),
        ({"duration": "long"}, "duration", "whole number"),
        ({"staff": {"id": 1}}, "staff", "must be a string"),
        ({"call_id": "x" * 500}, "call_id", "longer than 128"),
    ],
)
async def test_bad_fields_are_named_with_422(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    change: dict[str, Any],
    field: str,
    error: str,
) -> None:
    status, body = await _post(http, missed(**change))
    assert status == 422 and body["field"] == field and error in body["error"]
    assert await _count(sessions, Call) == 0


async def test_malformed_oversized_and_odd_bodies_are_4xx(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    async with http.post(
        "/api/v1/calls", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    ) as response:
        assert response.status == 400 and "malformed JSON" in (await response.json())["error"]
    async with http.post(
        "/api/v1/calls",
        data=b"call_id=1",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        assert response.status == 415
    huge = missed(note="x" * 2_000_000)
    assert (await _post(http, huge))[0] == 413
    assert (await _post(http, []))[0] == 400
    assert (await _post(http, "a string"))[0] == 400
    status, body = await _post(http, [missed(), {"call_id": "c-2"}])
    assert status == 422 and body["index"] == 1 and body["field"] == "direction"
    assert await _count(sessions, Call) == 0  # nothing of a refused list is stored


async def test_hostile_strings_are_stored_as_text_and_do_not_break_anything(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    hostile = "<b>'; DROP TABLE calls; --🙂"
    status, body = await _post(http, missed(call_id=hostile, staff="<script>"))
    assert status == 201 and body["call_id"] == hostile
    assert (await _post(http, missed(call_id=hostile)))[1]["duplicate"] is True
    status, body = await _post(http, missed(call_id="a\u0001b"))
    assert status == 422 and body["field"] == "call_id" and "control" in body["error"]
    # NUL, like an unpaired surrogate, is kept as U+FFFD on every route: stored, not refused
    status, body = await _post(http, missed(call_id="a\u0000b"))
    assert status == 201 and body["call_id"] == "a\ufffdb"
    assert await _count(sessions, Call) == 2


async def test_staff_named_by_extension_or_telegram_id(
    http: aiohttp.ClientSession, sessions: SessionFactory, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        anna = await session.get(Staff, staff["anna"].id)
        assert anna is not None
        anna.extension = "101"
        await session.commit()
    await _post(http, missed("c-1", staff="101"))
    await _post(http, missed("c-2", staff=str(staff["boris"].telegram_id)))
    async with sessions() as session:
        who = list(await session.scalars(select(Call.staff_id).order_by(Call.id)))
    assert who == [staff["anna"].id, staff["boris"].id]
