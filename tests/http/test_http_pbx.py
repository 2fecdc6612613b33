"""PBX webhooks as the PBXs send them: Zadarma notifications (zd_echo, signed NOTIFY_END /
NOTIFY_OUT_END) and Mango Office VPBX events (signed form: vpbx_api_key, sign, json)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.telephony.pbx import zadarma_signature
from storage.db import SessionFactory
from storage.models import Call, Lead, Task
from tests.harness import running_app

ZADARMA_SECRET = "zd-secret-for-tests"
MANGO_KEY = "8v7lygho7jb61aa7e7gwlqz6horeuqe2"
MANGO_SALT = "sux7mpqilsripo5gbjok484gxb10h6ua"

# a missed incoming call, as Zadarma posts it at the call's end (form-encoded)
NOTIFY_END = {
    "event": "NOTIFY_END",
    "call_start": "2026-01-05 12:02:00",
    "pbx_call_id": "in_5f2e1a",
    "caller_id": "79001234567",
    "called_did": "74950000000",
    "internal": "",
    "duration": "0",
    "disposition": "cancel",
    "status_code": "16",
    "is_recorded": "0",
    "call_id_with_rec": "",
}
# the manager's call back from extension 101, answered
NOTIFY_OUT_END = {
    "event": "NOTIFY_OUT_END",
    "call_start": "2026-01-05 12:20:00",
    "pbx_call_id": "out_77ab",
    "caller_id": "74950000000",
    "destination": "79001234567",
    "internal": "101",
    "duration": "95",
    "disposition": "answered",
    "status_code": "16",
    "is_recorded": "1",
    "call_id_with_rec": "1704445200.123",
}
# Mango's summary of a missed incoming call
MANGO_SUMMARY = {
    "entry_id": "MjQ3NjA5NjE3Mjo0MDE=",
    "call_direction": 1,
    "from": {"number": "79001234567"},
    "to": {"extension": "101", "number": "74950000000"},
    "line_number": "74950000000",
    "create_time": 1767603720,
    "forward_time": 1767603721,
    "talk_time": 0,
    "end_time": 1767603750,
    "entry_result": 0,
    "disconnect_reason": 1110,
}


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> AsyncIterator[Application]:
    secrets = {
        "zadarma_api_secret": ZADARMA_SECRET,
        "mango_api_key": MANGO_KEY,
        "mango_api_salt": MANGO_SALT,
    }
    async with running_app(emulator, database_url, clock, **secrets) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


def _zadarma_sign(fields: dict[str, str], secret: str = ZADARMA_SECRET) -> str:
    """As Zadarma's PHP example: base64_encode(hash_hmac('sha1', ..., secret)), hex digest."""
    if fields["event"].startswith("NOTIFY_OUT"):
        signed = fields["internal"] + fields["destination"] + fields["call_start"]
    else:
        signed = fields["caller_id"] + fields["called_did"] + fields["call_start"]
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


async def _zadarma(
    http: aiohttp.ClientSession, fields: dict[str, str], signature: str | None = "good"
) -> tuple[int, Any]:
    headers = {}
    if signature is not None:
        headers["Signature"] = _zadarma_sign(fields) if signature == "good" else signature
    async with http.post("/hooks/zadarma", data=fields, headers=headers) as response:
        return response.status, await response.json()


def _mango_form(
    payload: dict[str, Any], key: str = MANGO_KEY, salt: str = MANGO_SALT, sign: str | None = None
) -> dict[str, str]:
    body = json.dumps(payload)
    digest = hashlib.sha256((key + body + salt).encode()).hexdigest()
    return {"vpbx_api_key": key, "sign": sign or digest, "json": body}


async def _mango(http: aiohttp.ClientSession, path: str, form: dict[str, str]) -> tuple[int, Any]:
    async with http.post(f"/hooks/mango/events/{path}", data=form) as response:
        return response.status, await response.json()


async def _tasks(sessions: SessionFactory) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def _calls(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Call)) or 0)


def test_the_signature_is_base64_of_the_hex_hmac() -> None:
    assert zadarma_signature(NOTIFY_END, ZADARMA_SECRET) == _zadarma_sign(NOTIFY_END)
    assert zadarma_signature(NOTIFY_OUT_END, ZADARMA_SECRET) == _zadarma_sign(NOTIFY_OUT_END)
    assert zadarma_signature(NOTIFY_END, "other") != _zadarma_sign(NOTIFY_END)


async def test_zadarma_url_check_echoes_zd_echo(http: aiohttp.ClientSession) -> None:
    async with http.get("/hooks/zadarma", params={"zd_echo": "a1b2c3"}) as response:
        assert response.status == 200 and await response.text() == "a1b2c3"
    async with http.post("/hooks/zadarma?zd_echo=x9") as response:
        assert await response.text() == "x9"


