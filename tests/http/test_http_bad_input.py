"""Bad input on every HTTP route, sent as raw bytes: a clear 4xx, never a 5xx, and nothing a
form sent is lost (an unpaired UTF-16 surrogate is stored as U+FFFD, not refused)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.telephony.pbx import zadarma_signature
from storage.db import SessionFactory
from storage.models import Call, Lead, OutboxMessage, OutboxState, Staff
from tests.harness import (
    ANNA,
    BORIS,
    FORM,
    INTAKE_TOKEN,
    JSON,
    MANGO_KEY,
    MANGO_SALT,
    MULTIPART,
    SECRETS,
    VK_SECRET,
    ZADARMA_SECRET,
    outbox_sent,
    running_app,
)


@dataclass(frozen=True)
class Route:
    path: str
    types: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.path.split("?")[0]


ALL = (JSON, FORM, MULTIPART)
AUTH = (("Authorization", f"Bearer {INTAKE_TOKEN}"),)
ROUTES = [
    Route("/api/v1/leads", ALL, AUTH),
    Route("/api/v1/calls", (JSON,), AUTH),
    Route(f"/hooks/tilda?token={INTAKE_TOKEN}", ALL),
    Route(f"/hooks/cf7?token={INTAKE_TOKEN}", ALL),
    Route(f"/hooks/elementor?token={INTAKE_TOKEN}", ALL),
    Route("/hooks/vk", (JSON,)),
    Route(f"/rest/1/{INTAKE_TOKEN}/crm.lead.add.json", ALL),
    Route("/hooks/zadarma", (FORM, MULTIPART)),
    Route("/hooks/mango/events/call", (FORM, MULTIPART)),
    Route("/hooks/mango/events/summary", (FORM, MULTIPART)),
    Route("/hooks/mango/events/recording", (FORM, MULTIPART)),
]
JSON_ROUTES = [r for r in ROUTES if JSON in r.types]
MULTIPART_ROUTES = [r for r in ROUTES if MULTIPART in r.types]


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(emulator, database_url, clock, **SECRETS) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, route: Route, body: bytes, content_type: str
) -> tuple[int, Any]:
    headers = {**dict(route.headers), "Content-Type": content_type}
    async with http.post(route.path, data=body, headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def _count(sessions: SessionFactory, model: Any = Lead) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _deep_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
@pytest.mark.parametrize(
    "body",
    [_deep_list(1_000), _deep_object(1_000), _deep_list(30_000), _deep_object(10_000)],
    ids=["list-1000", "object-1000", "list-30000", "object-10000"],
)
async def test_json_nested_too_deep_is_a_400_naming_the_depth(
    http: aiohttp.ClientSession, sessions: SessionFactory, route: Route, body: bytes
) -> None:
    """A form posting JSON nested a thousand deep is told its body is unreadable (400), not
    the server's trouble (500); nothing is stored."""
    status, answer = await _post(http, route, body, JSON)
    assert status == 400, answer
    assert "nested" in answer["error"]
    assert await _count(sessions) == 0


BOUNDARY = "leadbotboundary"
GOOD_PART = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="phone"\r\n\r\n'
    "+79001234567\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()
BROKEN_MULTIPART = {
    # the Content-Type names one boundary, the body uses another
    "other-boundary": (f"{MULTIPART}; boundary=elsewhere", GOOD_PART),
    "no-boundary": (MULTIPART, GOOD_PART),
    "empty-boundary": (f"{MULTIPART}; boundary=", GOOD_PART),
    "truncated": (f"{MULTIPART}; boundary={BOUNDARY}", GOOD_PART[:60]),
    "no-closing": (f"{MULTIPART}; boundary={BOUNDARY}", GOOD_PART.replace(b"--\r\n", b"\r\n")),
    "header-without-colon": (
        f"{MULTIPART}; boundary={BOUNDARY}",
        GOOD_PART.replace(b"Content-Disposition:", b"Content-Disposition"),
    ),
    "header-with-nul": (
        f"{MULTIPART}; boundary={BOUNDARY}",
        GOOD_PART.replace(b"form-data;", b"form-data\x00;"),
    ),
    "garbage": (f"{MULTIPART}; boundary={BOUNDARY}", b"\xff\xfe not a multipart body at all"),
    "no-disposition": (
        f"{MULTIPART}; boundary={BOUNDARY}",
        f"--{BOUNDARY}\r\nX-Other: 1\r\n\r\nvalue\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "part-not-utf8": (
        f"{MULTIPART}; boundary={BOUNDARY}",
        GOOD_PART.replace(b"+79001234567", b"\xff\xfe\xfd"),
    ),
    "unknown-charset": (
        f"{MULTIPART}; boundary={BOUNDARY}",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="phone"\r\n'
        "Content-Type: text/plain; charset=no-such-charset\r\n\r\n"
        f"1\r\n--{BOUNDARY}--\r\n".encode(),
    ),
}


