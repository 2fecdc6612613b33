"""End to end: 📞 Call on the owner's card asks the office PBX (a local stand-in of Zadarma's and
Mango Office's APIs, checking paths, parameters and signatures as they document them) to ring
the manager's extension and then the client; the PBX's call event then records the call.

Anna (English) has extension 101 and takes lead #1 (+7 900 123-45-67); Boris (Russian) is
another manager. The clock stands at 05.01 12:00 Moscow time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.devtools.pbx_api import PbxApi
from storage.db import SessionFactory
from storage.models import Call, Lead, LeadEvent, Staff
from tests.harness import (
    ANNA,
    BORIS,
    WORKING,
    Intake,
    Phone,
    card_buttons,
    running_app,
    unpaced_config,
)

ZD_KEY, ZD_SECRET = "zd-key-0123", "zd-secret-4567"
MANGO_KEY, MANGO_SALT = "mango-key-89ab", "mango-salt-cdef"
CALLING = "📞 Calling you now… Pick up on extension 101: the PBX then rings the client of lead #1."
SETTING_UP = "⏳ A call for lead #1 is being set up already: wait for it, or try again in a minute."


@pytest.fixture
async def pbx() -> AsyncIterator[PbxApi]:
    stand_in = PbxApi(
        zadarma_key=ZD_KEY, zadarma_secret=ZD_SECRET, mango_key=MANGO_KEY, mango_salt=MANGO_SALT
    )
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@asynccontextmanager
async def _leadbot(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    click_to_call: str = "auto",
    request_timeout: str = "10s",
    **settings: Any,
) -> AsyncIterator[Application]:
    """leadbot with the PBX's keys (unless `settings` says otherwise) and its API bases at the
    stand-in; click-to-call on."""
    keys: dict[str, Any] = {
        "zadarma_api_key": ZD_KEY,
        "zadarma_api_secret": ZD_SECRET,
        "zadarma_api_base": pbx.url,
        "mango_api_key": MANGO_KEY,
        "mango_api_salt": MANGO_SALT,
        "mango_api_base": pbx.mango_base,
    }
    telephony = {"click_to_call": click_to_call, "request_timeout": request_timeout}
    config = unpaced_config(telephony=telephony)
    async with running_app(
        emulator, database_url, clock, config=config, **(keys | settings)
    ) as application:
        yield application


async def _extension(sessions: SessionFactory, telegram_id: int, extension: str | None) -> None:
    async with sessions() as session:
        await session.execute(
            update(Staff).where(Staff.telegram_id == telegram_id).values(extension=extension)
        )
        await session.commit()


async def _anna_takes(
    emulator: TelegramEmulator, app: Application, fields: dict[str, Any] | None = None
) -> BotMessage:
    """Anna and Boris open the bot; a lead comes in; Anna takes it. Her card."""
    anna = Phone(emulator, ANNA)
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")
    async with aiohttp.ClientSession() as http:
        status, _ = await Intake(app, http).post(
            fields or {"phone": "+79001234567", "name": "Ivan"}
        )
    assert status in (200, 201, 202)
    card = await anna.next_message(1, "Lead #")
    assert (await anna.press(card, "lead:take"))["text"].startswith("Lead #")
    return card


async def _events(sessions: SessionFactory, kind: str) -> list[LeadEvent]:
    async with sessions() as session:
        found = await session.scalars(select(LeadEvent).where(LeadEvent.kind == kind))
        return list(found.all())


def _out_end(call_id: str, at: str, secret: str = ZD_SECRET) -> tuple[dict[str, str], str]:
    """Zadarma's NOTIFY_OUT_END of the call the PBX set up (extension 101 -> the client), and
    its Signature as Zadarma's PHP example computes it."""
    fields = {
        "event": "NOTIFY_OUT_END",
        "call_start": f"2026-01-05 {at}:00",
        "pbx_call_id": call_id,
        "caller_id": "74950000000",
        "destination": "79001234567",
        "internal": "101",
        "duration": "95",
        "disposition": "answered",
        "status_code": "16",
        "is_recorded": "0",
        "call_id_with_rec": "",
    }
    signed = fields["internal"] + fields["destination"] + fields["call_start"]
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return fields, base64.b64encode(digest.encode()).decode()


