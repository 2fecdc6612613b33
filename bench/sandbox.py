"""Sandbox benchmark: how long `leadbot sandbox` takes to be usable, and how fast the page
hears of a new card.

Starts the real command N times (a fresh process each time) and times:
- start -> the page's address printed (the page answers from then on);
- start -> every demo person greeted (their /start answered by the bot);
- web-form POST answered -> the card event reaching an open page's event stream.

    python -m bench.sandbox [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time

import aiohttp

PEOPLE = 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _one_run(workdir: str) -> tuple[float, float, float]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        while b"Ctrl+C stops it." not in await process.stdout.readline():
            pass
        ready = time.perf_counter() - started
        base = f"http://127.0.0.1:{port}/"
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(base + "sandbox/state") as response:
                    chats = (await response.json())["chats"]
                if sum(len(chat["messages"]) >= 2 for chat in chats.values()) == PEOPLE:
                    break
                await asyncio.sleep(0.01)
            greeted = time.perf_counter() - started
            async with http.get(base + "sandbox/events") as events:
                await events.content.readline()  # the snapshot
                await events.content.readline()
                form = {"name": "Bench", "phone": "+79001234567"}
                async with http.post(base + "sandbox/web-form", json=form) as response:
                    assert response.status == 201, await response.text()
                answered = time.perf_counter()
                while True:
                    line = (await events.content.readline()).decode()
                    if line.startswith("data: ") and json.loads(line[6:])["type"] == "message":
                        break
                card = time.perf_counter() - answered
    finally:
        process.terminate()
        await process.wait()
    return ready, greeted, card


async def main(runs: int) -> None:
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(runs):
            results.append(await _one_run(workdir))
    names = ("start -> page served", "start -> everyone greeted", "form answered -> card on page")
    print(f"| figure ({runs} runs) | median | min | max |")
    print("|---|---|---|---|")
    for index, name in enumerate(names):
        values = [r[index] for r in results]
        unit, scale = ("ms", 1000) if index == 2 else ("s", 1)
        shown = [
            f"{v * scale:.{1 if unit == 'ms' else 2}f} {unit}"
            for v in (statistics.median(values), min(values), max(values))
        ]
        print(f"| {name} | {' | '.join(shown)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
