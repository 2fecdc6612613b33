"""A card that cannot be shown (its text cannot be built, or Telegram refuses it for good) is
given up on alone: the lead records it, the supervisors are told, and the other cards sent with
it in one group arrive at once, never held back or retried with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.intake.input import LeadInput
from storage.models import LeadEvent, OutboxKind, OutboxMessage, OutboxState, Staff
from tests.harness import SVETA, TEAM_CHAT, outbox_sent, running_app


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    async with running_app(emulator, database_url, clock, leads_chat_id=TEAM_CHAT) as application:
        yield application


def _lead(n: int, **more: object) -> LeadInput:
    return LeadInput(source="web_form", name=f"Client {n}", phone=f"+7900123450{n}", **more)  # type: ignore[arg-type]


async def _together(app: Application, *items: LeadInput) -> list[int]:
    """Leads stored in one commit, so their cards for the team chat go out as one group."""
    results = await asyncio.gather(*(app.intake.submit(item) for item in items))
    return [result.lead_id for result in results]


def _cards_in_team_chat(emulator: TelegramEmulator) -> list[str]:
    return [m.text or "" for m in emulator.chat_messages(TEAM_CHAT)]


async def _card_rows(app: Application) -> dict[int, OutboxMessage]:
    async with app.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CARD)
        )
        return {row.lead_id or 0: row for row in rows}


async def _failures(app: Application) -> list[LeadEvent]:
    async with app.sessions() as session:
        return list(
            (
                await session.scalars(select(LeadEvent).where(LeadEvent.kind == "delivery_failed"))
            ).all()
        )


async def _supervisor_told(emulator: TelegramEmulator, lead_id: int) -> str:
    def notice() -> str | None:
        return next(
            (
                m.text
                for m in emulator.chat_messages(SVETA)
                if m.text and f"/find #{lead_id}" in m.text
            ),
            None,
        )

    await emulator.wait_for(notice)
    return str(notice())


async def test_a_card_that_cannot_be_rendered_fails_alone_and_supervisors_are_told(
    app: Application, emulator: TelegramEmulator
) -> None:
    """A lead whose utm_source holds a lone UTF-16 surrogate (as the intake stored it before it
    replaced them) arrives with two healthy ones: the team chat gets the two healthy cards at
    the first try, the bad card is marked failed (not retried forever), its lead records
    `delivery_failed`, and Sveta (supervisor) is told which lead to open."""
    first, bad, last = await _together(
        app, _lead(1), _lead(2, utm={"utm_source": "ya\ud800"}), _lead(3)
    )
    await outbox_sent(app.sessions, within=10)
    cards = _cards_in_team_chat(emulator)
    assert [c for c in cards if f"#{first}" in c] and [c for c in cards if f"#{last}" in c]
    assert not [c for c in cards if f"#{bad}" in c]
    rows = await _card_rows(app)
    assert rows[bad].state == OutboxState.FAILED
    assert (rows[bad].last_error or "").startswith("card could not be rendered")
    for healthy in (first, last):  # sent at once, never postponed with the bad one
        assert (rows[healthy].state, rows[healthy].attempts) == (OutboxState.SENT, 0)
    [event] = await _failures(app)
    assert (event.lead_id, event.data["chat_id"]) == (bad, TEAM_CHAT)
    notice = await _supervisor_told(emulator, bad)
    assert f"#{bad}" in notice


async def test_a_card_telegram_refuses_for_good_fails_alone_and_supervisors_are_told(
    app: Application, emulator: TelegramEmulator
) -> None:
    """Telegram answers 400 to one of three cards sent together: the other two are in the team
    chat, the refused one is marked failed with `delivery_failed` on its lead, and Sveta is told
    why ("Telegram refused it") and which lead to open."""
    emulator.fail_next("sendMessage", 400, description="Bad Request: message is too long")
    leads = await _together(app, _lead(1), _lead(2), _lead(3))
    await outbox_sent(app.sessions, within=10)
    rows = await _card_rows(app)
    failed = [lead for lead in leads if rows[lead].state == OutboxState.FAILED]
    assert len(failed) == 1
    [refused] = failed
    assert "message is too long" in (rows[refused].last_error or "")
    cards = _cards_in_team_chat(emulator)
    for lead in leads:
        assert bool([c for c in cards if f"#{lead}" in c]) == (lead != refused)
        if lead != refused:
            assert (rows[lead].state, rows[lead].attempts) == (OutboxState.SENT, 0)
    [event] = await _failures(app)
    assert event.lead_id == refused
    notice = await _supervisor_told(emulator, refused)
    assert "message is too long" in notice
