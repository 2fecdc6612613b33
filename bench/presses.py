"""Presses right after a burst: is every press answered, and does its picker or question come?

The real application (SQLite in a temporary directory) runs against the emulated Bot API
with Telegram's flood limits enforced (1 message/s per chat after a burst of 3). Each round a
new lead reaches Anna and she takes it; then a burst of new cards reaches her chat, and the
moment the last one is on her screen she presses Junk, Call back or Qualify on her card. It
counts the presses answered and the pickers / first questions shown (within 15 s), and times
press -> answer and press -> picker shown; and the 429s Telegram gave.

    python -m bench.presses [--rounds 6] [--burst 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp

from bench.emulated import emulated_app
from bot.devtools.emulator import TelegramEmulator

ANNA = 1001
WITHIN = 15.0
# what each press shows once handled: the picker's last button, or the first question
BUTTONS = {
    "Junk": ("lead:junk", lambda m: _buttons(m)[-1:] == ["« Back"]),
    "Call back": ("lead:callback", lambda m: _buttons(m)[-1:] == ["« Back"]),
    "Qualify": ("lead:qualify", None),
}


def _buttons(message: Any) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


def _data(message: Any, prefix: str) -> str:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return next(
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith(prefix)
    )


async def _until(
    emulator: TelegramEmulator, condition: Any, timeout: float = WITHIN
) -> float | None:
    """Seconds until `condition()` holds, None if it does not within `timeout`."""
    started = time.perf_counter()
    try:
        await emulator.wait_for(condition, timeout=timeout)
    except TimeoutError:
        return None
    return time.perf_counter() - started


async def _round(
    emulator: TelegramEmulator,
    http: aiohttp.ClientSession,
    url: str,
    lead: int,
    burst: int,
    name: str,
) -> tuple[float | None, float | None]:
    def messages() -> list[Any]:
        return emulator.chat_messages(ANNA)

    headers = {"Authorization": "Bearer bench"}
    before = len(messages())
    await http.post(f"{url}/api/v1/leads", json={"phone": f"+7900{lead:07d}"}, headers=headers)

    def cards() -> list[Any]:
        return [m for m in messages()[before:] if (m.text or "").startswith(f"Lead #{lead}")]

    await emulator.wait_for(cards, timeout=WITHIN)
    card = cards()[0]
    take = emulator.press_button(ANNA, ANNA, card.message_id, _data(card, "lead:take"))
    await emulator.wait_for(lambda: emulator.callback_answer(take) is not None, timeout=WITHIN)
    now = lambda: emulator.message(ANNA, card.message_id)  # noqa: E731
    await emulator.wait_for(lambda: "lead:qualify" in str(now().reply_markup), timeout=WITHIN)
    before = len(messages())
    for n in range(burst):
        phone = f"+7901{lead:04d}{n:03d}"
        await http.post(f"{url}/api/v1/leads", json={"phone": phone}, headers=headers)
    await emulator.wait_for(lambda: len(messages()) >= before + burst, timeout=30)
    prefix, shown = BUTTONS[name]
    asked = len(messages())
    query = emulator.press_button(ANNA, ANNA, card.message_id, _data(now(), prefix))
    answered = await _until(emulator, lambda: emulator.callback_answer(query) is not None)
    if shown is None:  # Qualify: its first question arrives as a new message
        drawn = await _until(
            emulator, lambda: any("1/" in (m.text or "") for m in messages()[asked:])
        )
    else:
        drawn = await _until(emulator, lambda: shown(now()))
    if answered is not None and drawn is not None:
        drawn = max(drawn, answered)  # both timed from the press
    # leave the picker / dialogue: the next round starts from a card with its own buttons
    emulator.send_text(ANNA, "/cancel")
    return answered, drawn


async def main(rounds: int, burst: int) -> None:
    results: dict[str, list[tuple[float | None, float | None]]] = {n: [] for n in BUTTONS}
    async with emulated_app([ANNA]) as bench:
        emulator = bench.emulator
        emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
        emulator.send_text(ANNA, "/start")
        await emulator.wait_for(lambda: emulator.chat_messages(ANNA), timeout=WITHIN)
        url = f"http://127.0.0.1:{bench.app.http_port}"
        lead = 1
        for _ in range(rounds):
            for name in BUTTONS:
                result = await _round(emulator, bench.http, url, lead, burst, name)
                results[name].append(result)
                lead += burst + 1
    print(
        f"| press after a burst of {burst} cards ({rounds} rounds) | answered"
        " | picker / question shown | press → answer, median (max) | press → shown, median (max) |"
    )
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        answers = [a for a, _ in rows if a is not None]
        shown = [d for _, d in rows if d is not None]

        def figure(values: list[float]) -> str:
            return f"{statistics.median(values):.2f} s ({max(values):.2f} s)" if values else "—"

        print(
            f"| {name} | {len(answers)} of {rounds} | {len(shown)} of {rounds} "
            f"| {figure(answers)} | {figure(shown)} |"
        )
    print(f"\n429s answered by Telegram: {emulator.flood_errors}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--burst", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.burst))
