"""Site builders' webhooks as the builders send them: Tilda, Contact Form 7, Elementor, VK lead
forms and Bitrix24-shaped crm.lead.add, against the real running application."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Lead, Staff
from tests.harness import ANNA, BORIS, INTAKE_TOKEN, running_app

VK_SECRET = "vk-secret-for-tests"
VK_CODE = "5d7e2f1a"
Q = f"?token={INTAKE_TOKEN}"
BITRIX = f"/rest/1/{INTAKE_TOKEN}/crm.lead.add.json"


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(
        emulator, database_url, clock, vk_secret=VK_SECRET, vk_confirmation_code=VK_CODE
    ) as application:
        yield application


@pytest.fixture
async def http(app: Application) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as session:
        yield session


async def _leads(sessions: SessionFactory) -> list[Lead]:
    async with sessions() as session:
        return list((await session.scalars(select(Lead).order_by(Lead.id))).all())


async def _count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Lead)) or 0)


# What Tilda posts (form-encoded): its default variable names, a custom field, its ids, UTM tags
TILDA = {
    "Name": "Ольга Смирнова",
    "Phone": "+7 (900) 765-43-21",
    "Email": "Olga@Example.ru",
    "Comments": "Хочу тур на Алтай в июле",
    "Tour": "Алтай, 7 дней",
    "utm_source": "yandex",
    "tranid": "7654321:1234567890",
    "formid": "form456789012",
}

# What "CF7 to Webhook" posts (JSON keyed by form-tag names; a checkbox is a list)
CF7 = {
    "your-name": "Ivan Petrov",
    "your-email": "ivan@example.com",
    "your-phone": "8 900 123-45-67",
    "your-message": "Need a quote for 20 people",
    "your-subject": "Group tour",
    "checkbox-dates": ["June", "July"],
    "acceptance-gdpr": "1",
}

# Elementor Pro "Webhook" with "Advanced Data" on: a PHP array as form fields
ELEMENTOR_ADVANCED = {
    "form[id]": "4e1c2b7",
    "form[name]": "Contact form",
    "fields[name][id]": "name",
    "fields[name][type]": "text",
    "fields[name][title]": "Имя",
    "fields[name][value]": "Анна",
    "fields[name][raw_value]": "Анна",
    "fields[name][required]": "1",
    "fields[field_5a1][id]": "field_5a1",
    "fields[field_5a1][type]": "tel",
    "fields[field_5a1][title]": "Мобильный",
    "fields[field_5a1][value]": "+7 911 222-33-44",
    "fields[field_5a1][raw_value]": "+7 911 222-33-44",
    "fields[field_5a1][required]": "0",
    "fields[email][id]": "email",
    "fields[email][type]": "email",
    "fields[email][title]": "Email",
    "fields[email][value]": "anna@example.org",
    "fields[email][raw_value]": "anna@example.org",
    "fields[email][required]": "1",
    "fields[message][id]": "message",
    "fields[message][type]": "textarea",
    "fields[message][title]": "Сообщение",
    "fields[message][value]": "Перезвоните вечером",
    "fields[message][raw_value]": "Перезвоните вечером",
    "fields[message][required]": "0",
    "meta[date][title]": "Date",
    "meta[date][value]": "June 3, 2025",
    "meta[page_url][title]": "Page URL",
    "meta[page_url][value]": "https://example.org/contact/",
    "meta[remote_ip][title]": "Remote IP",
    "meta[remote_ip][value]": "203.0.113.7",
}

# Elementor Pro "Webhook", Advanced Data off: each field's label, the meta rows, the form's id
ELEMENTOR_SIMPLE = {
    "Name": "Анна",
    "Phone": "+7 911 222-33-44",
    "Email": "anna@example.org",
    "Message": "Перезвоните вечером",
    "Date": "June 3, 2025",
    "Time": "10:15 am",
    "Page URL": "https://example.org/contact/",
    "Remote IP": "203.0.113.7",
    "form_id": "4e1c2b7",
    "form_name": "Contact form",
}


def vk_event(
    event_id: str,
    lead_id: int,
    phone: str = "+79161234567",
    secret: str = VK_SECRET,
    email: str = "petr@example.ru",
) -> dict[str, Any]:
    """VK Callback API lead_forms_new, as the community's server receives it."""
    return {
        "group_id": 218000111,
        "type": "lead_forms_new",
        "event_id": event_id,
        "v": "5.199",
        "secret": secret,
        "object": {
            "lead_id": lead_id,
            "group_id": 218000111,
            "user_id": 512345678,
            "form_id": 3,
            "form_name": "Запись на консультацию",
            "ad_id": 0,
            "answers": [
                {"key": "first_name", "question": "Имя", "answer": "Пётр"},
                {"key": "last_name", "question": "Фамилия", "answer": "Иванов"},
                {"key": "phone_number", "question": "Номер телефона", "answer": phone},
                {"key": "email", "question": "Email", "answer": email},
                {"key": "custom_0", "question": "Удобное время", "answer": "после 18:00"},
            ],
        },
    }