@pytest.mark.filterwarnings("ignore::aiohttp.BadContentDispositionHeader")
@pytest.mark.parametrize("route", MULTIPART_ROUTES, ids=str)
@pytest.mark.parametrize("case", list(BROKEN_MULTIPART), ids=str)
async def test_malformed_multipart_is_a_400(
    http: aiohttp.ClientSession, sessions: SessionFactory, route: Route, case: str
) -> None:
    """A broken multipart body (boundary, truncation, part headers) is refused as unreadable
    with a JSON error, not answered 500."""
    content_type, body = BROKEN_MULTIPART[case]
    status, answer = await _post(http, route, body, content_type)
    assert status == 400, (status, answer)
    assert "malformed" in answer["error"]
    assert await _count(sessions) == 0


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\xff\xfe", "phone": "+79001234567"}',  # not UTF-8
        b'{"phone": NaN}',  # NaN, Infinity and 1e400 are no JSON a column can hold
        b'{"phone": "+79001234567", "amount": 1e400}',
        b'{"phone": "+79001234567", "amount": ' + b"9" * 5000 + b"}",  # past Python's int limit
        b"",
    ],
    ids=["not-utf8", "nan", "1e400", "5000-digits", "empty"],
)
async def test_unreadable_json_is_a_400(
    http: aiohttp.ClientSession, sessions: SessionFactory, route: Route, body: bytes
) -> None:
    status, answer = await _post(http, route, body, JSON)
    assert status == 400, answer
    assert answer["error"]
    assert await _count(sessions) == 0


FORM_ROUTES = [r for r in ROUTES if FORM in r.types]


@pytest.mark.parametrize("route", FORM_ROUTES, ids=str)
async def test_form_body_not_utf8_is_a_400(
    http: aiohttp.ClientSession, sessions: SessionFactory, route: Route
) -> None:
    status, answer = await _post(http, route, b"name=\xff\xfe&phone=%2B79001234567", FORM)
    assert status == 400, answer
    assert answer["error"] == "body is not UTF-8"
    assert await _count(sessions) == 0


# "\ud800" is an unpaired UTF-16 surrogate: json.dumps writes it as the six-character escape
# \ud800, valid JSON that no database column, log line or Bot API request can carry as it is
S = "\ud800"
R = "\ufffd"  # what is stored instead: nothing the form sent is dropped


def _escaped(payload: Any) -> bytes:
    body = json.dumps(payload).encode()
    assert b"\\ud800" in body  # the raw bytes hold the escape, not an odd string
    return body


def _no_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= ch <= "\udfff" or ch == "\x00" for ch in value)
    if isinstance(value, dict):
        return all(_no_surrogates(k) and _no_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_no_surrogates(v) for v in value)
    return True


async def _stored_lead(sessions: SessionFactory) -> Lead:
    async with sessions() as session:
        [lead] = (await session.scalars(select(Lead))).all()
    for value in (lead.name, lead.message, lead.service, lead.source, lead.utm, lead.extra):
        assert _no_surrogates(value), value
    return lead


async def _card_reached(emulator: TelegramEmulator, chat: int, lead_id: int) -> str:
    def card() -> Any:
        return next(
            (m for m in emulator.chat_messages(chat) if f"#{lead_id}" in (m.text or "")), None
        )

    await emulator.wait_for(card)
    return str(card().text)