async def test_zadarma_missed_call_becomes_a_task_and_a_retry_changes_nothing(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    status, body = await _zadarma(http, NOTIFY_END)
    assert status == 200 and body["recorded"] is True and body["lead_created"] is True
    again = await _zadarma(http, NOTIFY_END)
    assert again[0] == 200 and again[1]["duplicate"] is True
    [task] = await _tasks(sessions)
    assert task.count == 1 and task.data["phone"] == "+79001234567"
    # call_start is in the account's zone (Moscow here): 12:02 there is 09:02 UTC
    assert task.due_at.isoformat() == "2026-01-05T09:02:00+00:00"
    async with sessions() as session:
        lead = await session.get(Lead, 1)
        call = await session.scalar(select(Call))
    assert lead is not None and lead.source == "call"
    assert call is not None and call.provider == "zadarma" and call.raw == NOTIFY_END
    assert await _calls(sessions) == 1


async def test_zadarma_refuses_a_bad_or_missing_signature(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    assert (await _zadarma(http, NOTIFY_END, signature="Zm9v"))[0] == 403
    assert (await _zadarma(http, NOTIFY_END, signature=None))[0] == 403
    # a signature made for other fields (another caller put in): refused
    assert (
        await _zadarma(
            http, {**NOTIFY_END, "caller_id": "79990000000"}, signature=_zadarma_sign(NOTIFY_END)
        )
    )[0] == 403
    assert await _calls(sessions) == 0


async def test_zadarma_answered_call_back_completes_the_task(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    start = {
        "event": "NOTIFY_OUT_START",
        "call_start": "2026-01-05 12:19:50",
        "pbx_call_id": "out_77ab",
        "destination": "79001234567",
        "internal": "101",
    }
    await _zadarma(http, NOTIFY_END)
    status, body = await _zadarma(http, start)
    assert status == 200 and body == {"ok": True, "recorded": False}
    status, body = await _zadarma(http, NOTIFY_OUT_END)
    assert status == 200 and body["task_completed"] is True and body["lead_id"] == 1
    [task] = await _tasks(sessions)
    assert task.done_at is not None
    assert task.data["called_back_at"] == "2026-01-05T09:20:00+00:00"


async def test_zadarma_unreadable_payload_is_422(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    broken = {**NOTIFY_END, "call_start": "yesterday"}
    status, body = await _zadarma(http, broken)
    assert status == 422 and body["field"] == "call_start"
    status, body = await _zadarma(http, {**NOTIFY_END, "caller_id": "anonymous"})
    assert status == 422 and body["field"] == "from"
    assert await _calls(sessions) == 0


async def test_mango_missed_summary_becomes_a_task(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    status, body = await _mango(http, "summary", _mango_form(MANGO_SUMMARY))
    assert status == 200 and body["recorded"] is True and body["task_id"] == 1
    [task] = await _tasks(sessions)
    assert task.data["phone"] == "+79001234567"
    assert task.due_at.isoformat() == "2026-01-05T09:02:00+00:00"
    again = await _mango(http, "summary", _mango_form(MANGO_SUMMARY))
    assert again[1]["duplicate"] is True and len(await _tasks(sessions)) == 1
    answered = {
        **MANGO_SUMMARY,
        "entry_id": "MjQ3Nj==",
        "entry_result": 1,
        "talk_time": 1767604800,
        "create_time": 1767604790,
        "end_time": 1767604860,
    }
    status, body = await _mango(http, "summary", _mango_form(answered))
    assert status == 200 and body["task_completed"] is True
    async with sessions() as session:
        durations = list(await session.scalars(select(Call.duration).order_by(Call.id)))
    assert durations == [0, 60]


async def test_mango_refuses_a_bad_sign_or_a_wrong_key(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    assert (await _mango(http, "summary", _mango_form(MANGO_SUMMARY, sign="0" * 64)))[0] == 403
    wrong_key = _mango_form(MANGO_SUMMARY, key="another-pbx-key")
    assert (await _mango(http, "summary", wrong_key))[0] == 403
    assert (await _mango(http, "call", _mango_form({"call_id": "x"}, salt="guess")))[0] == 403
    assert await _calls(sessions) == 0


async def test_mango_call_events_are_acknowledged(http: aiohttp.ClientSession) -> None:
    state = {
        "entry_id": "MjQ3",
        "call_id": "MToxMDA1",
        "timestamp": 1767603720,
        "seq": 1,
        "call_state": "Appeared",
        "location": "ivr",
        "from": {"number": "79001234567"},
        "to": {"number": "74950000000"},
    }
    assert await _mango(http, "call", _mango_form(state)) == (200, {"ok": True})
    # a recording's event without a finished recording: acknowledged, nothing recorded
    acknowledged = (200, {"ok": True, "recorded": False})
    assert await _mango(http, "recording", _mango_form(state)) == acknowledged


async def test_mango_unreadable_summary_is_422(http: aiohttp.ClientSession) -> None:
    status, body = await _mango(
        http, "summary", _mango_form({**MANGO_SUMMARY, "call_direction": 7})
    )
    assert status == 422 and body["field"] == "call_direction"
    form = _mango_form(MANGO_SUMMARY)
    form["json"] = "{oops"
    form["sign"] = hashlib.sha256((MANGO_KEY + "{oops" + MANGO_SALT).encode()).hexdigest()
    status, body = await _mango(http, "summary", form)
    assert status == 422 and body["field"] == "json"


async def test_unconfigured_pbx_hooks_answer_503(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> None:
    async with running_app(emulator, database_url, clock) as application:
        url = f"http://127.0.0.1:{application.http_port}"
        async with aiohttp.ClientSession(base_url=url) as http:
            status, body = await _zadarma(http, NOTIFY_END)
            assert status == 503 and "ZADARMA_API_SECRET" in body["error"]
            status, body = await _mango(http, "summary", _mango_form(MANGO_SUMMARY))
            assert status == 503 and "MANGO_API_KEY" in body["error"]