async def test_tilda_test_probe_answers_ok_and_stores_nothing(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    async with http.post(f"/hooks/tilda{Q}", data={"test": "test"}) as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert await _count(sessions) == 0


async def test_tilda_lead_reaches_a_manager_and_a_retry_stores_nothing(
    http: aiohttp.ClientSession, emulator: TelegramEmulator, sessions: SessionFactory
) -> None:
    for who in (ANNA, BORIS):  # staff press Start once, as Telegram requires
        emulator.send_text(who, "/start")
    await emulator.wait_for(lambda: all(emulator.chat_messages(c) for c in (ANNA, BORIS)))
    async with http.post(f"/hooks/tilda{Q}", data=TILDA) as response:
        assert response.status == 200  # builders treat anything but 200 as a failure
        first = await response.json()
    assert first == {"id": 1, "status": "new", "duplicate_of": None, "created": True}
    [lead] = await _leads(sessions)
    assert (lead.source, lead.external_id, lead.name, lead.phone, lead.email, lead.message) == (
        "tilda",
        "7654321:1234567890",
        "Ольга Смирнова",
        "+79007654321",
        "olga@example.ru",
        "Хочу тур на Алтай в июле",
    )
    assert lead.utm == {"utm_source": "yandex"}
    assert lead.extra["Tour"] == "Алтай, 7 дней" and lead.extra["form_id"] == "form456789012"
    assert lead.extra["raw"]["tranid"] == "7654321:1234567890"

    def card() -> Any:
        return next((m for m in emulator.chat_messages(ANNA) if "Lead #1" in (m.text or "")), None)

    await emulator.wait_for(card)
    text = card().text
    assert "Ольга Смирнова" in text and "+7 900 765-43-21" in text
    assert "Хочу тур на Алтай в июле" in text

    async with http.post(f"/hooks/tilda{Q}", data=TILDA) as again:  # Tilda retries
        assert again.status == 200
        assert await again.json() == {**first, "created": False}
    assert await _count(sessions) == 1


async def test_tilda_field_names_are_read_case_insensitively(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    form = {"NAME": "Oleg", "phone": "89005554433", "tranid": "1:2", "formid": "f"}
    async with http.post(f"/hooks/tilda{Q}", data=form) as response:
        assert response.status == 200
    [lead] = await _leads(sessions)
    assert (lead.name, lead.phone) == ("Oleg", "+79005554433")


async def test_contact_form_7_json_by_form_tags(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    async with http.post(f"/hooks/cf7{Q}", json=CF7) as response:
        assert response.status == 200
        assert (await response.json())["created"] is True
    [lead] = await _leads(sessions)
    assert (lead.source, lead.name, lead.phone, lead.email, lead.message) == (
        "cf7",
        "Ivan Petrov",
        "+79001234567",
        "ivan@example.com",
        "Need a quote for 20 people",
    )
    assert lead.extra["checkbox-dates"] == ["June", "July"]
    assert lead.extra["your-subject"] == "Group tour"
    assert lead.extra["raw"] == CF7


@pytest.mark.parametrize("form", [ELEMENTOR_ADVANCED, ELEMENTOR_SIMPLE], ids=["advanced", "plain"])
async def test_elementor_webhook_in_both_shapes(
    http: aiohttp.ClientSession, sessions: SessionFactory, form: dict[str, str]
) -> None:
    async with http.post(f"/hooks/elementor{Q}", data=form) as response:
        assert response.status == 200
    [lead] = await _leads(sessions)
    assert (lead.source, lead.name, lead.phone, lead.email, lead.message) == (
        "elementor",
        "Анна",
        "+79112223344",
        "anna@example.org",
        "Перезвоните вечером",
    )
    assert lead.extra["form_id"] == "4e1c2b7"
    page = lead.extra.get("meta_page_url") or lead.extra.get("Page URL")
    assert page == "https://example.org/contact/"


async def test_vk_confirmation_answers_the_code(http: aiohttp.ClientSession) -> None:
    event = {"type": "confirmation", "group_id": 218000111, "secret": VK_SECRET}
    async with http.post("/hooks/vk", json=event) as response:
        assert (response.status, await response.text()) == (200, VK_CODE)


async def test_vk_lead_form_is_stored_once_however_often_vk_repeats_it(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    async with http.post("/hooks/vk", json=vk_event("ev-1", 101)) as response:
        assert (response.status, await response.text()) == (200, "ok")
    [lead] = await _leads(sessions)
    assert (lead.source, lead.external_id, lead.name, lead.phone, lead.email) == (
        "vk",
        "101",
        "Пётр Иванов",
        "+79161234567",
        "petr@example.ru",
    )
    assert lead.extra["custom_0"] == "после 18:00" and lead.extra["vk_form_id"] == 3
    assert "secret" not in lead.extra["raw"]
    # the same event id again is answered without a look, even if its content differs
    someone_else = vk_event("ev-1", 102, "+79160000000", email="other@example.ru")
    async with http.post("/hooks/vk", json=someone_else) as again:
        assert (again.status, await again.text()) == (200, "ok")
    # the same lead under a new event id is the same lead
    async with http.post("/hooks/vk", json=vk_event("ev-2", 101)) as again:
        assert (again.status, await again.text()) == (200, "ok")
    assert await _count(sessions) == 1
    other = {
        "type": "wall_post_new",
        "event_id": "ev-3",
        "group_id": 1,
        "secret": VK_SECRET,
        "object": {"id": 5},
    }
    async with http.post("/hooks/vk", json=other) as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert await _count(sessions) == 1


async def test_vk_wrong_or_missing_secret_is_403(
    http: aiohttp.ClientSession, sessions: SessionFactory
) -> None:
    wrong = vk_event("ev-9", 109, secret="guess")
    missing = {k: v for k, v in vk_event("ev-9", 109).items() if k != "secret"}
    confirmation = {"type": "confirmation", "group_id": 1, "secret": "guess"}
    for event in (wrong, missing, confirmation):
        async with http.post("/hooks/vk", json=event) as response:
            assert response.status == 403
            assert VK_CODE not in await response.text()
    assert await _count(sessions) == 0


async def test_vk_is_off_without_its_secret(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    async with (
        running_app(emulator, database_url, clock, vk_secret="", vk_confirmation_code="") as app,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{app.http_port}") as http,
    ):
        for event in (
            {"type": "confirmation", "group_id": 1, "secret": ""},
            {"type": "confirmation", "group_id": 1},
        ):
            async with http.post("/hooks/vk", json=event) as response:
                assert response.status == 403


@pytest.mark.parametrize("body_as", ["form", "json"])
async def test_bitrix24_crm_lead_add(
    http: aiohttp.ClientSession, sessions: SessionFactory, body_as: str
) -> None:
    fields = {
        "TITLE": "Заявка с сайта",
        "NAME": "Мария",
        "LAST_NAME": "Кузнецова",
        "PHONE": [{"VALUE": "8 (912) 345-67-89", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "maria@example.ru", "VALUE_TYPE": "WORK"}],
        "COMMENTS": "Интересует корпоратив",
        "SOURCE_ID": "WEB",
    }
    if body_as == "json":
        request = {"json": {"fields": fields, "params": {"REGISTER_SONET_EVENT": "Y"}}}
    else:
        request = {
            "data": {
                "fields[TITLE]": "Заявка с сайта",
                "fields[NAME]": "Мария",
                "fields[LAST_NAME]": "Кузнецова",
                "fields[PHONE][0][VALUE]": "8 (912) 345-67-89",
                "fields[PHONE][0][VALUE_TYPE]": "WORK",
                "fields[EMAIL][0][VALUE]": "maria@example.ru",
                "fields[EMAIL][0][VALUE_TYPE]": "WORK",
                "fields[COMMENTS]": "Интересует корпоратив",
                "fields[SOURCE_ID]": "WEB",
                "params[REGISTER_SONET_EVENT]": "Y",
            }
        }
    async with http.post(BITRIX, **request) as response:
        assert response.status == 200
        assert await response.json() == {"result": 1}
    [lead] = await _leads(sessions)
    assert (lead.source, lead.name, lead.phone, lead.email, lead.message) == (
        "bitrix24",
        "Мария Кузнецова",
        "+79123456789",
        "maria@example.ru",
        "Интересует корпоратив",
    )
    assert lead.extra["title"] == "Заявка с сайта" and lead.extra["source_id"] == "WEB"


@pytest.mark.parametrize(
    ("path", "request_args"),
    [
        ("/hooks/tilda?token=wrong", {"data": TILDA}),
        ("/hooks/tilda", {"data": {"test": "test"}}),
        ("/hooks/cf7?token=wrong", {"json": CF7}),
        ("/hooks/cf7", {"json": CF7}),
        ("/hooks/elementor?token=wrong", {"data": ELEMENTOR_SIMPLE}),
        ("/rest/1/wrong/crm.lead.add.json", {"json": {"fields": {"PHONE": "+79001234567"}}}),
    ],
)
async def test_wrong_or_missing_token_is_403(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    path: str,
    request_args: dict[str, Any],
) -> None:
    async with http.post(path, **request_args) as response:
        assert response.status == 403
    assert await _count(sessions) == 0


@pytest.mark.parametrize(
    ("path", "request_args", "error"),
    [
        (
            f"/hooks/tilda{Q}",
            {"data": {"Tour": "Алтай", "tranid": "1:1", "formid": "f"}},
            "no phone, e-mail, name or message among the fields (Tour)",
        ),
        (
            f"/hooks/tilda{Q}",
            {"data": {"Name": "Oleg", "Phone": "call me", "tranid": "1:2"}},
            "phone",
        ),
        (
            f"/hooks/cf7{Q}",
            {"json": {"acceptance-gdpr": "1", "menu-city": "Omsk"}},
            "no phone, e-mail, name or message",
        ),
        (
            f"/hooks/elementor{Q}",
            {
                "data": {
                    "fields[x][id]": "x",
                    "fields[x][type]": "text",
                    "fields[x][title]": "City",
                    "fields[x][value]": "Omsk",
                }
            },
            "no phone, e-mail, name or message among the fields (x)",
        ),
        (
            "/hooks/vk",
            {
                "json": {
                    "type": "lead_forms_new",
                    "event_id": "e",
                    "secret": VK_SECRET,
                    "object": {"lead_id": 7, "answers": "not a list"},
                }
            },
            "without answers",
        ),
        (
            "/hooks/vk",
            {
                "json": {
                    **vk_event("e2", 8),
                    "object": {
                        "lead_id": 8,
                        "answers": [{"key": "custom_0", "question": "Город", "answer": "Омск"}],
                    },
                }
            },
            "no phone, e-mail, name or message",
        ),
        (BITRIX, {"json": {"FIELDS_TYPO": {"NAME": "x"}}}, "no fields"),
        (BITRIX, {"data": {"fields[TITLE]": "Заявка"}}, "no phone, e-mail, name or message"),
    ],
)
async def test_unreadable_payload_is_422_with_what_is_missing(
    http: aiohttp.ClientSession,
    sessions: SessionFactory,
    path: str,
    request_args: dict[str, Any],
    error: str,
) -> None:
    async with http.post(path, **request_args) as response:
        assert response.status == 422
        assert error in (await response.json())["error"]
    assert await _count(sessions) == 0


@pytest.mark.parametrize("path", [f"/hooks/tilda{Q}", f"/hooks/cf7{Q}", "/hooks/vk", BITRIX])
async def test_oversized_body_is_413(
    http: aiohttp.ClientSession, sessions: SessionFactory, path: str
) -> None:
    body = json.dumps({"Comments": "x" * 70_000, "secret": VK_SECRET})
    async with http.post(path, data=body, headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
    assert await _count(sessions) == 0
