"""End to end: a PBX reports a call's recording over HTTP, signed as the vendor signs it; the
lead's history shows "🎧 Recording 2:35" with a button; the owner presses it and gets the
audio (the stand-in PBX's bytes, fetched through its API at the press); anyone else is
refused; an expired link, a PBX that is down and a file over 50 MB are answered plainly.

Zadarma and Mango Office each answer from bot/devtools/pbx_recordings.py, which checks the
API calls' paths, parameters and signatures. Anna (English) and Boris (Russian) are managers;
the clock stands at 05.01 12:00 Moscow time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.devtools.pbx_recordings import PbxRecordings
from storage.db import SessionFactory
from storage.models import CallRecording, LeadEvent, Staff
from tests.harness import ANNA, BORIS, STRANGER, Phone, running_app, unpaced_config

ZADARMA_KEY, ZADARMA_SECRET = "zd-key-for-tests", "zd-secret-for-tests"
MANGO_KEY = "8v7lygho7jb61aa7e7gwlqz6horeuqe2"
MANGO_SALT = "sux7mpqilsripo5gbjok484gxb10h6ua"
ZADARMA_AUDIO = b"ID3\x03\x00zadarma-recording" + bytes(range(256)) * 4
MANGO_AUDIO = b"ID3\x03\x00mango-recording" + bytes(range(255, -1, -1)) * 3
REC = "1704445200.123"  # Zadarma's call_id_with_rec
CLIENT, OFFICE = "79001234567", "74950000000"


@pytest.fixture
async def pbx() -> AsyncIterator[tuple[PbxRecordings, str]]:
    stand = PbxRecordings(ZADARMA_KEY, ZADARMA_SECRET, MANGO_KEY, MANGO_SALT)
    stand.zadarma[REC] = ZADARMA_AUDIO
    stand.mango["MToxMDEyODIxOToyMDIzMDU5NDk5Mjow"] = MANGO_AUDIO
    runner = web.AppRunner(stand.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield stand, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    pbx: tuple[PbxRecordings, str],
) -> AsyncIterator[Application]:
    _, base = pbx
    async with running_app(
        emulator,
        database_url,
        clock,
        config=unpaced_config(),
        zadarma_api_key=ZADARMA_KEY,
        zadarma_api_secret=ZADARMA_SECRET,
        zadarma_api_base=base,
        mango_api_key=MANGO_KEY,
        mango_api_salt=MANGO_SALT,
        mango_api_base=base,
    ) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


def _hex_hmac_b64(text: str) -> str:
    """Zadarma's signature: base64 of PHP's hash_hmac('sha1', ...), the hex digest."""
    digest = hmac.new(ZADARMA_SECRET.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


async def _zadarma(http: aiohttp.ClientSession, fields: dict[str, str], signed: str) -> Any:
    headers = {"Signature": _hex_hmac_b64(signed)}
    async with http.post("/hooks/zadarma", data=fields, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _mango(http: aiohttp.ClientSession, path: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload)
    sign = hashlib.sha256((MANGO_KEY + body + MANGO_SALT).encode()).hexdigest()
    form = {"vpbx_api_key": MANGO_KEY, "sign": sign, "json": body}
    async with http.post(f"/hooks/mango/events/{path}", data=form) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _missed_call_lead_taken(emulator: TelegramEmulator, http: aiohttp.ClientSession) -> Phone:
    """A client's missed call opens lead #1; Anna takes it. Her card."""
    anna = Phone(emulator, ANNA)
    await anna.write("/start")
    missed = {
        "event": "NOTIFY_END",
        "call_start": "2026-01-05 12:02:00",
        "pbx_call_id": "in_1",
        "caller_id": CLIENT,
        "called_did": OFFICE,
        "duration": "0",
        "disposition": "cancel",
    }
    await _zadarma(http, missed, CLIENT + OFFICE + "2026-01-05 12:02:00")
    return anna


async def _history(anna: Phone, card: BotMessage) -> BotMessage:
    return await anna.press_for_reply(card, "lead:history", "Lead #1: history")


