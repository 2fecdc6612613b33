"""The recordings' notices at the door: signed as the calls' (Zadarma's NOTIFY_RECORD over
pbx_call_id . call_id_with_rec; Mango's form sign), unreadable ones refused by field, and
a PBX whose secret is not set answers 503. What they do on a lead: test_e2e_recordings."""

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

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import CallRecording
from tests.harness import MANGO_KEY, MANGO_SALT, ZADARMA_SECRET, running_app

RECORD = {"event": "NOTIFY_RECORD", "call_id_with_rec": "1704445200.123", "pbx_call_id": "out_1"}


@pytest.fixture
async def http(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> AsyncIterator[aiohttp.ClientSession]:
    secrets = {
        "zadarma_api_secret": ZADARMA_SECRET,
        "mango_api_key": MANGO_KEY,
        "mango_api_salt": MANGO_SALT,
    }
    async with running_app(emulator, database_url, clock, **secrets) as app:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as http:
            yield http


def _signature(fields: dict[str, str]) -> str:
    signed = fields["pbx_call_id"] + fields["call_id_with_rec"]
    digest = hmac.new(ZADARMA_SECRET.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


async def _zadarma(http: aiohttp.ClientSession, fields: dict[str, str]) -> tuple[int, Any]:
    headers = {"Signature": _signature(fields)}
    async with http.post("/hooks/zadarma", data=fields, headers=headers) as response:
        return response.status, await response.json()


async def _mango(http: aiohttp.ClientSession, payload: Any, sign: str | None = None) -> int:
    body = json.dumps(payload)
    good = hashlib.sha256((MANGO_KEY + body + MANGO_SALT).encode()).hexdigest()
    form = {"vpbx_api_key": MANGO_KEY, "sign": sign or good, "json": body}
    async with http.post("/hooks/mango/events/recording", data=form) as response:
        return response.status


async def _kept(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CallRecording)) or 0)


async def test_an_unknown_calls_recording_is_kept_to_be_linked_later(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    status, body = await _zadarma(http, RECORD)
    assert (status, body["recorded"], body["lead_id"]) == (200, True, None)
    assert await _kept(sessions) == 1


async def test_unreadable_notices_are_refused_by_field_and_keep_nothing(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    long = await _zadarma(http, {**RECORD, "call_id_with_rec": "9" * 10_000})
    assert long[0] == 422 and long[1]["field"] == "call_id_with_rec"
    empty = await _zadarma(http, {**RECORD, "pbx_call_id": ""})
    assert empty[0] == 422 and empty[1]["field"] == "pbx_call_id"
    html = {**RECORD, "call_id_with_rec": "<script>alert(1)</script>\u0007"}
    assert (await _zadarma(http, html))[0] == 422
    done = {"recording_id": "r1", "entry_id": "e1", "recording_state": "Completed"}
    assert await _mango(http, done, sign="0" * 64) == 403
    assert await _mango(http, {**done, "entry_id": ["e1"]}) == 422
    assert await _mango(http, [done]) == 422  # json must be an object
    assert await _kept(sessions) == 0


async def test_without_the_secrets_the_recording_hooks_are_off(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> None:
    async with running_app(emulator, database_url, clock) as app:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as http:
            async with http.post("/hooks/zadarma", data=RECORD) as zadarma:
                assert zadarma.status == 503
            async with http.post("/hooks/mango/events/record/added", data={}) as mango:
                assert mango.status == 503
