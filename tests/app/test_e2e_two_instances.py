"""Two `leadbot run` instances on one PostgreSQL, in webhook mode behind one address: a
balancer in front hands Telegram's updates to them in turn, both take leads over HTTP and
both send cards. No lead is assigned twice and no card is sent twice. SQLite serves one
process only, so this runs on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import (
    Lead,
    LeadCard,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Staff,
)
from tests.harness import ANNA, BORIS, Intake, outbox_sent, running_app, unpaced_config

LEADS = 30
HOOK_PATH = "/telegram/updates"
SECRET = "two-instances_Secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _balancer(ports: list[int]) -> AsyncIterator[tuple[str, Counter[int]]]:
    """One public address; each update goes to the next instance. Yields the URL and how
    many updates each instance got."""
    turn = itertools.cycle(ports)
    served: Counter[int] = Counter()

    async def forward(request: web.Request) -> web.Response:
        port = next(turn)
        served[port] += 1
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{port}{HOOK_PATH}",
                data=await request.read(),
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
                },
            ) as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read())

    app = web.Application()
    app.router.add_post(HOOK_PATH, forward)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}{HOOK_PATH}", served
    finally:
        await runner.cleanup()


def _lead_of(text: str) -> int:
    return int(text.split("#")[1].split(" ")[0])


def _cards(emulator: TelegramEmulator, chat: int) -> Counter[int]:
    return Counter(
        _lead_of(m.text)
        for m in emulator.chat_messages(chat)
        if m.text.startswith(("Lead #", "Лид #"))
    )


async def _one_card_per_lead_and_chat(emulator: TelegramEmulator, sessions: SessionFactory) -> None:
    """Each manager's chat shows each lead's card once: the card messages there are exactly
    the ones lead_cards records (one row per lead and chat), and exactly the sent card rows."""
    async with sessions() as session:
        recorded = (
            await session.execute(select(LeadCard.chat_id, LeadCard.message_id, LeadCard.lead_id))
        ).all()
        sent = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.lead_id, OutboxMessage.state).where(
                    OutboxMessage.kind == OutboxKind.CARD
                )
            )
        ).all()
    every_lead = list(range(1, LEADS + 1))
    for chat in (ANNA, BORIS):
        shown = {
            m.message_id: _lead_of(m.text)
            for m in emulator.chat_messages(chat)
            if m.text.startswith(("Lead #", "Лид #"))
        }
        assert shown == {message: lead for at, message, lead in recorded if at == chat}
        assert sorted(shown.values()) == every_lead
        rows = sorted((lead, state) for at, lead, state in sent if at == chat)
        assert rows == [(lead, OutboxState.SENT) for lead in every_lead]


async def test_two_instances_never_double_send_a_card_or_double_assign_a_lead(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("one process per SQLite file: two instances are a PostgreSQL set-up")
    lifted = unpaced_config()
    ports = [_free_port(), _free_port()]
    async with _balancer(ports) as (hook, served):
        webhook = {"telegram_webhook_url": hook, "telegram_webhook_secret": SECRET}
        async with (
            running_app(
                emulator, database_url, clock, lifted, http_port=ports[0], **webhook
            ) as first,
            running_app(
                emulator, database_url, clock, lifted, http_port=ports[1], **webhook
            ) as second,
            aiohttp.ClientSession() as http,
        ):
            intakes = [Intake(first, http), Intake(second, http)]
            posted = await asyncio.gather(
                *(
                    intakes[n % 2].post({"phone": f"+7900{n:07d}", "message": f"request {n}"})
                    for n in range(LEADS)
                )
            )
            assert [status for status, _ in posted] == [201] * LEADS
            await emulator.wait_for(
                lambda: len(_cards(emulator, ANNA)) == LEADS == len(_cards(emulator, BORIS)),
                timeout=20,
            )
            await outbox_sent(sessions)  # every card is sent: the rows say what came
            await _one_card_per_lead_and_chat(emulator, sessions)

            # both managers press Take on every card at once
            queries = [
                emulator.press_button(
                    who, who, message.message_id, f"lead:take:{_lead_of(message.text)}"
                )
                for who in (ANNA, BORIS)
                for message in emulator.chat_messages(who)
            ]
            await emulator.wait_for(
                lambda: all(emulator.callback_answer(q) for q in queries), timeout=30
            )
    assert min(served[port] for port in ports) >= LEADS  # both instances handled presses
    await _one_card_per_lead_and_chat(emulator, sessions)  # both stopped: no copy came late
    async with sessions() as session:
        taken = dict(
            (
                await session.execute(
                    select(LeadEvent.lead_id, func.count())
                    .where(LeadEvent.kind == "taken")
                    .group_by(LeadEvent.lead_id)
                )
            ).all()
        )
        owners = (await session.scalars(select(Lead.owner_id))).all()
    assert taken == {lead_id: 1 for lead_id in range(1, LEADS + 1)}
    assert None not in owners
    answers = [emulator.callback_answer(q)["text"] for q in queries]
    assert sum(text.startswith(("Lead #", "Лид #")) for text in answers) == LEADS
