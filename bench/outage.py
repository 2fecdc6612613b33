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
import time

from bench.emulated import emulated_app

MANAGERS = (1001, 1002)


async def main(down: float, leads: int) -> None:
    async with emulated_app(MANAGERS) as bench:
        emulator = bench.emulator
        emulator.set_down(True)
        for n in range(leads):
            await bench.post_lead(f"+7900123{n:04d}")
        await asyncio.sleep(down)
        emulator.set_down(False)
        back = time.perf_counter()

        def delivered(count: int) -> bool:
            return all(len(emulator.chat_messages(m)) >= count for m in MANAGERS)

        await emulator.wait_for(lambda: delivered(1), timeout=down * 20 + 60)
        first = time.perf_counter() - back
        await emulator.wait_for(lambda: delivered(leads), timeout=down * 20 + 60)
        last = time.perf_counter() - back
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
