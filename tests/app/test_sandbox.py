"""`leadbot sandbox` over HTTP: what the page's script gets and what its actions do.

The browser itself is driven in test_sandbox_browser.py; here a plain HTTP client plays the
page, so every refusal can be checked by its status and message.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.common.clock import next_morning
from bot.devtools.sandbox.runner import Sandbox
from storage.models import Role, Staff
from tests.sandbox import ALEX, ANNA, BORIS, KATE, MANAGERS, SVETA, card_text, running_sandbox


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    async with running_sandbox(database_url) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, sandbox: Sandbox, path: str, body: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(sandbox.page_url + path.lstrip("/"), json=body) as response:
        return response.status, await response.json()


class EventStream:
    """The page's server-sent events, read as the browser's EventSource reads them."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def next(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while True:
                line = (await self._response.content.readline()).decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])

    async def next_of(self, kind: str, **matching: Any) -> dict[str, Any]:
        while True:
            event = await self.next()
            if event["type"] == kind and all(event.get(k) == v for k, v in matching.items()):
                return event


async def test_a_demo_team_and_client_are_seeded_and_greeted(sandbox: Sandbox) -> None:
    """Two managers, a supervisor, an admin: staff in the database, each greeted by the bot
    after their /start; the client is greeted as a guest."""
    async with sandbox.app.sessions() as session:
        staff = {s.telegram_id: s.role for s in (await session.scalars(select(Staff))).all()}
    assert staff == {
        ANNA: Role.MANAGER,
        BORIS: Role.MANAGER,
        SVETA: Role.SUPERVISOR,
        ALEX: Role.ADMIN,
    }
    greeting = {p: sandbox.emulator.chat_messages(p)[0].text for p in (ANNA, SVETA, ALEX, KATE)}
    assert greeting[ANNA].startswith("👋 Anna, you are a manager.\nYou are on duty")
    assert greeting[SVETA].startswith("👋 Sveta, you are a supervisor.\nNew leads go to")
    assert greeting[ALEX].startswith("👋 Alex, you are an admin.")
    assert greeting[KATE].startswith("Hello! This is the sales team's bot.")


