"""Every HTTP route under a property-based fuzz (Hypothesis): arbitrary bytes, arbitrary JSON
values (lone surrogates, NaN, deep nesting), arbitrary form fields, with and without the right
token, signature or secret. Whatever comes, the sender gets an answer it can act on: never a
5xx, a JSON `error` with every 4xx, and a lead or call that was accepted (200/201) is stored
and reads back with what was sent.

Bounded: a fixed number of examples per test, no deadline, no example database (the run is
the same every time and leaves nothing behind)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.intake.input import IntakeError, parse_lead_input, read_json, storable
from bot.telephony.pbx import zadarma_signature
from storage.models import Call, Lead, LeadEvent
from tests.harness import (
    FORM,
    INTAKE_TOKEN,
    JSON,
    MANGO_KEY,
    MANGO_SALT,
    MULTIPART,
    SECRETS,
    VK_SECRET,
    ZADARMA_SECRET,
    running_app,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# route -> how its sender proves who it is (a token, a secret in the body, a signature)
LEAD_ROUTES = {
    "leads": "/api/v1/leads",
    "tilda": "/hooks/tilda",
    "cf7": "/hooks/cf7",
    "elementor": "/hooks/elementor",
    "vk": "/hooks/vk",
    "bitrix24": "/rest/1/{token}/crm.lead.add.json",
}
CALL_ROUTES = {
    "calls": "/api/v1/calls",
    "zadarma": "/hooks/zadarma",
    "mango-summary": "/hooks/mango/events/summary",
    "mango-call": "/hooks/mango/events/call",
}
ROUTES = [*LEAD_ROUTES, *CALL_ROUTES]


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> AsyncIterator[Application]:
    """No staff: accepted leads wait for someone on duty, so the fuzz times the routes, not
    the cards going out."""
    async with running_app(emulator, database_url, clock, **SECRETS) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


def _url(route: str, authorised: bool) -> tuple[str, dict[str, str]]:
    token = INTAKE_TOKEN if authorised else "wrong-token"
    path = {**LEAD_ROUTES, **CALL_ROUTES}[route].format(token=token)
    if route in ("leads", "calls"):
        return path, {"Authorization": f"Bearer {token}"}
    if route in ("tilda", "cf7", "elementor"):
        return f"{path}?token={token}", {}
    return path, {}


async def _send(
    http: aiohttp.ClientSession, path: str, headers: dict[str, str], body: bytes, kind: str
) -> tuple[int, str, Any]:
    async with http.post(path, data=body, headers={**headers, "Content-Type": kind}) as response:
        text = await response.text()
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    return response.status, text, answer


def _answered_well(status: int, text: str, answer: Any) -> None:
    """Never the server's fault; a refusal says why, as JSON."""
    assert status < 500, (status, text[:300])
    if 400 <= status < 500:
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str), text[:300]


# --- what the fuzz sends -----------------------------------------------------------------------

ODD = st.sampled_from(["\ud800", "\udfff", "x\ud83d", "\x00", "<b>&amp;</b><script>", "😀"]) | (
    st.sampled_from(["İ", "Ω", "a"]).flatmap(lambda c: st.sampled_from([c * 70, c * 10_000]))
)
# any code point, lone surrogates and NUL included (JSON carries them as \ud800, \u0000)
TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | ODD
FORM_TEXT = (
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
    | st.sampled_from(["\x00", "<b>x</b>", "😀"])
    | st.just("Ω").map(lambda c: c * 5000)
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**40)
    | st.floats()
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
PHONES = st.sampled_from(["+79001234567", "8 (900) 765-43-21", "89161234567", "", "123", "call"])
LEAD_KEYS = ["name", "phone", "email", "message", "source", "service", "external_id"]
LEAD_KEYS += ["utm_source", "utm_campaign", "token", "Name", "Phone", "Comments", "your-name"]
LEAD_KEYS += ["your-phone", "fields[NAME]", "fields[PHONE][0][VALUE]", "test", "tranid"]
LEADISH = st.dictionaries(
    st.sampled_from(LEAD_KEYS) | TEXT,
    PHONES | TEXT | JSON_VALUES | st.emails(),
    max_size=8,
)
FORM_FIELDS = st.dictionaries(
    st.sampled_from(LEAD_KEYS) | FORM_TEXT, PHONES | FORM_TEXT | st.emails(), max_size=8
)
CALLISH = st.fixed_dictionaries(
    {},
    optional={
        "call_id": TEXT,
        "direction": st.sampled_from(["in", "out"]) | TEXT,
        "status": st.sampled_from(["missed", "answered", "busy", "no_answer"]) | TEXT,
        "from": PHONES | TEXT,
        "to": PHONES | TEXT,
        "started_at": st.sampled_from(["2026-01-05T12:02:00+03:00", "2026-01-05T12:02:00"])
        | st.integers()
        | st.floats()
        | TEXT,
        "duration": st.integers() | st.floats() | TEXT,
        "staff": TEXT | st.integers(),
    },
)
DEEP = st.integers(min_value=1, max_value=3000).flatmap(
    lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n])
)


def _json_body(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # lone surrogates as \ud800 escapes


def _form(fields: dict[str, str], multipart: bool) -> tuple[bytes, str]:
    if not multipart:
        return urlencode(fields, errors="surrogatepass").encode(), FORM
    boundary = "fuzzboundary7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode(
            errors="surrogatepass"
        )
        + value.encode(errors="surrogatepass")
        + b"\r\n"
        for key, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"{MULTIPART}; boundary={boundary}"


