"""End to end: the distribution rules decide who gets a new lead's card.

Staff: Anna (manager, English), Boris (manager, Russian), Sveta (supervisor, Russian). The
round-robin hand-over is driven by moving the clock and running the sweep the scheduler runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.routing.rules import deliver_waiting
from storage.db import SessionFactory
from storage.models import Lead, LeadEvent, Staff
from tests.harness import ANNA, BORIS, SVETA, Intake, Phone, card_buttons, fast_config, running_app


@asynccontextmanager
async def _app_with(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, **routing: Any
) -> AsyncIterator[tuple[Application, Intake]]:
    config = fast_config(routing=routing)
    async with running_app(emulator, database_url, clock, config) as app:
        async with aiohttp.ClientSession() as http:
            for who in (ANNA, BORIS, SVETA):
                await Phone(emulator, who).write("/start")
            yield app, Intake(app, http)


def _cards(phone: Phone) -> list[str]:
    """The first line of every lead card in the chat."""
    return [
        m.text.splitlines()[0]
        for m in phone.messages()
        if "#" in m.text.split("\n")[0] and ("Lead" in m.text[:4] or "Лид" in m.text[:3])
    ]


async def _set_staff(sessions: SessionFactory, telegram_id: int, **values: Any) -> None:
    async with sessions() as session:
        person = update(Staff).where(Staff.telegram_id == telegram_id)
        await session.execute(person.values(**values))
        await session.commit()


async def test_round_robin_offers_in_turn_and_passes_an_untaken_lead_on(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    async with _app_with(
        emulator, database_url, clock, policy="round_robin", offer_timeout="5m"
    ) as (app, intake):
        for number in range(3):
            await intake.post({"phone": f"+7900111000{number}"})
        await emulator.wait_for(lambda: len(_cards(anna)) == 2 and len(_cards(boris)) == 1)
        assert _cards(anna) == ["Lead #1 · website form", "Lead #3 · website form"]
        assert _cards(boris) == ["Лид #2 · заявка с сайта"]
        first = next(m for m in anna.messages() if m.text.startswith("Lead #1 "))
        assert "offered to you — take it or it passes on" in first.text

        clock.advance(timedelta(minutes=4))
        assert await app.jobs.pass_expired_offers() == []  # not yet
        clock.advance(timedelta(minutes=2))
        # nobody took anything in 5 min: each offer passes to the other manager
        assert await app.jobs.pass_expired_offers() == [1, 2, 3]
        shown = await anna.until(first, "passed to Boris")
        assert card_buttons(shown) == []
        await emulator.wait_for(lambda: "Лид #1 · заявка с сайта" in _cards(boris))
        late = await anna.press_data(first, "lead:take:1")
        assert late["text"] == "Boris has been offered this lead now, not you."
        boris_card = next(m for m in boris.messages() if m.text.startswith("Лид #1 "))
        assert "предложен вам" in boris_card.text
        taken = await boris.press(boris_card, "lead:take:1")
        assert "ваш" in taken["text"].lower()
    async with sessions() as session:
        passed = (
            await session.scalars(
                select(LeadEvent.data).where(
                    LeadEvent.kind == "offer_passed", LeadEvent.lead_id == 1
                )
            )
        ).all()
    assert passed == [{"from": staff["anna"].id, "to": staff["boris"].id}]


async def test_least_loaded_goes_to_the_fewest_open_leads_below_capacity(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    await _set_staff(sessions, BORIS, capacity=1)
    async with _app_with(emulator, database_url, clock, policy="least_loaded") as (_, intake):
        await intake.post({"phone": "+79001110001"})  # both at 0: the lower id, Anna
        await intake.post({"phone": "+79001110002"})  # Anna 1, Boris 0: Boris
        await intake.post({"phone": "+79001110003"})  # Boris at his capacity of 1: Anna
        await emulator.wait_for(lambda: len(_cards(anna)) == 2 and len(_cards(boris)) == 1)
        assert [line.split(" ·")[0] for line in _cards(anna)] == ["Lead #1", "Lead #3"]
        assert [line.split(" ·")[0] for line in _cards(boris)] == ["Лид #2"]


async def test_a_returning_client_goes_to_the_manager_who_served_them(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
) -> None:
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    async with _app_with(emulator, database_url, clock) as (_, intake):
        await intake.post({"phone": "+79001110001", "message": "first time"})
        await emulator.wait_for(lambda: _cards(boris) and _cards(anna))
        card = next(m for m in boris.messages() if m.text.startswith("Лид #1 "))
        await boris.press(card, "lead:take:1")
        await boris.until(card, "у вас")
        await boris.press(card, "lead:refuse:1")
        await boris.press(card, "why:refuse:1:price")
        await boris.until(card, "Отказ")
        await intake.post({"phone": "8 900 111-00-01", "message": "back again"})
        await emulator.wait_for(lambda: len(_cards(boris)) == 2)
        assert _cards(boris)[1].startswith("Лид #2 · заявка с сайта · 🔁")
        assert _cards(anna) == ["Lead #1 · website form"]  # only Boris was offered it


async def test_a_rule_sends_a_service_to_managers_with_the_skill(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    await _set_staff(sessions, BORIS, skills=["senior"])
    rules = [{"name": "tours", "service": "Group tour", "skill": "senior"}]
    async with _app_with(emulator, database_url, clock, rules=rules) as (_, intake):
        await intake.post({"phone": "+79001110001", "service": "group TOUR"})
        await intake.post({"phone": "+79001110002", "service": "Visa"})
        await emulator.wait_for(lambda: len(_cards(boris)) == 2 and len(_cards(anna)) == 1)
        assert [line.split(" ·")[0] for line in _cards(anna)] == ["Lead #2"]
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.wanted_skill == "senior"


async def test_nobody_on_duty_the_lead_waits_and_supervisors_are_told(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
) -> None:
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    for who in (ANNA, BORIS):
        await _set_staff(sessions, who, on_duty=False)
    async with _app_with(emulator, database_url, clock) as (app, intake):
        await intake.post({"phone": "+79001110001"})
        told = await sveta.next_message(1, "ждёт")
        assert told.text.startswith("⏳ Лид #1 ждёт: на смене никого нет.")
        await emulator.wait_for(lambda: _cards(sveta) == ["Лид #1 · заявка с сайта"])
        assert _cards(anna) == []
        await _set_staff(sessions, ANNA, on_duty=True)
        assert await _deliver_waiting(app) == [1]
        await emulator.wait_for(lambda: _cards(anna) == ["Lead #1 · website form"])
        assert await _deliver_waiting(app) == []


async def _deliver_waiting(app: Application) -> list[int]:
    """What coming on duty runs (here without the /duty press that would do it)."""
    async with app.sessions() as session:
        return await deliver_waiting(
            session, app.clock.now(), app.config, app.settings.leads_chat_id
        )
