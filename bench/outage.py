"""After a Telegram outage: how long after Telegram answers again do the queued cards arrive?

The real application (SQLite in a temporary directory, the default [telegram] back-off:
1 s doubling up to 5 min) runs against the emulated Bot API. Telegram goes down (every call
answers 502), leads arrive meanwhile, and after `--down` seconds Telegram answers again. It
times Telegram back -> the first and the last queued card on the managers' screens.

    python -m bench.outage [--down 30] [--leads 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.app import build_application
from bot.common.clock import ManualClock
from bot.config import Settings, load_app_config
from bot.devtools.emulator import TelegramEmulator
from bot.team.staff import add_staff
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role

TOKEN = "123456789:AAHbench-token-for-the-emulator_01234567"
MANAGERS = (1001, 1002)


async def main(down: float, leads: int) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        clock = ManualClock()
        async with session_factory(engine)() as session:
            for n, manager in enumerate(MANAGERS):
                await add_staff(session, manager, Role.MANAGER, f"Manager {n}", clock.now())
        await engine.dispose()
        emulator = TelegramEmulator(token=TOKEN)
        await emulator.start()
        for manager in MANAGERS:
            emulator.add_user(manager, "Manager", language_code="en")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=TOKEN,
            telegram_api_base=emulator.base_url,
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            intake_token="bench",
        )
        app = build_application(settings, load_app_config(), clock)
        await app.start()
        try:
            emulator.set_down(True)
            async with aiohttp.ClientSession() as http:
                for n in range(leads):
                    await http.post(
                        f"http://127.0.0.1:{app.http_port}/api/v1/leads",
                        json={"phone": f"+7900123{n:04d}"},
                        headers={"Authorization": "Bearer bench"},
                    )
            await asyncio.sleep(down)
            emulator.set_down(False)
            back = time.perf_counter()

            def delivered(count: int) -> bool:
                return all(len(emulator.chat_messages(m)) >= count for m in MANAGERS)

            await emulator.wait_for(lambda: delivered(1), timeout=down * 20 + 60)
            first = time.perf_counter() - back
            await emulator.wait_for(lambda: delivered(leads), timeout=down * 20 + 60)
            last = time.perf_counter() - back
        finally:
            await app.stop()
            await emulator.stop()
    failed = len([r for r in emulator.requests if r.status == 502])
    print(
        f"| outage of {down:.0f} s, {leads} leads queued"
        " | Telegram back → first card | → last card |"
    )
    print("|---|---|---|")
    print(f"| {failed} calls answered 502 meanwhile | {first:.1f} s | {last:.1f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=30.0)
    parser.add_argument("--leads", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.down, arguments.leads))
