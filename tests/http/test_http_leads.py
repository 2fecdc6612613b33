"""The leads API as another system meets it: GET /api/v1/leads and /api/v1/leads/{id} with
API_TOKEN, paging while web forms keep posting leads, and every refusal as JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL as URL_

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.leads.actions import junk_lead, take_lead
from bot.leads.notes import add_note
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import Role, Staff
from tests.harness import ANNA, BORIS, INTAKE_TOKEN, SVETA, TOKEN, running_app

API_TOKEN = "leads-reader-secret-for-tests"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
URL = "/api/v1/leads"


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN)
    await emu.start()
    emu.add_user(ANNA, "Anna")
    # the other managers' cards arrive too: none fails into the history the tests read
    emu.add_user(BORIS, "Boris")
    emu.add_user(SVETA, "Sveta")
    yield emu
    await emu.stop()


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, sessions: SessionFactory
) -> AsyncIterator[Application]:
    """A clean database (`sessions`), and no staff unless a test asks for them: leads wait for
    someone on duty, so no card is sent and the tests time the API, not Telegram's pace."""
    async with running_app(emulator, database_url, clock, api_token=API_TOKEN) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


_sent = iter(range(1, 1_000_000))


async def _post_lead(http: aiohttp.ClientSession, **fields: Any) -> int:
    """A web form posting a lead through the real intake (INTAKE_TOKEN): its id."""
    body = {"phone": f"+7901{next(_sent):07d}", "name": "Client", **fields}
    headers = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
    async with http.post(URL, json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def _get(
    http: aiohttp.ClientSession,
    path: str = URL,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> tuple[int, Any]:
    async with http.get(path, params=params, headers=AUTH if headers is None else headers) as r:
        assert r.content_type == "application/json"
        return r.status, await r.json()


async def _read_all(http: aiohttp.ClientSession, **params: Any) -> tuple[list[int], int]:
    """Every page from the start, as a client would read them: (ids in order, pages)."""
    ids: list[int] = []
    cursor, pages = None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        status, page = await _get(http, **query)
        assert status == 200, page
        pages += 1
        ids += [lead["id"] for lead in page["leads"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return ids, pages


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {INTAKE_TOKEN}"},
        {"Authorization": API_TOKEN},
    ],
    ids=["none", "wrong", "intake-token", "no-bearer"],
)
async def test_without_the_api_token_nothing_is_read(
    http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """No token, a wrong one, the web forms' INTAKE_TOKEN (which a form's page shows anyone),
    or the token without "Bearer": 401 on the list and on a lead, and no lead in the answer."""
    await _post_lead(http)
    for path in (URL, f"{URL}/1"):
        status, body = await _get(http, path, headers=headers)
        assert (status, body) == (401, {"error": "missing or wrong token", "field": None})


async def test_the_api_token_in_the_url_is_not_enough(http: aiohttp.ClientSession) -> None:
    """A reading token goes in the header only (a URL ends up in logs): ?token= is 401."""
    status, _ = await _get(http, headers={}, token=API_TOKEN)
    assert status == 401


async def test_without_api_token_configured_it_is_503(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock
) -> None:
    async with running_app(emulator, database_url, clock) as application:
        base = f"http://127.0.0.1:{application.http_port}"
        async with aiohttp.ClientSession(base_url=base) as http:
            status, body = await _get(http)
    assert status == 503 and "API_TOKEN" in body["error"]


async def test_a_lead_that_is_not_there_is_404(http: aiohttp.ClientSession) -> None:
    status, body = await _get(http, f"{URL}/999")
    assert (status, body) == (404, {"error": "no lead #999", "field": "id"})


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (URL, {"status": "lost"}, "status"),
        (URL, {"status": ["new", "NEW"]}, "status"),
        (URL, {"limit": "0"}, "limit"),
        (URL, {"limit": "501"}, "limit"),
        (URL, {"limit": "ten"}, "limit"),
        (URL, {"limit": "1.5"}, "limit"),
        (URL, {"owner": "anna"}, "owner"),
        (URL, {"owner": "9" * 25}, "owner"),
        (URL, {"created_since": "yesterday"}, "created_since"),
        (URL, {"created_since": "2026-01-05T09:00:00"}, "created_since"),
        (URL, {"created_since": "1767600000"}, "created_since"),
        (URL, {"updated_since": "2026-01-05"}, "updated_since"),
        (URL, {"updated_since": "0001-01-01T00:00:00+05:00"}, "updated_since"),
        (URL, {"sort": "newest"}, "sort"),
        (URL, {"source": ""}, "source"),
        (URL, {"source": "s" * 65}, "source"),
        (URL, {"cursor": "not-a-cursor"}, "cursor"),
        (URL, {"cursor": "W10"}, "cursor"),  # base64 of "[]"
        (URL, {"cursor": "x" * 300}, "cursor"),
        (URL, {"cursor": "eyJzIjogImlkIiwgImkiOiAxMDk5NTExNjI3Nzc2fQ"}, "cursor"),  # id 2**40
        (URL, {"stauts": "new"}, "stauts"),  # a mistyped filter is refused, not ignored
        (f"{URL}/abc", {}, "id"),
        (f"{URL}/0", {}, "id"),
        (f"{URL}/1e3", {}, "id"),
        (f"{URL}/{'9' * 30}", {}, "id"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    http: aiohttp.ClientSession, path: str, params: dict[str, Any], field: str
) -> None:
    """What the client sees: 422, `field` names the parameter, `error` says what is wrong."""
    query = [
        (k, v)
        for k, values in params.items()
        for v in ([values] if isinstance(values, str) else values)
    ]
    async with http.get(path, params=query, headers=AUTH) as response:
        body = await response.json()
    assert response.status == 422 and body["field"] == field and body["error"], body


async def test_a_cursor_is_read_only_in_the_order_it_was_made_for(
    http: aiohttp.ClientSession,
) -> None:
    for _ in range(3):
        await _post_lead(http)
    _, page = await _get(http, limit="2")
    status, body = await _get(http, sort="updated_at", cursor=page["next_cursor"])
    assert (status, body["field"]) == (422, "cursor")
    assert "sort=updated_at" in body["error"]


@pytest.mark.parametrize("sort", ["id", "updated_at"])
async def test_paging_while_forms_keep_posting_skips_and_repeats_nothing(
    http: aiohttp.ClientSession, sort: str
) -> None:
    """30 leads, then a web form posts a lead every few milliseconds while the client reads
    pages of 7. The client gets strictly increasing ids with no gap: every lead up to the last
    one it read, once."""
    for _ in range(30):
        await _post_lead(http)
    stop = asyncio.Event()

    async def form() -> int:
        posted = 0
        while not stop.is_set():
            await _post_lead(http)
            posted += 1
            await asyncio.sleep(0.002)
        return posted

    poster = asyncio.create_task(form())
    try:
        ids, pages = await _read_all(http, limit="7", sort=sort)
    finally:
        stop.set()
        posted = await poster
    assert posted > 0 and pages >= 5
    assert ids == list(range(1, len(ids) + 1))  # no gap, no repeat, in order
    assert len(ids) >= 30


async def test_leads_posted_between_pages_are_read_once_each(
    http: aiohttp.ClientSession,
) -> None:
    """12 leads, pages of 5; after each of the first three pages 2 more are posted: 18 leads in
    4 pages (5, 5, 5, 3), each once. A kept cursor then reads the two posted afterwards."""
    for _ in range(12):
        await _post_lead(http)
    ids: list[int] = []
    cursor = None
    for expected_more in (True, True, True, False):
        query = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        _, page = await _get(http, **query)
        ids += [lead["id"] for lead in page["leads"]]
        assert page["has_more"] is expected_more
        cursor = page["next_cursor"]
        if expected_more:
            await _post_lead(http)
            await _post_lead(http)
    assert ids == list(range(1, 19))
    _, empty = await _get(http, cursor=cursor)
    assert empty == {"leads": [], "has_more": False, "next_cursor": cursor}
    await _post_lead(http)
    await _post_lead(http)
    _, later = await _get(http, cursor=cursor)
    assert [lead["id"] for lead in later["leads"]] == [19, 20]


async def test_filters(
    http: aiohttp.ClientSession,
    app: Application,
    sessions: SessionFactory,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    """Leads 1-2 from web_form at 09:00 (Moscow 12:00), 3 from tilda at 10:00; Anna takes 1 at
    10:30. Filters by status (one or two), source, owner and the times (offsets read as such)."""
    await _post_lead(http)
    await _post_lead(http)
    clock.advance(timedelta(hours=1))
    await _post_lead(http, source="tilda")
    async with sessions() as session:
        assert (await take_lead(session, 1, staff["anna"], clock.advance(timedelta(minutes=30)))).ok

    async def ids(*params: tuple[str, str]) -> list[int]:
        async with http.get(URL, params=list(params), headers=AUTH) as response:
            assert response.status == 200
            return [lead["id"] for lead in (await response.json())["leads"]]

    assert await ids() == [1, 2, 3]
    assert await ids(("status", "new")) == [2, 3]
    assert await ids(("status", "new"), ("status", "in_work")) == [1, 2, 3]
    assert await ids(("source", "tilda")) == [3]
    assert await ids(("owner", str(ANNA))) == [1]
    assert await ids(("owner", "42")) == []
    assert await ids(("created_since", "2026-01-05T10:00:00Z")) == [3]
    assert await ids(("created_since", "2026-01-05T12:00:01+03:00")) == [3]
    assert await ids(("updated_since", "2026-01-05T10:30:00Z")) == [1]
    assert await ids(("updated_since", "2026-01-05T10:00:00Z"), ("sort", "updated_at")) == [3, 1]
    assert await ids(("status", "in_work"), ("source", "tilda")) == []


async def test_one_lead_with_its_events(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    """A lead from a form, taken by Anna, with her note: the answer is the lead as it is now
    (in work, Anna's, version 2... ) and its history oldest first, each event with who did it."""
    lead_id = await _post_lead(
        http, name="Ivan", message="Need a quote", utm_source="vk", color="blue"
    )
    async with sessions() as session:
        taken_at = clock.advance(timedelta(minutes=4))
        assert (await take_lead(session, lead_id, staff["anna"], taken_at)).ok
        noted_at = clock.advance(timedelta(minutes=1))
        assert (await add_note(session, lead_id, staff["anna"], "called, no answer", noted_at)).ok
    status, lead = await _get(http, f"{URL}/{lead_id}")
    assert status == 200
    assert {k: lead[k] for k in ("id", "status", "source", "name", "message", "utm", "extra")} == {
        "id": 1,
        "status": "in_work",
        "source": "web_form",
        "name": "Ivan",
        "message": "Need a quote",
        "utm": {"utm_source": "vk"},
        "extra": {"color": "blue"},
    }
    assert lead["owner"] == {"telegram_id": ANNA, "name": "Anna"}
    assert lead["phone"].startswith("+7901") and lead["amount"] is None
    assert (lead["created_at"], lead["taken_at"]) == (
        "2026-01-05T09:00:00Z",
        "2026-01-05T09:04:00Z",
    )
    assert lead["updated_at"] == "2026-01-05T09:05:00Z"  # the note touched it
    kinds = [(event["kind"], event["actor"], event["at"]) for event in lead["events"]]
    assert kinds == [
        ("created", None, "2026-01-05T09:00:00Z"),
        ("taken", {"telegram_id": ANNA, "name": "Anna"}, "2026-01-05T09:04:00Z"),
        ("note", {"telegram_id": ANNA, "name": "Anna"}, "2026-01-05T09:05:00Z"),
    ]
    assert lead["events"][2]["data"] == {"text": "called, no answer"}
    assert lead["events_omitted"] == 0
    # the list shows the same lead, without the events
    _, page = await _get(http)
    [listed] = page["leads"]
    assert listed == {k: v for k, v in lead.items() if k not in ("events", "events_omitted")}


async def test_hostile_strings_come_back_as_sent_in_valid_json(
    http: aiohttp.ClientSession,
) -> None:
    """HTML, quotes and backslashes, emoji, a 10 kB message, right-to-left marks and a NUL:
    the reader gets the same text back (NUL as U+FFFD, as stored), as JSON text, never markup."""
    hostile = {
        "name": '<script>alert("x")</script> \\"; DROP TABLE leads; --',
        "message": "🙂" * 2500 + "\u202e" + "x" * 2500,
        "service": "a\u0000b",
        "utm_campaign": "</json>{]",
        'note"key': "<b>&amp;</b>",
    }
    lead_id = await _post_lead(http, **hostile)
    async with http.get(f"{URL}/{lead_id}", headers=AUTH) as response:
        lead = await response.json()  # strict JSON, or this raises
    assert response.status == 200 and response.content_type == "application/json"
    assert lead["name"] == hostile["name"]
    assert lead["message"] == hostile["message"] and len(lead["message"]) == 5001
    assert lead["service"] == "a\ufffdb"
    assert lead["utm"] == {"utm_campaign": "</json>{]"}
    assert lead["extra"] == {'note"key': "<b>&amp;</b>"}


KEYS = ["status", "source", "owner", "created_since", "updated_since", "sort", "limit", "cursor"]
QUERY_BYTES = st.lists(
    st.tuples(
        st.sampled_from(KEYS).map(str.encode) | st.binary(max_size=12),
        st.binary(max_size=40)
        | st.sampled_from([b"new", b"in_work", b"\x00", b"\xff\xfe", b"9" * 40, b"-1", b"1e9"])
        | st.sampled_from([b"2026-01-05T09:00:00Z", b"9999-12-31T23:59:59-12:00", b"updated_at"]),
    ),
    max_size=5,
)


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=QUERY_BYTES, lead=st.binary(min_size=1, max_size=12) | st.just(b"1"))
async def test_any_bytes_in_the_query_or_the_id_get_an_answer_never_a_5xx(
    app: Application, http: aiohttp.ClientSession, query: list[tuple[bytes, bytes]], lead: bytes
) -> None:
    """Raw bytes, percent-escaped, as parameter names and values and as the lead's id (bad
    UTF-8, NUL, huge numbers, times past the calendar's end): the reader gets 200, or a 4xx
    with a JSON `error` — never the server's fault."""
    raw = "&".join(
        f"{quote_from_bytes(k, safe='')}={quote_from_bytes(v, safe='')}" for k, v in query
    )
    base = f"http://127.0.0.1:{app.http_port}"
    for path in (URL, f"{URL}/{quote_from_bytes(lead, safe='')}"):
        url = URL_(f"{base}{path}?{raw}", encoded=True)
        async with http.get(url, headers=AUTH) as response:
            text = await response.text()
        assert response.status < 500, (response.status, text[:300])
        if response.status >= 400 and response.status != 404:
            body = json.loads(text)
            assert isinstance(body["error"], str), text[:300]


async def test_a_lead_carries_its_score_and_reasons(
    http: aiohttp.ClientSession, app: Application, clock: ManualClock
) -> None:
    """No lead is closed yet, so the rule score speaks ([scoring.rules]): 30 to start, +15 for
    the phone, +10 for the e-mail = 55 %, the phone first (more points). The list says the
    same as the lead's own answer; a closed lead has no score (its outcome is known)."""
    lead_id = await _post_lead(http, email="client@example.com")
    status, lead = await _get(http, f"{URL}/{lead_id}")
    assert status == 200
    assert lead["score"] == 55
    assert lead["score_factors"] == [
        {"factor": "phone", "value": "yes", "ratio": None, "points": 15},
        {"factor": "email", "value": "yes", "ratio": None, "points": 10},
    ]
    status, page = await _get(http)
    assert [(item["id"], item["score"]) for item in page["leads"]] == [(lead_id, 55)]
    async with app.sessions() as session:
        manager = await add_staff(session, 4242, Role.MANAGER, "Kim", clock.now())
        reason = app.config.junk_reasons[0].code
        assert (
            await junk_lead(session, lead_id, manager, reason, None, clock.now(), app.config)
        ).ok
    status, lead = await _get(http, f"{URL}/{lead_id}")
    assert (lead["score"], lead["score_factors"]) == (None, [])