async def _staff_started(emulator: TelegramEmulator) -> None:
    for who in (ANNA, BORIS):  # staff press Start once, as Telegram requires
        emulator.send_text(who, "/start")
    await emulator.wait_for(lambda: all(emulator.chat_messages(c) for c in (ANNA, BORIS)))


async def test_unpaired_surrogates_on_the_api_are_kept_as_u_fffd_and_the_card_arrives(
    http: aiohttp.ClientSession, emulator: TelegramEmulator, sessions: SessionFactory
) -> None:
    """A web form whose JavaScript cut an emoji in half sends "\\ud800" in every field, a key
    and a nested value: the lead is stored (201, no retry), the halves are U+FFFD, and the
    managers get its card like any other."""
    await _staff_started(emulator)
    payload = {
        "name": f"Iv{S}an",
        "phone": "+79001234567",
        "message": f"Need a quote {S}",
        "service": f"tour{S}",
        "source": f"site{S}",
        "utm_source": f"ya{S}",
        f"utm_{S}": "x",
        "external_id": f"req-{S}",
        f"form{S}": {"deep": [f"a{S}", {f"k{S}": f"v{S}\x00"}]},
    }
    status, answer = await _post(http, ROUTES[0], _escaped(payload), JSON)
    assert status == 201, answer
    lead = await _stored_lead(sessions)
    assert (lead.name, lead.message, lead.service, lead.source, lead.external_id) == (
        f"Iv{R}an",
        f"Need a quote {R}",
        f"tour{R}",
        f"site{R}",
        f"req-{R}",
    )
    assert lead.utm == {"utm_source": f"ya{R}", f"utm_{R}": "x"}
    assert lead.extra == {f"form{R}": {"deep": [f"a{R}", {f"k{R}": f"v{R}{R}"}]}}
    card = await _card_reached(emulator, ANNA, lead.id)
    assert f"Iv{R}an" in card and f"Need a quote {R}" in card
    await outbox_sent(sessions)
    assert await _count(sessions, OutboxMessage) > 0
    async with sessions() as session:
        failed = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.FAILED)
        )
    assert failed == 0


def _mango_form(payload: dict[str, Any]) -> bytes:
    text = json.dumps(payload)
    sign = hashlib.sha256((MANGO_KEY + text + MANGO_SALT).encode()).hexdigest()
    return urlencode({"vpbx_api_key": MANGO_KEY, "sign": sign, "json": text}).encode()


MANGO_SUMMARY = {
    "entry_id": f"entry-{S}",
    "call_direction": 1,
    "from": {"number": "79001234567", f"x{S}": S},
    "to": {"extension": "101", "number": "74950000000"},
    "create_time": 1767603720,
    "talk_time": 0,
    "end_time": 1767603750,
    "entry_result": 0,
}
SURROGATE_LEADS = {
    "tilda": (
        f"/hooks/tilda?token={INTAKE_TOKEN}",
        {"Name": f"Ol{S}ga", "Phone": "+79007654321", "utm_source": f"ya{S}", f"Tour{S}": S},
    ),
    "cf7": (
        f"/hooks/cf7?token={INTAKE_TOKEN}",
        {"your-name": f"Ol{S}ga", "your-phone": "89007654321"},
    ),
    "elementor": (
        f"/hooks/elementor?token={INTAKE_TOKEN}",
        {
            "fields": {
                "name": {"id": "name", "value": f"Ol{S}ga"},
                "tel": {"id": "phone", "type": "tel", "value": "89007654321"},
            }
        },
    ),
    "vk": (
        "/hooks/vk",
        {
            "type": "lead_forms_new",
            "secret": VK_SECRET,
            "event_id": f"ev{S}",
            "object": {
                "lead_id": 7,
                "answers": [
                    {"key": "first_name", "answer": f"Ol{S}ga"},
                    {"key": "phone_number", "answer": "+79007654321"},
                    {"key": f"custom{S}", "question": S, "answer": S},
                ],
            },
        },
    ),
    "bitrix24": (
        f"/rest/1/{INTAKE_TOKEN}/crm.lead.add.json",
        {"fields": {"NAME": f"Ol{S}ga", "PHONE": [{"VALUE": "+79007654321"}], f"UF{S}": S}},
    ),
}


