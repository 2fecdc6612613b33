"""The real application against the emulated Bot API, for the benches that time it under
Telegram's faults (outage, presses, storm): SQLite in a temporary directory, the managers
added and known to the emulator (in English), the HTTP intake on a free port."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import Application, build_application
from bot.common.clock import ManualClock
from bot.config import Settings, load_app_config
from bot.devtools.emulator import TelegramEmulator
from bot.team.staff import add_staff
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role

TOKEN = "123456789:AAHbench-token-for-the-emulator_01234567"
INTAKE_TOKEN = "bench"


@dataclass
class Emulated:
    app: Application
    emulator: TelegramEmulator
    http: aiohttp.ClientSession

    async def post_lead(self, phone: str) -> int:
        async with self.http.post(
            f"http://127.0.0.1:{self.app.http_port}/api/v1/leads",
            json={"phone": phone},
            headers={"Authorization": f"Bearer {INTAKE_TOKEN}"},
        ) as response:
            return response.status


@asynccontextmanager
async def emulated_app(
    managers: Sequence[int], config: dict[str, Any] | None = None
) -> AsyncIterator[Emulated]:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        clock = ManualClock()
        async with session_factory(engine)() as session:
            for n, manager in enumerate(managers):
                await add_staff(session, manager, Role.MANAGER, f"Manager {n}", clock.now())
        await engine.dispose()
        emulator = TelegramEmulator(token=TOKEN)
        await emulator.start()
        for manager in managers:
            emulator.add_user(manager, "Manager", language_code="en")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=TOKEN,
            telegram_api_base=emulator.base_url,
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            intake_token=INTAKE_TOKEN,
        )
        app = build_application(settings, load_app_config(overrides=config or {}), clock)
        await app.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Emulated(app, emulator, http)
        finally:
            await app.stop()
            await emulator.stop()
