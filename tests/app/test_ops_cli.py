"""The operator's commands: `leadbot backup` while the bot takes leads, `leadbot erase`, and
`leadbot run` logging JSON lines."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.intake.input import parse_lead_input
from bot.intake.store import intake_leads
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent
from tests.app.test_cli import LEADBOT, _env, _free_port, _post_lead, _start
from tests.conftest import head_revision
from tests.harness import INTAKE_TOKEN, TOKEN, Intake

METRICS_TOKEN = "metrics-secret-for-tests"


async def _cli(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """`leadbot ARGS` as an operator runs it (no terminal: stdin is empty)."""
    process = await asyncio.create_subprocess_exec(
        *LEADBOT,
        *args,
        cwd=cwd,
        env=_env(cwd, **env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_backup_while_the_bot_takes_leads(
    app: Application, database_url: str, tmp_path: Path
) -> None:
    """Leads keep coming while `leadbot backup` copies the database: the copy is one moment
    of it (every lead in it has its history, none half-written), a single file leadbot opens."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the online backup is SQLite's; PostgreSQL's is pg_dump (below)")
    target = tmp_path / "copy.db"
    async with aiohttp.ClientSession() as http:
        intake = Intake(app, http)
        for n in range(3):
            assert (await intake.post({"phone": f"+7900100000{n}"}))[0] == 201
        backup = asyncio.create_task(
            _cli(tmp_path, "backup", str(target), DATABASE_URL=database_url)
        )
        posted = 3
        while not backup.done():  # the bot takes leads all the while
            assert (await intake.post({"phone": f"+790020{posted:05d}"}))[0] == 201
            posted += 1
        code, out, err = await backup
    assert code == 0, err
    copy = sqlite3.connect(target)
    try:
        (leads,) = copy.execute("SELECT count(*) FROM leads").fetchone()
        assert 3 <= leads <= posted
        assert (
            out == f"backup written to {target}: {target.stat().st_size} bytes, {leads} leads, "
            f"schema {head_revision()}\n"
        )
        # one moment: no lead without the event and cards committed with it
        orphans = copy.execute(
            "SELECT count(*) FROM leads WHERE id NOT IN "
            "(SELECT lead_id FROM lead_events WHERE kind = 'created')"
        ).fetchone()
        assert orphans == (0,)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    finally:
        copy.close()
    # a second backup never overwrites the first
    code, _, err = await _cli(tmp_path, "backup", str(target), DATABASE_URL=database_url)
    assert code == 1 and "exists already" in err


async def test_backup_on_postgresql_says_to_use_pg_dump(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://leadbot:s3cret-pw@db.example:5432/leadbot"
    code, out, err = await _cli(tmp_path, "backup", str(tmp_path / "x.db"), DATABASE_URL=url)
    assert code == 1 and out == ""
    assert "pg_dump --format=custom --file=leadbot.dump " in err
    assert "'postgresql://leadbot@db.example:5432/leadbot'" in err
    assert "s3cret-pw" not in err  # pg_dump asks for it (or reads ~/.pgpass)
    assert not (tmp_path / "x.db").exists()


async def test_erase_asks_then_erases(
    sessions: SessionFactory, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    """Without a terminal to ask, nothing is erased unless --yes says so; then the counts."""
    async with sessions() as session:
        item = parse_lead_input({"name": "Ivan Petrov", "phone": "8 900 555-66-77"}, "RU")
        [lead] = await intake_leads(session, [item], clock.now())
    code, out, err = await _cli(
        tmp_path, "erase", "--phone", "+79005556677", DATABASE_URL=database_url
    )
    assert code == 1
    assert out == f"found 1 contact(s) and 1 lead(s): #{lead.lead_id}\nnothing erased\n"
    assert "add --yes" in err
    async with sessions() as session:
        assert (await session.get(Lead, lead.lead_id)).name == "Ivan Petrov"  # type: ignore[union-attr]
    code, out, err = await _cli(
        tmp_path,
        "erase",
        "--phone",
        "8 (900) 555 66 77",
        "--yes",
        "--by",
        "dpo",
        DATABASE_URL=database_url,
    )
    assert code == 0, err
    assert out.splitlines()[1] == (
        "erased by dpo: rows changed: contacts 1, lead_events 1, leads 1"
    )
    async with sessions() as session:
        stored = await session.get(Lead, lead.lead_id)
        assert stored is not None and (stored.name, stored.phone) == (None, None)
        by = await session.scalar(select(LeadEvent.data).where(LeadEvent.kind == "erased"))
        assert by == {"by": "dpo"}
    code, _, err = await _cli(
        tmp_path, "erase", "--phone", "+79005556677", DATABASE_URL=database_url
    )
    assert code == 1 and "no contact or lead has that" in err


async def test_run_logs_json_lines_without_secrets(
    tmp_path: Path, emulator: TelegramEmulator
) -> None:
    """`LOG_FORMAT=json leadbot run`: it starts, a lead comes, it stops; every line it wrote is
    a JSON object, and no token is in any."""
    port = _free_port()
    env = _env(
        tmp_path,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=emulator.base_url,
        HTTP_PORT=str(port),
        INTAKE_TOKEN=INTAKE_TOKEN,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_FORMAT="json",
    )
    process = await _start(env, tmp_path)
    try:
        assert await _post_lead(port) == 201
    finally:
        process.send_signal(signal.SIGTERM)
        output = (await process.communicate())[0].decode()
    assert process.returncode == 0
    records = [json.loads(line) for line in output.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    messages = [(r["level"], r["logger"], r["message"]) for r in records]
    assert ("INFO", "leadbot.intake", "lead created lead=1 source=web_form") in messages, output
    assert messages[-1] == ("INFO", "leadbot.app", "leadbot stopped")
    for secret in (TOKEN, INTAKE_TOKEN, METRICS_TOKEN):
        assert secret not in output