async def test_call_rings_once_while_set_up_and_the_pbxs_call_event_records_on_the_lead(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    async with _leadbot(emulator, database_url, clock, pbx) as app:
        await _extension(app.sessions, ANNA, "101")
        anna = Phone(emulator, ANNA)
        card = await _anna_takes(emulator, app)
        # the owner's card: 📞 Call first, then the usual buttons
        assert await anna.shows_buttons(card, ["📞 Call", *WORKING])
        data = next(d for _, d in card_buttons(anna.now(card)) if d.startswith("lead:dial"))
        assert data == "lead:dial:1"
        # two presses at once (a double tap): one rings, the other is told it is under way
        queries = [emulator.press_button(ANNA, ANNA, card.message_id, data) for _ in range(2)]
        await emulator.wait_for(lambda: all(emulator.callback_answer(q) for q in queries))
        answers = sorted(str(emulator.callback_answer(q)["text"]) for q in queries)  # type: ignore[index]
        assert answers == sorted([CALLING, SETTING_UP])
        # the PBX got one signed request/callback: extension 101 first, then the client
        assert [(r.vendor, r.path, r.signed, r.status) for r in pbx.received] == [
            ("zadarma", "/v1/request/callback/", True, 200)
        ]
        assert pbx.received[0].params == {"from": "101", "to": "79001234567", "format": "json"}
        [requested] = await _events(app.sessions, "call_requested")
        assert (requested.lead_id, requested.data) == (
            1,
            {"phone": "+79001234567", "extension": "101", "provider": "zadarma"},
        )
        # a minute later with no call event from the PBX, the hold lapses: it rings again
        clock.advance(timedelta(seconds=61))
        assert (await anna.press(card, "lead:dial"))["text"] == CALLING
        assert len(pbx.received) == 2
        # the PBX reports the call (answered, 95 s): recorded on the lead, contact made
        fields, signature = _out_end("out_1", "12:01")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"http://127.0.0.1:{app.http_port}/hooks/zadarma",
                data=fields,
                headers={"Signature": signature},
            ) as response:
                assert response.status == 200, await response.text()
        async with app.sessions() as session:
            call = await session.scalar(select(Call))
            lead = await session.get(Lead, 1)
        assert call is not None and (call.lead_id, call.direction, call.status) == (
            1,
            "out",
            "answered",
        )
        assert lead is not None and lead.contacted_at == clock.now()
        [event] = await _events(app.sessions, "call")
        assert event.data["direction"] == "out" and event.data["duration"] == 95
        # the call came back: the button works at once, without waiting out the minute
        assert (await anna.press(card, "lead:dial"))["text"] == CALLING
        assert len(pbx.received) == 3
        # the history says so
        history = await anna.press_for_reply(card, "lead:history", "call requested")
        assert "call requested from the card" in history.text and "outgoing" in history.text


