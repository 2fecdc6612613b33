"""Nothing is lost when Telegram is slow, down, rate-limiting, or leadbot restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.models import Staff
from tests.harness import ANNA, BORIS, TOKEN, Intake, fast_config, running_app


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN)
    await emu.start()
    emu.add_user(ANNA, "Anna", language_code="en")
    emu.add_user(BORIS, "Boris", language_code="en")
    yield emu
    await emu.stop()


def _cards_delivered(emulator: TelegramEmulator, leads: int) -> bool:
    return all(len(emulator.chat_messages(chat)) >= leads for chat in (ANNA, BORIS))


async def _post_leads(app: object, count: int) -> None:
    async with aiohttp.ClientSession() as http:
        intake = Intake(app, http)  # type: ignore[arg-type]
        for n in range(count):
            status, _ = await intake.post({"phone": f"+7900123{n:04d}", "name": f"Client {n}"})
            assert status == 201


async def test_429_storm_loses_no_card_and_honours_retry_after(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    emulator.fail_next("sendMessage", 429, count=2, retry_after=1)
    async with running_app(emulator, database_url, clock) as app:
        await _post_leads(app, 3)
        await emulator.wait_for(lambda: _cards_delivered(emulator, 3), timeout=10)
    throttled = [r for r in emulator.requests if r.status == 429]
    assert len(throttled) == 2
    # after the 429 nothing more was sent until retry_after (1 s) had passed
    first_429 = throttled[0].at
    sent = [r.at for r in emulator.requests if r.method == "sendMessage" and r.status == 200]
    next_sends = [at for at in sent if at > first_429]
    assert next_sends and min(next_sends) - first_429 >= 0.95
    assert sorted(len(emulator.chat_messages(c)) for c in (ANNA, BORIS)) == [3, 3]


async def test_5xx_storm_loses_no_card(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    emulator.fail_next(None, 502, count=12)
    async with running_app(emulator, database_url, clock) as app:
        await _post_leads(app, 3)
        await emulator.wait_for(lambda: _cards_delivered(emulator, 3), timeout=10)
    assert len([r for r in emulator.requests if r.status == 502]) == 12
    assert sorted(len(emulator.chat_messages(c)) for c in (ANNA, BORIS)) == [3, 3]


async def test_restart_between_commit_and_send_still_delivers(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    emulator.set_down(True)  # Telegram unreachable: the lead is stored, its cards are not sent
    async with running_app(emulator, database_url, clock) as app:
        await _post_leads(app, 2)
        await emulator.wait_for(lambda: any(r.method == "sendMessage" for r in emulator.requests))
    assert emulator.chat_messages(ANNA) == [] and emulator.chat_messages(BORIS) == []
    emulator.set_down(False)
    async with running_app(emulator, database_url, clock):
        await emulator.wait_for(lambda: _cards_delivered(emulator, 2), timeout=10)
    assert sorted(len(emulator.chat_messages(c)) for c in (ANNA, BORIS)) == [2, 2]


async def test_sending_stays_inside_telegram_limits(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    # the emulator answers 429 to anything faster than Telegram allows; the default limits
    # (1 message/s per chat after a burst of 3) must keep the notifier below that
    emulator.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    async with running_app(
        emulator, database_url, clock, config=fast_config(telegram={"retry_base": "0.05s"})
    ) as app:
        await _post_leads(app, 5)
        await emulator.wait_for(lambda: _cards_delivered(emulator, 5), timeout=10)
    assert emulator.flood_errors == 0


async def test_when_telegram_allows_less_than_configured_the_pace_follows_it(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Telegram takes only 5 messages a second from the bot, which is configured for 30 (and
    here for no limit per chat). Anna and Boris still get each of 15 cards once, and the bot
    sends at what Telegram takes: at most 1 send in 6 is answered 429 (3 of 33 in a dozen
    runs). Before, each 429 was blamed on the chat it hit (it had taken two cards in a
    second): the chats slowed in turn while the bot went on too fast, and up to 8 of 38
    were refused; before issue 13 about 1 in 3 was, in bench/storm.py."""
    emulator.enforce_flood_limits(
        per_chat_per_second=1000, per_chat_burst=1000, global_per_second=5
    )
    lifted = {"per_chat_per_second": 1000, "per_chat_burst": 1000, "retry_base": "0.05s"}
    async with running_app(
        emulator, database_url, clock, config=fast_config(telegram=lifted)
    ) as app:
        await _post_leads(app, 15)
        await emulator.wait_for(lambda: _cards_delivered(emulator, 15), timeout=30)
    sends = [r for r in emulator.requests if r.method == "sendMessage"]
    for chat in (ANNA, BORIS):
        heads = [m.text.splitlines()[0] for m in emulator.chat_messages(chat)]
        assert len(heads) == len(set(heads)) == 15
    assert emulator.flood_errors <= len(sends) / 6, (emulator.flood_errors, len(sends))


async def test_after_an_outage_queued_cards_go_as_soon_as_telegram_answers_again(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    # a failed card waits 30 s before its next attempt: Anna and Boris would wait that long
    # after Telegram is back, unless leadbot notices it is back and sends at once
    config = fast_config(telegram={"retry_base": "30s", "retry_max": "5m"})
    emulator.set_down(True)

    def asked_after_a_failed_card() -> bool:
        methods = [(r.method, r.status) for r in emulator.requests]
        if ("sendMessage", 502) not in methods:
            return False
        return ("getMe", 502) in methods[methods.index(("sendMessage", 502)) :]

    async with running_app(emulator, database_url, clock, config=config) as app:
        await _post_leads(app, 2)
        # the cards failed, and leadbot asked Telegram whether it answers again: not yet
        await emulator.wait_for(asked_after_a_failed_card)
        emulator.set_down(False)
        await emulator.wait_for(lambda: _cards_delivered(emulator, 2), timeout=10)
    assert sorted(len(emulator.chat_messages(c)) for c in (ANNA, BORIS)) == [2, 2]
