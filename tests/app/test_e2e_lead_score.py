"""End to end: the lead score's line on the card, through the real bot and the emulated Bot
API. Anna (manager, English) gets the card of a web form's lead. With no lead closed yet the
rule score speaks and says so ([scoring.rules]: tilda +20, phone +15 on a base of 30: 65 %,
hot); once 120 leads are closed the model does: its percent and reasons, as ratios. The card
of a closed lead has no score line (its outcome is known)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import insert

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.scoring.recount import recount
from storage.models import Lead, LeadStatus, Staff
from tests.harness import ANNA, Intake, Phone, running_app, unpaced_config


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> AsyncIterator[Application]:
    rules = {"rules": {"sources": {"tilda": 20}}}
    async with running_app(emulator, database_url, clock, unpaced_config(scoring=rules)) as app:
        yield app


async def _card_of_a_new_lead(app: Application, reader: Phone, **fields: str) -> list[str]:
    before = len(reader.messages())
    async with aiohttp.ClientSession() as http:
        status, answer = await Intake(app, http).post({"phone": "+79001234567", **fields})
    assert status == 201
    card = await reader.next_message(before, f"#{answer['id']} ")
    return (card.text or "").splitlines()


async def test_the_card_shows_the_rule_score_then_the_model(
    app: Application, emulator: TelegramEmulator, clock: ManualClock
) -> None:
    anna = Phone(emulator, ANNA)
    await anna.write("/start")
    lines = await _card_of_a_new_lead(app, anna, source="tilda", name="<b>Ivan</b>")
    assert lines[1] == "🔥 65 % rules · Tilda form +20 · phone +15"
    # 120 closed leads: tilda ones won 30 of 40, the others 20 of 80; all with a phone
    start = datetime(2025, 12, 1, 10, tzinfo=UTC)
    rows = [
        {
            "source": "tilda" if n < 40 else "web_form",
            "phone": "+79000000000",
            "status": LeadStatus.CONVERTED if n % 40 < (30 if n < 40 else 10) else LeadStatus.JUNK,
            "created_at": start + timedelta(hours=n),
            "updated_at": start + timedelta(hours=n),
            "closed_at": start + timedelta(hours=n),
        }
        for n in range(120)
    ]
    async with app.sessions() as session:
        await session.execute(insert(Lead), rows)
        await session.commit()
    no_holdout = app.config.model_copy(
        update={"scoring": app.config.scoring.model_copy(update={"holdout": 0})}
    )
    async with app.sessions() as session:
        done = await recount(session, clock.now(), no_holdout)
    assert (done.closed, done.counted) == (120, 120)
    lines = await _card_of_a_new_lead(app, anna, source="tilda", phone="+79007654321")
    # by hand: overall 50 won of 120 (odds 5/7); tilda 30 of 40, smoothed with 10 pseudo-leads
    # at 5/12: (30 + 4.17) / 50 = 0.683, odds 2.16, ratio 2.16 / (5/7) = 3.0; phone "yes" is
    # on every lead (ratio 1). The hour and weekday come from the history's arrival times.
    assert lines[1].startswith("🔥 ") and " · Tilda form ×3.0" in lines[1]
    assert "rules" not in lines[1]


async def test_the_nightly_job_recounts_once_after_three(
    app: Application, clock: ManualClock
) -> None:
    """The scheduler's `score_recount` job (scheduler/jobs.py): the clock stands at 12:00
    Moscow, past `recompute_at` (03:00), so the first run recounts and a second the same day
    does nothing; the next day, after 03:00, it runs again."""
    async with app.sessions() as session:
        await session.execute(
            insert(Lead),
            [
                {
                    "source": "tilda",
                    "status": LeadStatus.CONVERTED if n % 2 else LeadStatus.REFUSED,
                    "created_at": clock.now() - timedelta(days=2),
                    "updated_at": clock.now() - timedelta(days=1),
                    "closed_at": clock.now() - timedelta(days=1, minutes=n),
                }
                for n in range(10)
            ],
        )
        await session.commit()
    first = await app.jobs.recount_scores()
    assert first is not None and (first.closed, first.held_out, first.counted) == (10, 2, 8)
    assert await app.jobs.recount_scores() is None
    clock.advance(timedelta(hours=16))  # 04:00 Moscow the next day
    assert await app.jobs.recount_scores() is not None
