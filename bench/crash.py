"""A crash while cards go out: how many cards does a manager see twice after `kill -9`?

For each trial a fresh `leadbot run` (a real process, SQLite) serves `--managers` managers
against the emulated Bot API with Telegram's limits enforced (1 message/s per chat after a
burst of 3). `--leads` leads arrive while Telegram is down ("claim" routing: every manager
gets every card), so that a backlog goes out when it is back, as after an outage or a
burst of leads; once a share of the cards is on the screens the process is killed (SIGKILL)
and started again, and the bench waits until every manager has every lead's card. It
prints, per trial, the cards shown twice in all and the most in one chat.

    python -m bench.crash [--managers 5] [--leads 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

from bench.emulated import INTAKE_TOKEN, TOKEN
from bot.common.clock import SystemClock
from bot.devtools.emulator import TelegramEmulator
from bot.team.staff import add_staff
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role

KILL_AT = (0.2, 0.5, 0.8)  # the share of the cards on the screens when the process dies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _post(port: int, phone: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):  # the process is starting: up to 30 s
            try:
                async with http.post(
                    f"http://127.0.0.1:{port}/api/v1/leads?token={INTAKE_TOKEN}",
                    data={"phone": phone},
                ) as response:
                    assert response.status == 201, response.status
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise RuntimeError("leadbot's HTTP server never came up")


async def trial(managers: list[int], leads: int, kill_at: float) -> tuple[int, int, int]:
    """(cards, cards shown twice, the most shown twice in one chat)."""
    with tempfile.TemporaryDirectory() as workdir:
        cwd = Path(workdir)
        url = f"sqlite+aiosqlite:///{cwd / 'crash.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        async with session_factory(engine)() as session:
            for n, manager in enumerate(managers):
                await add_staff(session, manager, Role.MANAGER, f"M{n}", SystemClock().now())
        await engine.dispose()
        emulator = TelegramEmulator(token=TOKEN)
        await emulator.start()
        for manager in managers:
            emulator.add_user(manager, "Manager", language_code="en")
        emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "LEADBOT_CONFIG")}
        env.update(
            DATABASE_URL=url,
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE=emulator.base_url,
            HTTP_PORT=str(port),
            INTAKE_TOKEN=INTAKE_TOKEN,
            LOG_LEVEL="WARNING",
        )

        def shown() -> list[str]:
            return [
                f"{m}:{message.text.splitlines()[0]}"
                for m in managers
                for message in emulator.chat_messages(m)
            ]

        cards = len(managers) * leads
        try:
            emulator.set_down(True)
            process = await _start(env, cwd)
            try:
                for n in range(leads):
                    await _post(port, f"+7900555{n:04d}")
                await emulator.wait_for(lambda: any(r.status == 502 for r in emulator.requests))
                emulator.set_down(False)
                await emulator.wait_for(lambda: len(shown()) >= cards * kill_at, timeout=120)
            finally:
                process.kill()
                await process.wait()
            process = await _start(env, cwd)
            try:
                await emulator.wait_for(lambda: len(set(shown())) == cards, timeout=180)
            finally:
                process.terminate()
                await process.wait()
        finally:
            await emulator.stop()
    twice = Counter(shown())
    per_chat = Counter(key.split(":")[0] for key, count in twice.items() for _ in range(count - 1))
    return cards, sum(per_chat.values()), max(per_chat.values(), default=0)


async def main(managers: int, leads: int) -> None:
    people = [3001 + n for n in range(managers)]
    print(
        f"| kill -9 with {managers} managers × {leads} leads | cards | shown twice, in all"
        " | the most in one chat |"
    )
    print("|---|---|---|---|")
    for share in KILL_AT:
        cards, twice, most = await trial(people, leads, share)
        print(f"| once {share:.0%} of the cards are shown | {cards} | {twice} | {most} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=5)
    parser.add_argument("--leads", type=int, default=12)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.managers, arguments.leads))