def _signed_json_form(route: str, value: Any, authorised: bool) -> dict[str, str]:
    """Mango's shape: the JSON in a form field, signed with the key and salt."""
    text = json.dumps(value, allow_nan=True)
    key = MANGO_KEY if authorised else "not-our-key"
    sign = hashlib.sha256((key + text + MANGO_SALT).encode(errors="surrogatepass")).hexdigest()
    return {"vpbx_api_key": key, "sign": sign, "json": text}


def _with_credentials(route: str, value: Any, authorised: bool) -> Any:
    if route == "vk" and isinstance(value, dict):
        value = {**value, "secret": VK_SECRET if authorised else "wrong"}
        value.setdefault("type", "lead_forms_new")
    return value


# --- what an accepted request must have left behind ---------------------------------------------


async def _stored(app: Application, route: str, sent: Any, status: int, answer: Any) -> None:
    if status not in (200, 201) or not isinstance(answer, dict):
        return
    async with app.sessions() as session:
        if route in CALL_ROUTES:
            results = answer if isinstance(answer, list) else [answer]
            for result in results:
                if result.get("recorded"):
                    call_id = result["call_id"]
                    found = await session.scalar(select(Call).where(Call.call_id == call_id))
                    assert found is not None, result
            return
        lead_id = answer.get("id", answer.get("result"))
        if lead_id is None:  # Tilda's probe, VK's "ok"
            return
        lead = await session.get(Lead, lead_id)
        assert lead is not None, answer
        if route != "leads" or not isinstance(sent, dict):
            return
        # what the API stored is what it was sent, surrogates and NUL as U+FFFD
        fields = {k: v for k, v in storable(sent).items() if k != "token"}
        expected = parse_lead_input(fields, "RU")
        events = (
            await session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead_id))
        ).all()
    requests = [e.data for e in events if e.kind in ("created", "repeat_request")]
    if expected.external_id and status == 200:
        return  # the same request again: stored once, by design
    wanted = {"name": expected.name, "message": expected.message, "phone": expected.phone}
    assert any(all(data.get(k) == v for k, v in wanted.items()) for data in requests), (
        wanted,
        requests,
    )
    if status == 201:
        assert (lead.name, lead.message, lead.utm) == (
            expected.name,
            expected.message,
            expected.utm,
        )


def _parses(value: Any) -> bool:
    try:
        read_json(json.dumps(value, allow_nan=True))
        parse_lead_input(storable(value), "RU")
    except (ValueError, IntakeError):
        return False
    return True


# --- the properties ------------------------------------------------------------------------------


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    authorised=st.booleans(),
    body=st.binary(max_size=300) | DEEP.map(str.encode),
    kind=st.sampled_from([JSON, FORM, MULTIPART, f"{MULTIPART}; boundary=x", "text/plain", ""]),
)
async def test_any_bytes_on_any_route_get_an_answer_never_a_5xx(
    app: Application,
    http: aiohttp.ClientSession,
    route: str,
    authorised: bool,
    body: bytes,
    kind: str,
) -> None:
    path, headers = _url(route, authorised)
    status, text, answer = await _send(http, path, headers, body, kind)
    _answered_well(status, text, answer)
    await _stored(app, route, None, status, answer)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    authorised=st.booleans(),
    value=LEADISH | JSON_VALUES | st.lists(CALLISH, max_size=3) | CALLISH,
)
async def test_any_json_on_any_route_is_stored_as_sent_or_refused_with_a_reason(
    app: Application,
    http: aiohttp.ClientSession,
    route: str,
    authorised: bool,
    value: Any,
) -> None:
    path, headers = _url(route, authorised)
    value = _with_credentials(route, value, authorised)
    if route.startswith("mango"):
        body, kind = _form(_signed_json_form(route, value, authorised), multipart=False)
    elif route == "zadarma":
        body, kind = _json_body(value), JSON  # Zadarma sends forms: refused, 415
    else:
        body, kind = _json_body(value), JSON
    status, text, answer = await _send(http, path, headers, body, kind)
    _answered_well(status, text, answer)
    if route == "leads" and authorised and isinstance(value, dict) and _parses(value):
        assert status in (200, 201), (status, text[:300])  # a valid lead is never turned away
    await _stored(app, route, value, status, answer)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    authorised=st.booleans(),
    fields=FORM_FIELDS | st.fixed_dictionaries({}, optional={"event": st.just("NOTIFY_END")}),
    multipart=st.booleans(),
)
async def test_any_form_fields_on_any_route_get_an_answer_never_a_5xx(
    app: Application,
    http: aiohttp.ClientSession,
    route: str,
    authorised: bool,
    fields: dict[str, str],
    multipart: bool,
) -> None:
    path, headers = _url(route, authorised)
    if route == "zadarma":
        fields = {"call_start": "2026-01-05 12:02:00", "disposition": "cancel", **fields}
        secret = ZADARMA_SECRET if authorised else "wrong"
        headers = {"Signature": zadarma_signature(fields, secret)}
    body, kind = _form(fields, multipart)
    status, text, answer = await _send(http, path, headers, body, kind)
    _answered_well(status, text, answer)
    sent = dict(fields) if route == "leads" and not multipart else None
    if sent is not None:  # a form's percent-escapes of a lone surrogate arrive as U+FFFD
        sent = {
            k.encode(errors="surrogatepass").decode(errors="replace"): v.encode(
                errors="surrogatepass"
            ).decode(errors="replace")
            for k, v in sent.items()
        }
    await _stored(app, route, sent, status, answer)