async def test_page_and_its_script_are_served_on_loopback(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    assert sandbox.page_url.startswith("http://127.0.0.1:")
    async with http.get(sandbox.page_url) as response:
        page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert "A web form sends a lead" in page and "/sandbox/static/sandbox.js" in page
    async with http.get(sandbox.page_url + "sandbox/static/sandbox.js") as response:
        assert response.status == 200
        assert "new EventSource" in await response.text()


async def test_page_speaks_russian_with_lang_ru(
    database_url: str, http: aiohttp.ClientSession
) -> None:
    async with running_sandbox(database_url, language="ru") as sandbox:
        async with http.get(sandbox.page_url) as response:
            page = await response.text()
        assert '<html lang="ru">' in page and "Заявка с сайта" in page
        assert sandbox.emulator.chat_messages(ANNA)[0].text.startswith("👋 Анна, вы — менеджер.")


async def test_web_form_lead_reaches_both_managers_live(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """The page's stream starts with a snapshot; a web-form lead then arrives in both
    managers' chats as a card with Take and Junk."""
    async with http.get(sandbox.page_url + "sandbox/events") as response:
        stream = EventStream(response)
        snapshot = await stream.next()
        assert snapshot["type"] == "snapshot"
        assert [p["name"] for p in snapshot["people"]] == ["Anna", "Boris", "Sveta", "Alex", "Kate"]
        assert snapshot["chats"][str(ANNA)]["messages"][0]["text"] == "/start"
        status, answer = await _post(
            http, sandbox, "/sandbox/web-form", {"name": "Maria", "phone": "8 900 123-45-67"}
        )
        assert answer.pop("telegram_link").startswith("https://t.me/")
        assert (status, answer) == (201, {"id": 1, "status": "new", "duplicate_of": None})
        cards: dict[int, dict[str, Any]] = {}
        while set(cards) != set(MANAGERS):  # the two cards are sent side by side, in any order
            event = await stream.next_of("message")
            cards[event["chat_id"]] = event["message"]
        for card in cards.values():
            # the lead score's line: no lead closed yet, so the rule score (30 + 15 for a phone)
            assert card["text"].startswith(
                "Lead #1 · website form\n🌤 45 % rules · phone +15\n👤 Maria\n📞 +7 900 123-45-67"
            )
            labels = [button["text"] for row in card["buttons"] for button in row]
            assert labels == ["✋ Take", "🚫 Refuse", "🗑 Junk"]


async def test_intake_refusals_pass_through_to_the_page(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """The page shows the intake's own answer: status, message and the field to fix."""
    status, answer = await _post(http, sandbox, "/sandbox/web-form", {"phone": "12"})
    assert status == 422 and answer["field"] == "phone"
    status, answer = await _post(http, sandbox, "/sandbox/web-form", {"name": "only a name"})
    assert status == 422 and "needs a phone, an e-mail or a message" in answer["error"]


async def test_a_person_writes_replies_and_shares_a_contact(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    greeting = sandbox.emulator.chat_messages(KATE)[0]
    reply = {"text": "Do you deliver?", "reply_to": greeting.message_id}
    status, _ = await _post(http, sandbox, f"/sandbox/chats/{KATE}/messages", reply)
    assert status == 200
    status, _ = await _post(http, sandbox, f"/sandbox/chats/{KATE}/contact", {})
    assert status == 200
    written, shared = sandbox.emulator.chat_history(KATE)[-2:]
    assert written["text"] == "Do you deliver?"
    assert written["reply_to_message"]["message_id"] == greeting.message_id
    assert shared["contact"] == {
        "phone_number": "+79005550101",
        "first_name": "Kate",
        "user_id": KATE,
    }


async def test_a_client_sends_a_photo_and_the_managers_get_a_copy(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, _ = await _post(http, sandbox, f"/sandbox/chats/{KATE}/photo", {"caption": "this one"})
    assert status == 200
    sent = sandbox.emulator.chat_history(KATE)[-1]
    assert sent["caption"] == "this one" and sent["photo"]

    def copied() -> bool:
        return any(
            m.kind == "sendPhoto" and m.text == "this one"
            for m in sandbox.emulator.chat_messages(ANNA)
        )

    await sandbox.emulator.wait_for(copied)


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (f"/sandbox/chats/{KATE}/messages", {"text": "   "}, 400, "a message needs some text"),
        (f"/sandbox/chats/{KATE}/messages", {"text": "x" * 4097}, 400, "at most 4096"),
        (f"/sandbox/chats/{KATE}/messages", {"text": 5}, 400, "text must be a string"),
        ("/sandbox/chats/999/messages", {"text": "hi"}, 404, "no one on the page has chat 999"),
        ("/sandbox/chats/abc/messages", {"text": "hi"}, 404, "no such chat"),
        (f"/sandbox/chats/{KATE}/messages", {"text": "hi", "reply_to": 99}, 404, "no message 99"),
        (f"/sandbox/chats/{KATE}/photo", {"caption": "x" * 1025}, 400, "at most 1024"),
        (f"/sandbox/chats/{KATE}/photo", {"caption": 7}, 400, "caption must be a string"),
        (f"/sandbox/chats/{ANNA}/buttons", {"message_id": 99, "data": "x"}, 404, "no message 99"),
        (f"/sandbox/chats/{ANNA}/buttons", {"message_id": "2", "data": "x"}, 400, "whole number"),
        (f"/sandbox/chats/{ANNA}/buttons", {"message_id": 2}, 400, "callback data"),
        ("/sandbox/clock", {"jump": "-1h"}, 400, "unknown jump '-1h'"),
        ("/sandbox/clock", ["10m"], 400, "must be a JSON object"),
    ],
)
async def test_bad_actions_are_refused_with_a_clear_error_and_change_nothing(
    sandbox: Sandbox, http: aiohttp.ClientSession, path: str, body: Any, status: int, error: str
) -> None:
    before = [sandbox.emulator.chat_history(p.telegram_id) for p in sandbox.people]
    clock_before = sandbox.clock.now()
    answer = await _post(http, sandbox, path, body)
    assert answer[0] == status and error in answer[1]["error"], answer
    assert [sandbox.emulator.chat_history(p.telegram_id) for p in sandbox.people] == before
    assert sandbox.clock.now() == clock_before


async def test_actions_take_only_json(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    """A page on another site cannot post a plain form to the sandbox's actions."""
    url = sandbox.page_url + f"sandbox/chats/{KATE}/messages"
    async with http.post(url, data={"text": "hi"}) as response:
        assert response.status == 415
        assert "send JSON" in (await response.json())["error"]
    async with http.post(url, data="{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400 and (await r.json())["error"] == "the body is not valid JSON"


async def test_a_page_from_another_host_name_is_refused(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A site that points its own domain at 127.0.0.1 (DNS rebinding) gets neither the chats
    nor the actions; `localhost` works as well as 127.0.0.1."""
    port = sandbox.page_url.rsplit(":", 1)[1].strip("/")
    for path in ("", "sandbox/state", "sandbox/events"):
        async with http.get(sandbox.page_url + path, headers={"Host": f"evil.example:{port}"}) as r:
            assert r.status == 403 and "open the sandbox as" in (await r.json())["error"]
    url = sandbox.page_url + f"sandbox/chats/{KATE}/messages"
    async with http.post(url, json={"text": "hi"}, headers={"Host": f"evil.example:{port}"}) as r:
        assert r.status == 403
    assert len(sandbox.emulator.chat_history(KATE)) == 2  # nothing was written
    async with http.get(
        sandbox.page_url + "sandbox/state", headers={"Host": f"localhost:{port}"}
    ) as response:
        assert response.status == 200


async def test_a_forged_press_gets_the_bots_alert_on_the_page(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """Anna presses a button the bot never sent her (forged data): the page is told the
    bot's answer, an alert, in Anna's chat."""
    greeting = sandbox.emulator.chat_messages(ANNA)[0]
    async with http.get(sandbox.page_url + "sandbox/events") as response:
        stream = EventStream(response)
        forged = {"message_id": greeting.message_id, "data": "lead:9:take"}
        status, answer = await _post(http, sandbox, f"/sandbox/chats/{ANNA}/buttons", forged)
        assert status == 200
        event = await stream.next_of("answer", query_id=answer["callback_query_id"])
    assert event["chat_id"] == ANNA and event["show_alert"] is True
    assert event["text"]  # what the alert says is the bot's template (tested with the bot)


async def test_clock_jumps_move_the_applications_time(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """+10 min, +1 h and next morning (09:00 in the configured zone); open pages are told."""
    start = sandbox.clock.now()
    async with http.get(sandbox.page_url + "sandbox/events") as response:
        stream = EventStream(response)
        await stream.next()
        status, answer = await _post(http, sandbox, "/sandbox/clock", {"jump": "10m"})
        assert status == 200 and sandbox.clock.now() == start + timedelta(minutes=10)
        assert answer == {"now": sandbox.clock.now().isoformat(), "zone": "Europe/Moscow"}
        assert (await stream.next_of("clock"))["now"] == answer["now"]
    await _post(http, sandbox, "/sandbox/clock", {"jump": "1h"})
    assert sandbox.clock.now() == start + timedelta(minutes=70)
    expected = next_morning(sandbox.clock.now(), sandbox.zone)
    await _post(http, sandbox, "/sandbox/clock", {"jump": "morning"})
    assert sandbox.clock.now() == expected
    assert expected.astimezone(sandbox.zone).hour == 9 and expected > start


def test_next_morning_is_the_next_opening_in_the_local_zone() -> None:
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")  # UTC+3
    at_night = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)  # 01:00 on the 6th in Moscow
    assert next_morning(at_night, moscow) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
    early = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # 08:00 in Moscow: this morning
    assert next_morning(early, moscow) == datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    at_nine = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # exactly 09:00: the next day's
    assert next_morning(at_nine, moscow) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)


async def test_a_card_shows_when_the_lead_arrived_and_it_stays_true_after_the_clock_jumps(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A card says when the lead arrived (local time), not an age like "just now" that a card
    edited hours later would still show: after +1 h and an edit it still says the same time."""
    await _post(http, sandbox, "/sandbox/web-form", {"name": "Maria", "phone": "+79001234567"})
    await sandbox.emulator.wait_for(lambda: card_text(sandbox, ANNA, 1))
    arrived = re.search(r"🕒 (today \d\d:\d\d|\d+ \w{3} \d\d:\d\d)\n", card_text(sandbox, ANNA, 1))
    assert arrived is not None, card_text(sandbox, ANNA, 1)
    assert "just now" not in card_text(sandbox, ANNA, 1)
    await _post(http, sandbox, "/sandbox/clock", {"jump": "1h"})
    # the same person writes again: the card is edited, and the arrival time stays
    again = {"message": "still waiting", "phone": "+79001234567"}
    assert (await _post(http, sandbox, "/sandbox/web-form", again))[0] == 200
    await sandbox.emulator.wait_for(lambda: "requests: 2" in card_text(sandbox, ANNA, 1))
    clock_time = arrived.group(1)[-5:]
    assert f"{clock_time}\n" in card_text(sandbox, ANNA, 1) and "ago" not in card_text(
        sandbox, ANNA, 1
    )


# --- the command ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fresh_databases(tmp_dir: Path) -> list[Path]:
    return list(tmp_dir.glob("leadbot-sandbox-*/sandbox.db"))


async def _read_until(process: asyncio.subprocess.Process, marker: str) -> str:
    assert process.stdout is not None
    seen = ""
    async with asyncio.timeout(30):
        while marker not in seen:
            line = await process.stdout.readline()
            if not line:
                raise AssertionError(f"the process ended before printing {marker!r}:\n{seen}")
            seen += line.decode()
    return seen


async def test_leadbot_sandbox_command_serves_the_page_and_stops_cleanly(tmp_path: Path) -> None:
    """`leadbot sandbox` prints the page's address, serves it, and on Ctrl+C (SIGINT)
    stops with exit 0, leaving no database behind unless --db was given."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    env["TMPDIR"] = str(tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        printed = await _read_until(process, "Ctrl+C stops it.")
        assert f"open http://127.0.0.1:{port}/" in printed
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/sandbox/state") as response:
                state = await response.json()
        assert [p["role"] for p in state["people"]] == [
            "manager",
            "manager",
            "supervisor",
            "admin",
            "client",
        ]
        assert _fresh_databases(tmp_path)
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0
    assert not _fresh_databases(tmp_path)  # the fresh database is gone


def test_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "sandbox",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "kept.db"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"leadbot sandbox: cannot listen on 127.0.0.1:{port}: it is in use; "
        "choose another with --port\n"
    )