@pytest.mark.parametrize("builder", list(SURROGATE_LEADS), ids=str)
async def test_unpaired_surrogates_from_a_site_builder_are_kept_as_u_fffd(
    http: aiohttp.ClientSession, emulator: TelegramEmulator, sessions: SessionFactory, builder: str
) -> None:
    """The same rule on every builder's hook: 200 (builders retry anything else forever), the
    lead stored with U+FFFD in place of the half emoji, its card sent."""
    await _staff_started(emulator)
    path, payload = SURROGATE_LEADS[builder]
    async with http.post(path, data=_escaped(payload), headers={"Content-Type": JSON}) as response:
        assert response.status == 200, await response.text()
    lead = await _stored_lead(sessions)
    assert lead.name == f"Ol{R}ga"
    await _card_reached(emulator, ANNA, lead.id)


async def test_unpaired_surrogates_and_nul_in_call_events_are_kept_as_u_fffd(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    """A PBX sending "\\ud800" or NUL in a call id gets its call recorded (not a 503 it would
    retry forever), on the API, on Mango (inside the signed json field) and on Zadarma."""
    call = {
        "call_id": f"c-{S}",
        "direction": "in",
        "status": "missed",
        "from": "+79001234567",
        "started_at": "2026-01-05T12:02:00+03:00",
        f"x{S}": S,
    }
    status, answer = await _post(http, ROUTES[1], _escaped(call), JSON)
    assert status == 201 and answer["call_id"] == f"c-{R}", answer
    mango = Route("/hooks/mango/events/summary", (FORM,))
    status, answer = await _post(http, mango, _mango_form(MANGO_SUMMARY), FORM)
    assert status == 200 and answer["recorded"], answer
    async with sessions() as session:
        calls = (await session.scalars(select(Call).order_by(Call.id))).all()
    zadarma = {
        "event": "NOTIFY_END",
        "call_start": "2026-01-05 12:05:00",
        "pbx_call_id": "in\x00nul",
        "caller_id": "79001234567",
        "called_did": "74950000000",
        "duration": "0",
        "disposition": "cancel",
    }
    signature = zadarma_signature(zadarma, ZADARMA_SECRET)
    async with http.post(
        "/hooks/zadarma",
        data=urlencode(zadarma),
        headers={"Signature": signature, "Content-Type": FORM},
    ) as response:
        assert response.status == 200, await response.text()
    async with sessions() as session:
        calls = (await session.scalars(select(Call).order_by(Call.id))).all()
    assert [c.call_id for c in calls] == [f"c-{R}", f"entry-{R}", f"in{R}nul"]
    assert all(_no_surrogates(c.raw) for c in calls)


async def test_a_signed_mango_summary_with_a_time_past_year_9999_is_a_422(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    """Mango's own signature is right but its create_time is absurd: the PBX is told the
    payload cannot be read (422), not that the server failed (500, retried forever)."""
    summary = {**MANGO_SUMMARY, "entry_id": "e-1", "create_time": 10**20, "end_time": 10**20}
    mango = Route("/hooks/mango/events/summary", (FORM,))
    status, answer = await _post(http, mango, _mango_form(summary), FORM)
    assert status == 422, answer
    assert answer["error"]
    assert await _count(sessions, Call) == 0


async def test_a_10_kb_name_full_of_html_is_stored_whole_and_its_card_is_cut_and_escaped(
    http: aiohttp.ClientSession, emulator: TelegramEmulator, sessions: SessionFactory
) -> None:
    """A spam bot posts a 10 kB name of markup: the lead keeps every character, and the
    managers' card shows the markup as text, cut to fit one Telegram message."""
    await _staff_started(emulator)
    name = "<b>Ivan</b> <a href='x'>&amp;" + "Ω" * 10_000
    body = json.dumps({"name": name, "phone": "+79001234567"}).encode()
    status, answer = await _post(http, ROUTES[0], body, JSON)
    assert status == 201, answer
    lead = await _stored_lead(sessions)
    assert lead.name == name
    card = await _card_reached(emulator, ANNA, lead.id)
    assert "<b>Ivan</b> <a href='x'>&amp;" in card  # shown as typed, not as markup
    assert len(card) <= 4096