async def test_a_pbx_that_fails_refuses_or_is_slow_frees_the_button_at_once(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    async with _leadbot(emulator, database_url, clock, pbx, request_timeout="0.3s") as app:
        await _extension(app.sessions, ANNA, "101")
        anna = Phone(emulator, ANNA)
        card = await _anna_takes(emulator, app)
        pbx.failure = 503
        answer = await anna.press(card, "lead:dial")
        assert (
            answer["text"]
            == "📵 Lead #1: the PBX did not answer (HTTP 503). Try again in a minute."
        )
        assert answer.get("show_alert") is True
        # Zadarma's error answer, words a hostile PBX could send: shown as they are (an alert
        # is plain text), never as markup
        pbx.failure = None
        pbx.refusal = "<b>Недостаточно</b> средств & <script>"
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == (
            "📵 Lead #1: the PBX refused the call: <b>Недостаточно</b> средств & <script>"
        )
        # 10 kB of words: the PBX's first 120 characters, the alert whole within its 200
        pbx.refusal = "🙈" + "x" * 10_000
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == "📵 Lead #1: the PBX refused the call: 🙈" + "x" * 119
        # slower than [telephony] request_timeout (0.3 s here): unreachable, the press answered
        pbx.refusal, pbx.delay = None, 0.6
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == (
            "📵 Lead #1: the PBX did not answer (no answer within 0.3 s). Try again in a minute."
        )
        # none of them held the button: the next press (same moment) rings
        pbx.delay = 0.0
        assert (await anna.press(card, "lead:dial"))["text"] == CALLING
        assert len(await _events(app.sessions, "call_requested")) == 1  # only the one that rang


async def test_a_wrong_secret_is_refused_by_the_stand_in_as_zadarma_does(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    """leadbot signs with a secret the PBX does not know: refused, and Anna is told."""
    async with _leadbot(
        emulator, database_url, clock, pbx, zadarma_api_secret="not-the-secret"
    ) as app:
        await _extension(app.sessions, ANNA, "101")
        card = await _anna_takes(emulator, app)
        answer = await Phone(emulator, ANNA).press(card, "lead:dial")
        assert answer["text"] == "📵 Lead #1: the PBX refused the call: Not authorized"
        assert [(r.signed, r.status) for r in pbx.received] == [(False, 401)]
        assert await _events(app.sessions, "call_requested") == []


async def test_mango_office_gets_its_signed_callback_command_and_its_codes_are_worded(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    async with _leadbot(emulator, database_url, clock, pbx, click_to_call="mango") as app:
        await _extension(app.sessions, ANNA, "101")
        anna = Phone(emulator, ANNA)
        card = await _anna_takes(emulator, app)
        assert (await anna.press(card, "lead:dial"))["text"] == CALLING
        [taken] = pbx.received
        assert (taken.vendor, taken.path, taken.signed) == (
            "mango",
            "/vpbx/commands/callback",
            True,
        )
        assert taken.params["from"] == {"extension": "101"}
        assert taken.params["to_number"] == "79001234567"
        assert str(taken.params["command_id"]).startswith("leadbot-")
        # Mango's summary of the call it set up (outgoing, answered, 95 s talk) reaches
        # /hooks/mango/events/summary: recorded on the lead, and the button is free at once
        summary = {
            "entry_id": "MjQ3NjA5NjE3Mjo0MDE=",
            "call_direction": 2,
            "from": {"extension": "101", "number": "74950000000"},
            "to": {"number": "79001234567"},
            "create_time": 1767603660,
            "forward_time": 1767603661,
            "talk_time": 1767603670,
            "end_time": 1767603765,
            "entry_result": 1,
        }
        body = json.dumps(summary)
        sign = hashlib.sha256((MANGO_KEY + body + MANGO_SALT).encode()).hexdigest()
        form = {"vpbx_api_key": MANGO_KEY, "sign": sign, "json": body}
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{app.http_port}/hooks/mango/events/summary"
            async with http.post(url, data=form) as response:
                assert response.status == 200, await response.text()
        async with app.sessions() as session:
            call = await session.scalar(select(Call))
        assert call is not None and (call.lead_id, call.provider, call.status) == (
            1,
            "mango",
            "answered",
        )
        # the next press (same moment): the PBX says the extension is unknown
        pbx.mango_refusal = 3330
        answer = await anna.press(card, "lead:dial")
        assert (
            answer["text"]
            == "📵 Lead #1: the PBX refused the call: no such extension on the PBX (3330)"
        )
        # the PBX's own trouble (5xxx): unreachable; a code without words: the code
        pbx.mango_refusal = 5001
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == "📵 Lead #1: the PBX did not answer (5001). Try again in a minute."
        pbx.mango_refusal = 4100
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == "📵 Lead #1: the PBX refused the call: 4100"


async def test_what_is_missing_is_said_and_only_the_owner_calls(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    """Zadarma named, its keys not set; Anna has no extension yet."""
    no_keys = {"zadarma_api_key": None, "zadarma_api_secret": None}
    async with _leadbot(
        emulator, database_url, clock, pbx, click_to_call="zadarma", **no_keys
    ) as app:
        anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
        card = await _anna_takes(emulator, app)
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == (
            "📵 Lead #1: you have no PBX extension. Ask an admin: leadbot staff add 1001"
            ' --role manager --name "Anna" --extension <number>'
        )
        assert answer.get("show_alert") is True
        await _extension(app.sessions, ANNA, "101")
        answer = await anna.press(card, "lead:dial")
        assert answer["text"] == (
            "📵 Lead #1: the office PBX is not connected. Ask an admin to set its API keys"
            ' (README, "Calling a client from the card").'
        )
        # Boris (in Russian) presses Anna's button (a forged press): the lead is hers
        answer = await boris.press_data(card, "lead:dial:1")
        assert answer["text"] == "Этот лид ведёт Anna, не вы."
        # a lead with no phone (an e-mail only): no 📞 Call on its card; a forged press is told
        async with aiohttp.ClientSession() as http:
            await Intake(app, http).post({"email": "olga@example.com", "name": "Olga"})
        second = await anna.next_message(len(anna.messages()) - 1, "Lead #2")
        await anna.press(second, "lead:take")
        assert await anna.shows_buttons(second, WORKING)
        answer = await anna.press_data(second, "lead:dial:2")
        assert answer["text"] == "📵 Lead #2 has no phone number to call."
        # a forged press naming a lead that does not exist
        assert (await anna.press_data(second, "lead:dial:999999"))[
            "text"
        ] == "There is no such lead."
        assert pbx.received == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_press_is_answered_through_telegrams_429_and_5xx(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    async with _leadbot(emulator, database_url, clock, pbx) as app:
        await _extension(app.sessions, ANNA, "101")
        card = await _anna_takes(emulator, app)
        emulator.fail_next("answerCallbackQuery", 429, retry_after=1)
        emulator.fail_next("answerCallbackQuery", 502)
        answer = await Phone(emulator, ANNA).press(card, "lead:dial")
        assert answer["text"] == CALLING
        answered = [r.status for r in emulator.requests if r.method == "answerCallbackQuery"]
        assert answered[-3:] == [429, 502, 200]
        assert len(pbx.received) == 1  # the PBX was asked once, whatever Telegram said


async def test_the_loop_serves_others_while_the_pbx_is_slow(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    async with _leadbot(emulator, database_url, clock, pbx, request_timeout="5s") as app:
        await _extension(app.sessions, ANNA, "101")
        card = await _anna_takes(emulator, app)
        pbx.delay = 1.0
        query = emulator.press_button(ANNA, ANNA, card.message_id, "lead:dial:1")
        # Boris is answered while Anna's press waits for the PBX
        boris = Phone(emulator, BORIS)
        await boris.write("/leads")
        assert emulator.callback_answer(query) is None
        await emulator.wait_for(lambda: emulator.callback_answer(query) is not None)
        assert emulator.callback_answer(query)["text"] == CALLING  # type: ignore[index]


async def test_no_pbx_keys_no_call_button(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    pbx: PbxApi,
    staff: dict[str, Staff],
) -> None:
    """The default `auto` with neither PBX's keys set (an office without one): Anna's card has
    no 📞 Call; a forged press is told the PBX is not connected, and the stand-in hears
    nothing."""
    no_keys = {
        "zadarma_api_key": None,
        "zadarma_api_secret": None,
        "mango_api_key": None,
        "mango_api_salt": None,
    }
    async with _leadbot(emulator, database_url, clock, pbx, **no_keys) as app:
        anna = Phone(emulator, ANNA)
        card = await _anna_takes(emulator, app)
        await _extension(app.sessions, ANNA, "101")
        assert await anna.shows_buttons(card, WORKING)
        answer = await anna.press_data(card, "lead:dial:1")
        assert answer["text"].startswith("📵 Lead #1: the office PBX is not connected.")
    assert pbx.received == []
