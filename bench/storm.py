"""A 429 storm: Telegram allows the bot less than its configured limits. How many sends are
answered 429, and how long does delivery take next to what the real limit allows?

The real application (default [telegram] limits: 30 messages/s, 1/s per chat after a burst of
3) runs against the emulated Bot API, which enforces a bot-wide limit of only `--real`
messages/s (and 1/s per chat, burst 3). `--leads` leads reach `--managers` managers each
("claim" routing: every manager gets every card). It prints the 429 share of all sends and
the time to the last card next to cards / real limit, the least time the real limit allows.

    python -m bench.storm [--real 10] [--managers 20] [--leads 10]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.emulated import emulated_app


async def main(real: float, managers: int, leads: int) -> None:
    people = [2001 + n for n in range(managers)]
    async with emulated_app(people) as bench:
        emulator = bench.emulator
        emulator.enforce_flood_limits(
            per_chat_per_second=1.0, per_chat_burst=3, global_per_second=real
        )
        started = time.perf_counter()
        for n in range(leads):
            await bench.post_lead(f"+7900{n:07d}")

        def delivered() -> bool:
            return all(len(emulator.chat_messages(m)) >= leads for m in people)

        await emulator.wait_for(delivered, timeout=leads * managers / real * 5 + 60)
        took = time.perf_counter() - started
    cards = leads * managers
    sends = [r for r in emulator.requests if r.method == "sendMessage"]
    refused = sum(1 for r in sends if r.status == 429)
    least = cards / real
    print(
        f"| Telegram allows {real:g}/s (configured 30/s) | cards | sends answered 429"
        " | time to the last card | cards / real limit | ratio |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {managers} managers × {leads} leads | {cards} | {refused} of {len(sends)}"
        f" ({refused / len(sends):.1%}) | {took:.1f} s | {least:.1f} s | {took / least:.2f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=float, default=10.0)
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--leads", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.real, arguments.managers, arguments.leads))