def _audio_sent(emulator: TelegramEmulator) -> list[dict[str, Any]]:
    return [request.params for request in emulator.calls("sendAudio")]


async def _recordings(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CallRecording)) or 0)


async def test_zadarma_recording_plays_for_the_owner_only_and_problems_are_told(
    emulator: TelegramEmulator,
    http: aiohttp.ClientSession,
    pbx: tuple[PbxRecordings, str],
    sessions: SessionFactory,
) -> None:
    stand, _ = pbx
    anna = await _missed_call_lead_taken(emulator, http)
    card = await anna.next_message(0, "Lead #1")
    assert (await anna.press(card, "lead:take"))["text"].startswith("Lead #1 is yours")
    # Anna calls the client back from extension 101: 2 min 35 s; the PBX records it
    back = {
        "event": "NOTIFY_OUT_END",
        "call_start": "2026-01-05 12:20:00",
        "pbx_call_id": "out_1",
        "caller_id": OFFICE,
        "destination": CLIENT,
        "internal": "101",
        "duration": "155",
        "disposition": "answered",
        "is_recorded": "1",
        "call_id_with_rec": REC,
    }
    await _zadarma(http, back, "101" + CLIENT + "2026-01-05 12:20:00")
    record = {"event": "NOTIFY_RECORD", "call_id_with_rec": REC, "pbx_call_id": "out_1"}
    # a notice signed over anything else is refused (403) and keeps nothing
    headers = {"Signature": _hex_hmac_b64(REC + "out_1")}  # the two ids the wrong way round
    async with http.post("/hooks/zadarma", data=record, headers=headers) as refused:
        assert refused.status == 403
    assert await _recordings(sessions) == 0
    first = await _zadarma(http, record, "out_1" + REC)
    assert first == {
        "ok": True,
        "recording": True,
        "recorded": True,
        "duplicate": False,
        "lead_id": 1,
    }
    again = await _zadarma(http, record, "out_1" + REC)  # the PBX repeats itself
    assert again["duplicate"] is True and again["lead_id"] == 1
    async with sessions() as session:
        kinds = (await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all()
    assert list(kinds).count("recording") == 1

    history = await _history(anna, card)
    assert "🎧 Recording 2:35" in history.text
    assert anna.button_texts(history) == ["🎧 2:35 · 5 Jan 12:20"]
    before = len(emulator.state.uploads)
    answer = await anna.press(history, "rec:")
    assert answer["text"] == "🎧 Sending the recording of lead #1…"
    await emulator.wait_for(lambda: len(_audio_sent(emulator)) == 1)
    [sent] = _audio_sent(emulator)
    assert (sent["chat_id"], sent["title"], sent["duration"]) == (
        ANNA,
        "Lead #1 · 5 Jan 12:20",
        155,
    )
    assert emulator.state.uploads[before:] == [("lead-1-call-1.mp3", ZADARMA_AUDIO)]
    # leadbot asked Zadarma's API for that recording, signed; the link is shown nowhere
    asked = [params for vendor, params in stand.requests if vendor == "zadarma"]
    assert asked == [{"call_id": REC, "lifetime": "180", "format": "json"}]
    assert not [m for m in anna.messages() if "/files/" in (m.text or "")]

    # Boris (not his lead) and a client (not staff) forge the press: refused, nothing sent
    boris, stranger = Phone(emulator, BORIS), Phone(emulator, STRANGER)
    await boris.write("/start")
    hello = await stranger.write("/start")
    mine = await boris.press_data(boris.last(), "rec:1")
    assert (mine["text"], mine["show_alert"]) == ("Этот лид ведёт Anna, не вы.", True)
    theirs = await stranger.press_data(hello, "rec:1")
    assert "sendAudio" not in {
        r.method for r in emulator.requests if r.params.get("chat_id") != ANNA
    }
    assert (theirs["text"], theirs["show_alert"]) == (
        "This button is for the sales team only.",
        True,
    )
    assert (await anna.press_data(history, "rec:99"))["text"] == "There is no such lead."

    # the link expired before it was opened; the PBX down; a file over Telegram's 50 MB
    stand.expire_links = True
    gone = await anna.press(history, "rec:")
    assert (gone["text"], gone["show_alert"]) == (
        "This recording is no longer on the phone system.",
        True,
    )
    stand.expire_links, stand.down = False, True
    down = await anna.press(history, "rec:")
    assert down["text"] == "The phone system does not answer. Try again in a few minutes."
    stand.down, stand.declared_size = False, 50 * 1024 * 1024 + 1
    big = await anna.press(history, "rec:")
    assert big["text"].startswith("The recording is over 50 MB")
    assert len(_audio_sent(emulator)) == 1
    # Telegram itself refuses the upload as too large (after the press was answered): a message
    stand.declared_size = None
    emulator.fail_next("sendAudio", 413, description="Request Entity Too Large")
    before = len(anna.messages())
    await anna.press(history, "rec:")
    told = await anna.next_message(before, "was not sent")
    assert told.text == (
        "⚠️ The recording of lead #1 was not sent: The recording is over 50 MB, more than "
        "Telegram takes. Listen to it in the phone system's account."
    )
    assert len(_audio_sent(emulator)) == 1


async def test_mango_recording_before_its_call_is_linked_when_the_call_comes(
    emulator: TelegramEmulator,
    http: aiohttp.ClientSession,
    pbx: tuple[PbxRecordings, str],
    sessions: SessionFactory,
) -> None:
    stand, _ = pbx
    anna = await _missed_call_lead_taken(emulator, http)
    card = await anna.next_message(0, "Lead #1")
    await anna.press(card, "lead:take")
    recording = {
        "recording_id": "MToxMDEyODIxOToyMDIzMDU5NDk5Mjow",
        "entry_id": "MjQ3NjA5NjE3Mjo0MDE=",
        "call_id": "MToxMDA1",
        "extension": "101",
        "timestamp": 1767604955,
        "seq": 2,
    }
    # still recording: acknowledged only
    started = await _mango(http, "recording", {**recording, "recording_state": "Started"})
    assert started == {"ok": True, "recorded": False}
    # done, before the call's summary: kept, no lead yet
    done = await _mango(http, "recording", {**recording, "recording_state": "Completed"})
    assert (done["recorded"], done["lead_id"]) == (True, None)
    added = await _mango(http, "record/added", {**recording, "user_id": 7, "product_id": 1})
    assert added["duplicate"] is True  # the same recording, told twice
    summary = {  # Anna's call back, answered: 12:20:00 to 12:22:40, talking from 12:20:05
        "entry_id": recording["entry_id"],
        "call_direction": 2,
        "from": {"extension": "101", "number": OFFICE},
        "to": {"number": CLIENT},
        "create_time": 1767604800,
        "forward_time": 1767604801,
        "talk_time": 1767604805,
        "end_time": 1767604960,
        "entry_result": 1,
    }
    assert (await _mango(http, "summary", summary))["lead_id"] == 1
    history = await _history(anna, card)
    assert "🎧 Recording 2:35" in history.text
    # Telegram answers the upload 429 once: the one path to Telegram waits and sends it again
    emulator.fail_next("sendAudio", 429, retry_after=1)
    await anna.press(history, "rec:")
    await emulator.wait_for(lambda: len(_audio_sent(emulator)) == 1)
    assert [r.status for r in emulator.requests if r.method == "sendAudio"] == [429, 200]
    assert emulator.state.uploads[-1] == ("lead-1-call-1.mp3", MANGO_AUDIO)
    [(vendor, form)] = stand.requests
    assert vendor == "mango" and json.loads(form["json"]) == {
        "recording_id": recording["recording_id"],
        "action": "download",
    }
    # the same recording is gone from the PBX now: Anna is told so, plainly
    stand.mango.clear()
    gone = await anna.press(history, "rec:")
    assert gone["text"] == "This recording is no longer on the phone system."
