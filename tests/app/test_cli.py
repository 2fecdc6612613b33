"""The operator's contract: `leadbot` as a command, from any directory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.devtools.emulator import TelegramEmulator
from tests.harness import ANNA, INTAKE_TOKEN, TOKEN

LEADBOT = [sys.executable, "-m", "bot"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "LEADBOT_CONFIG")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", LOG_LEVEL="INFO")
    env.update(extra)
    return env


def _leadbot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEADBOT, *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "BOT_TOKEN is not set"), ("98765", "BOT_TOKEN is malformed")],
)
def test_run_without_a_usable_token_exits_2_with_one_line(
    tmp_path: Path, token: str | None, message: str
) -> None:
    extra = {"BOT_TOKEN": token} if token else {}
    result = _leadbot(tmp_path, "run", **extra)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert token is None or token not in result.stderr


def test_run_with_an_unreadable_weekly_at_exits_2_naming_the_key(tmp_path: Path) -> None:
    """A weekly report time written "monday 9" stops the start with one line saying how to
    write it, before anything runs."""
    config = tmp_path / "leadbot.toml"
    config.write_text('[reports]\nweekly_at = "monday 9"\n')
    result = _leadbot(tmp_path, "run", BOT_TOKEN=TOKEN, LEADBOT_CONFIG=str(config))
    assert result.returncode == 2
    assert result.stderr == (
        "leadbot: config: reports.weekly_at: must be a weekday (mon..sun) and a local time, "
        'such as "mon 09:00", or "off"\n'
    )


def test_staff_are_added_listed_and_removed(tmp_path: Path) -> None:
    added = _leadbot(tmp_path, "staff", "add", "1001", "--role", "manager", "--name", "Анна")
    assert added.returncode == 0, added.stderr
    _leadbot(
        tmp_path,
        "staff",
        "add",
        "1003",
        "--role",
        "supervisor",
        "--name",
        "Sveta",
        "--extension",
        "101",
    )
    listed = _leadbot(tmp_path, "staff", "list").stdout.splitlines()
    assert listed == [
        "1001\tmanager\tactive\ton duty\t-\tАнна",
        "1003\tsupervisor\tactive\ton duty\text 101\tSveta",
    ]
    assert _leadbot(tmp_path, "staff", "remove", "1001").returncode == 0
    listed = _leadbot(tmp_path, "staff", "list").stdout
    assert "1001\tmanager\tinactive\toff duty\t-\tАнна" in listed
    missing = _leadbot(tmp_path, "staff", "remove", "42")
    assert missing.returncode == 1 and "no staff member" in missing.stderr
    bad_role = _leadbot(tmp_path, "staff", "add", "7", "--role", "boss", "--name", "X")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_import_shows_the_preview_asks_and_imports(tmp_path: Path) -> None:
    """`leadbot import FILE`: the preview, a question (no answer: nothing imported); with
    --yes the import, its counts, and the rejected rows beside the file; again: nothing new.
    Anna is nobody here yet: her deal comes in unowned, and the preview says so."""
    path = tmp_path / "leads.csv"
    path.write_bytes(
        "Имя;Телефон;Статус;Ответственный\r\nИван;8 900 123-45-67;Сделка;Anna\r\n"
        "Ольга;abc;;\r\n".encode("cp1251")
    )
    asked = _leadbot(tmp_path, "import", "leads.csv")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.splitlines()[:3] == [
        "leads.csv: csv, cp1251, delimiter ';', table",
        "columns: Имя -> name, Телефон -> phone, Статус -> status, Ответственный -> owner",
        "2 rows: 1 new leads, 0 of people we know, 0 imported before, 1 rejected",
    ]
    assert "owners not recognised: Anna (1)" in asked.stdout
    assert "  row 3: not a phone number in “Телефон”: abc" in asked.stdout
    # no terminal to ask at (a pipe): the answer is no, and --yes is named
    assert asked.stdout.endswith("nothing imported\n")
    assert "leadbot import: add --yes to import without a terminal to ask" in asked.stderr
    done = _leadbot(tmp_path, "import", "leads.csv", "--yes")
    assert done.returncode == 0, done.stderr
    assert (
        "created 1, attached 0, updated 0, skipped 0, imported before 0, rejected 1" in done.stdout
    )
    rejected = (tmp_path / "leads.not_imported.csv").read_text("utf-8-sig").splitlines()
    assert rejected[1] == "3;не телефон в «Телефон»: abc;Ольга;abc;;"
    again = _leadbot(tmp_path, "import", "leads.csv", "--yes", "--policy", "attach")
    assert "1 imported before" in again.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN)
    await emu.start()
    emu.add_user(ANNA, "Anna", language_code="en")
    yield emu
    await emu.stop()


async def _post_lead(port: int, phone: str = "+79001234567") -> int:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):  # the process is starting (imports, migrations): up to 30 s
            try:
                async with http.post(
                    f"http://127.0.0.1:{port}/api/v1/leads?token={INTAKE_TOKEN}",
                    data={"phone": phone},
                ) as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError("leadbot's HTTP server never came up")


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *LEADBOT,
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def _anna_and_a_process_env(
    tmp_path: Path, emulator: TelegramEmulator
) -> tuple[int, dict[str, str]]:
    """Anna added as a manager; the port and environment of a `leadbot run` against the
    emulator whose rows are retried fast and taken over 1 s after a crash."""
    added = _leadbot(tmp_path, "staff", "add", str(ANNA), "--role", "manager", "--name", "Anna")
    assert added.returncode == 0, added.stderr
    config = tmp_path / "leadbot.toml"
    config.write_text('[telegram]\nclaim_lease = "1s"\nretry_base = "0.1s"\n')
    port = _free_port()
    env = _env(
        tmp_path,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=emulator.base_url,
        HTTP_PORT=str(port),
        INTAKE_TOKEN=INTAKE_TOKEN,
        LEADBOT_CONFIG=str(config),
    )
    return port, env


async def test_killed_process_delivers_the_card_after_restart(
    tmp_path: Path, emulator: TelegramEmulator
) -> None:
    """The lead is committed, then the process dies (kill -9) before Telegram took the card;
    the next start delivers it (on PostgreSQL, once the dead process's lease has lapsed)."""
    port, env = _anna_and_a_process_env(tmp_path, emulator)
    emulator.set_down(True)
    first = await _start(env, tmp_path)
    try:
        assert await _post_lead(port) == 201
        await emulator.wait_for(lambda: any(r.method == "sendMessage" for r in emulator.requests))
    finally:
        first.kill()
        await first.wait()
    assert emulator.chat_messages(ANNA) == []
    emulator.set_down(False)
    second = await _start(env, tmp_path)
    try:
        await emulator.wait_for(lambda: emulator.chat_messages(ANNA), timeout=20)
    finally:
        second.send_signal(signal.SIGTERM)
        output = (await second.communicate())[0].decode()
    assert second.returncode == 0
    assert "Лид #1" in emulator.chat_messages(ANNA)[0].text  # Anna never wrote: default ru
    assert TOKEN not in output and INTAKE_TOKEN not in output  # secrets never logged
    assert "card sent lead=1" in output, output


async def test_a_kill_while_cards_go_out_repeats_at_most_the_one_in_flight(
    tmp_path: Path, emulator: TelegramEmulator
) -> None:
    """Six leads wait while Telegram is down, then go to Anna together at Telegram's pace
    (three at once, then one a second); the process is killed (kill -9) once four cards are
    on her screen. After the restart she has every lead's card, and at most one of them
    twice: each card is recorded as soon as Telegram took it, so only a card sent but not
    yet recorded goes again (recorded as a group, the four would all come again)."""
    port, env = _anna_and_a_process_env(tmp_path, emulator)
    emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    emulator.set_down(True)
    first = await _start(env, tmp_path)
    try:
        for n in range(6):
            assert await _post_lead(port, f"+7900123450{n}") == 201
        await emulator.wait_for(lambda: any(r.status == 502 for r in emulator.requests))
        emulator.set_down(False)
        await emulator.wait_for(lambda: len(emulator.chat_messages(ANNA)) >= 4, timeout=20)
    finally:
        first.kill()
        await first.wait()
    second = await _start(env, tmp_path)

    def cards() -> list[str]:
        return [m.text.split("\n")[0] for m in emulator.chat_messages(ANNA)]

    try:
        # rows go again in their order: a repeated card comes before the missing ones
        await emulator.wait_for(lambda: len(set(cards())) == 6, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.communicate()
    shown = cards()
    assert sorted(set(shown)) == [f"Лид #{n} · заявка с сайта" for n in range(1, 7)]
    assert len(shown) - len(set(shown)) <= 1, shown
    assert emulator.flood_errors == 0
