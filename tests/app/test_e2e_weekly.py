"""End to end: the weekly report and the digest's chart through the real bot and the emulated
Bot API, the clock moved (never slept on).

On Monday 12.01.2026 past 09:00 Moscow time Sveta (supervisor, Russian) and Alla (admin,
English) each get last week's report (05.01 – 11.01): the five messages /report shows, then
one album of four charts; Anna and Boris (managers) get none of it. The morning's digest
comes with its chart (leads a day by channel, the last seven days) as one photo. The report
comes once: not again later, not after a restart, not twice from two instances; an instance
that was down at 09:00 sends it when it comes up at 11:00.

Last week's leads: Ivan (website form, Monday 10:00) taken by Anna in 2 minutes and converted
for 54 700.50 ₽; Oleg (Tilda, Wednesday 15:00) taken by Boris in 5 minutes and junked ("we
do not offer it": pool heating); Pavel (website form, Sunday 23:59) still new."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.common.outbox import charts_message, enqueue
from bot.config import AppConfig
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import OutboxKind, OutboxMessage, OutboxState, Role, Staff
from tests.harness import ANNA, BORIS, SVETA, Phone, outbox_sent, running_app, unpaced_config

ALLA = 1004  # an admin whose Telegram is in English
MONDAY_0859 = datetime(2026, 1, 12, 5, 59, tzinfo=UTC)  # Moscow time
MONDAY_0901 = datetime(2026, 1, 12, 6, 1, tzinfo=UTC)
MONDAY_1100 = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"
ALBUM = ["funnel.png", "daily.png", "take_time.png", "arrivals.png"]


@pytest.fixture
async def alla(emulator: TelegramEmulator, sessions: SessionFactory, clock: ManualClock) -> Staff:
    emulator.add_user(ALLA, "Alla", language_code="en")
    async with sessions() as session:
        admin = await add_staff(session, ALLA, Role.ADMIN, "Alla", clock.now())
        admin.language = "en"
        await session.commit()
    return admin


@pytest.fixture
def config() -> AppConfig:
    """Telegram's per-chat pace lifted: five messages and an album to one chat need not wait
    a second each (the pace is tested in test_e2e_delivery)."""
    return unpaced_config()


async def _last_week(sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig) -> None:
    monday = datetime(2026, 1, 5, 7, tzinfo=UTC)  # 10:00 Moscow
    wednesday = datetime(2026, 1, 7, 12, tzinfo=UTC)  # 15:00
    async with sessions() as session:
        [deal] = await intake_leads(
            session, [LeadInput(source="web_form", phone="+79000000001", name="Ivan")], monday
        )
        [junk] = await intake_leads(
            session, [LeadInput(source="tilda", phone="+79000000002", name="Oleg")], wednesday
        )
        await intake_leads(
            session,
            [LeadInput(source="web_form", phone="+79000000003", name="Pavel")],
            datetime(2026, 1, 11, 20, 59, tzinfo=UTC),  # Sunday 23:59
        )
        anna, boris = staff["anna"], staff["boris"]
        assert (await take_lead(session, deal.lead_id, anna, monday + timedelta(minutes=2))).ok
        answers = {"service": "kitchen", "amount": Decimal("54700.50")}
        done = monday + timedelta(minutes=30)
        assert (await convert_lead(session, deal.lead_id, anna, answers, done, config)).ok
        taken = wednesday + timedelta(minutes=5)
        assert (await take_lead(session, junk.lead_id, boris, taken)).ok
        closed = await close_lead(
            session,
            junk.lead_id,
            boris,
            Action.JUNK,
            "no_service",
            "Pool heating",
            wednesday + timedelta(minutes=40),
            config,
        )
        assert closed.ok


def _sent(emulator: TelegramEmulator, method: str, chat_id: int) -> list[dict[str, Any]]:
    return [r.params for r in emulator.calls(method) if r.params["chat_id"] == chat_id]


def _texts(emulator: TelegramEmulator, chat_id: int, contains: str) -> list[BotMessage]:
    return [m for m in emulator.chat_messages(chat_id) if contains in (m.text or "")]


def _png_width(data: bytes) -> int:
    assert data.startswith(PNG)
    return int(struct.unpack(">I", data[16:20])[0])


async def _report_arrived(emulator: TelegramEmulator, sessions: SessionFactory) -> None:
    """Both readers' albums are in; then nothing more is pending (the rows say what came)."""
    await emulator.wait_for(
        lambda: all(_sent(emulator, "sendMediaGroup", chat) for chat in (SVETA, ALLA)), timeout=20
    )
    await outbox_sent(sessions)


async def _each_reader_got_it_once(emulator: TelegramEmulator, sessions: SessionFactory) -> None:
    """Sveta and Alla: one funnel message and one album each, every report row sent; Anna
    and Boris: neither."""
    for chat, headline in ((SVETA, "Прошлая неделя, 05.01 – 11.01"), (ALLA, "Last week")):
        assert len(_texts(emulator, chat, headline)) == 1
        assert len(_sent(emulator, "sendMediaGroup", chat)) == 1
    for manager in (ANNA, BORIS):
        assert _texts(emulator, manager, "Last week") == []
        assert _texts(emulator, manager, "Прошлая неделя") == []
        assert _sent(emulator, "sendMediaGroup", manager) == []
        assert _sent(emulator, "sendPhoto", manager) == []
    async with sessions() as session:
        charts = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.state, OutboxMessage.payload).where(
                    OutboxMessage.kind == OutboxKind.CHARTS
                )
            )
        ).all()
    albums = sorted(chat for chat, _, payload in charts if payload["charts"] != ["daily"])
    assert albums == [SVETA, ALLA]
    assert {state for _, state, _ in charts} == {OutboxState.SENT}


@pytest.fixture
async def app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    alla: Staff,
    sessions: SessionFactory,
    config: AppConfig,
) -> AsyncIterator[Application]:
    await _last_week(sessions, staff, config)
    clock.set(MONDAY_0859)
    async with running_app(emulator, database_url, clock, config) as application:
        yield application


async def test_past_nine_on_monday_supervisors_and_admins_get_the_report_and_its_album(
    emulator: TelegramEmulator, app: Application, clock: ManualClock, sessions: SessionFactory
) -> None:
    """At 08:59 nothing; past 09:00 Sveta reads "📊 Прошлая неделя, 05.01 – 11.01": 3
    received → 2 taken (67%) → 1 deal (33%), 54 700.50 ₽; the channels, Anna's and Boris's
    take times, «pool heating» asked for; missed calls and arrivals; then the album of four
    charts, each at least 1000 px wide. Alla reads the same in English. Her digest came too,
    followed by one photo: leads a day by channel, 05.01 – 11.01."""
    app.clock_moved()
    assert await app.jobs.run_weekly() is None  # 08:59: not yet
    await outbox_sent(sessions)
    assert _sent(emulator, "sendMediaGroup", SVETA) == []

    clock.set(MONDAY_0901)
    app.clock_moved()  # what the scheduler's minute check would find
    await _report_arrived(emulator, sessions)

    sveta = emulator.chat_messages(SVETA)
    start = next(n for n, m in enumerate(sveta) if "Прошлая неделя" in (m.text or ""))
    funnel, sources, managers, reasons, calls, *album = sveta[start : start + 9]
    assert "📊 Прошлая неделя, 05.01 – 11.01" in funnel.text
    assert "получено: 3" in funnel.text and "→ взято: 2 · 67%" in funnel.text
    assert "→ сделок: 1 · 33%" in funnel.text and "54\u202f700.50 ₽" in funnel.text
    assert "от заявки 30 мин\n👤 Новых клиентов: 3" in funnel.text  # a line each
    assert "заявка с сайта: получено 2 · мусор 0% · сделок 1 (50%)" in sources.text
    assert "Tilda" in sources.text and "мусор 100%" in sources.text
    assert managers.text.startswith(
        "👥 По менеджерам\n\nAnna: взято 1 · дозвонились 1 · сделок 1 (100%)"
    )
    assert "Boris: взято 1 · дозвонились 0 · сделок 0 (0%)" in managers.text
    assert "медиана 2 мин" in managers.text and "медиана 5 мин" in managers.text
    assert "«pool heating»: 1" in reasons.text
    assert "Пропущенные звонки: 0" in calls.text
    # the album comes after the sections: four photos, one message each in the chat
    assert [m.kind for m in album] == ["sendMediaGroup"] * 4
    [sent_album] = _sent(emulator, "sendMediaGroup", SVETA)
    assert [item["type"] for item in sent_album["media"]] == ["photo"] * 4

    alla_funnel = _texts(emulator, ALLA, "Last week")[0]
    assert "📊 Last week, 5 Jan – 11 Jan" in alla_funnel.text
    assert "received: 3" in alla_funnel.text and "→ deals: 1 · 33%" in alla_funnel.text
    assert _texts(emulator, ALLA, "website form: 2 received")
    await _each_reader_got_it_once(emulator, sessions)

    # the pictures: the digests' charts (one each) and the report's albums (four each)
    names = [name for name, _ in emulator.state.uploads]
    assert sorted(names) == sorted(["daily.png"] * 2 + ALBUM * 2)
    assert all(_png_width(data) >= 1000 for _, data in emulator.state.uploads)

    # the digest, then its chart, as one photo
    for chat, words in ((SVETA, "Сводка за день"), (ALLA, "Daily digest")):
        [digest] = _texts(emulator, chat, words)
        after = [m for m in emulator.chat_messages(chat) if m.message_id > digest.message_id]
        assert after[0].kind == "sendPhoto"
        assert len(_sent(emulator, "sendPhoto", chat)) == 1
    [digest] = _texts(emulator, SVETA, "Сводка за день")
    assert "Вчера, 11.01.2026" in digest.text and "Новых лидов: 1" in digest.text

    # later that day nothing comes again
    clock.set(MONDAY_1100)
    app.clock_moved()
    assert await app.jobs.run_weekly() is None
    await outbox_sent(sessions)
    await _each_reader_got_it_once(emulator, sessions)


async def test_digest_on_demand_comes_with_its_chart(
    emulator: TelegramEmulator, app: Application, clock: ManualClock
) -> None:
    """Sveta types /digest on Monday at 08:59 (before the morning's run): the digest, then the
    chart of the last seven days' leads as a photo."""
    sveta = Phone(emulator, SVETA)
    digest = await sveta.write("/digest", "Сводка")
    assert "Вчера, 11.01.2026" in digest.text
    await emulator.wait_for(lambda: bool(_sent(emulator, "sendPhoto", SVETA)))
    photo = sveta.messages()[-1]
    assert photo.kind == "sendPhoto" and photo.message_id > digest.message_id
    [(name, data)] = emulator.state.uploads
    assert name == "daily.png" and _png_width(data) >= 1000


async def test_a_restart_after_the_report_sends_nothing_again(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    alla: Staff,
    sessions: SessionFactory,
    config: AppConfig,
) -> None:
    await _last_week(sessions, staff, config)
    clock.set(MONDAY_0901)
    async with running_app(emulator, database_url, clock, config) as first:
        first.clock_moved()
        await _report_arrived(emulator, sessions)
    clock.set(MONDAY_1100)
    async with running_app(emulator, database_url, clock, config) as second:
        second.clock_moved()
        assert await second.jobs.run_weekly() is None
        await outbox_sent(sessions)
    await _each_reader_got_it_once(emulator, sessions)


async def test_an_instance_down_at_nine_sends_it_when_it_comes_up_at_eleven(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    alla: Staff,
    sessions: SessionFactory,
    config: AppConfig,
) -> None:
    await _last_week(sessions, staff, config)
    clock.set(MONDAY_1100)
    async with running_app(emulator, database_url, clock, config) as late:
        late.clock_moved()  # its first minute check
        await _report_arrived(emulator, sessions)
    await _each_reader_got_it_once(emulator, sessions)
    assert "Прошлая неделя, 05.01 – 11.01" in _texts(emulator, SVETA, "Прошлая неделя")[0].text


async def test_two_instances_send_the_report_once(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    alla: Staff,
    sessions: SessionFactory,
    config: AppConfig,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("one process per SQLite file: two instances are a PostgreSQL set-up")
    await _last_week(sessions, staff, config)
    clock.set(MONDAY_0901)
    async with (
        running_app(emulator, database_url, clock, config) as first,
        running_app(emulator, database_url, clock, config) as second,
    ):
        # both instances' minute checks at once, twice over
        runs = await asyncio.gather(*(app.jobs.run_weekly() for app in (first, second) * 2))
        assert sum(run is not None for run in runs) == 1
        first.clock_moved()
        second.clock_moved()
        await _report_arrived(emulator, sessions)
    await _each_reader_got_it_once(emulator, sessions)  # both stopped: no copy came late


async def test_an_album_telegram_fails_is_sent_again_whole_and_once(
    emulator: TelegramEmulator, app: Application, clock: ManualClock, sessions: SessionFactory
) -> None:
    """Telegram answers Sveta's album 502 twice: the row backs off and the album arrives, all
    four photos in one piece, once. A charts row nobody can draw (a chart that does not
    exist) is given up at once, not retried forever."""
    emulator.fail_next("sendMediaGroup", 502, count=2, chat_id=SVETA)
    clock.set(MONDAY_0901)
    app.clock_moved()
    await _report_arrived(emulator, sessions)
    await _each_reader_got_it_once(emulator, sessions)
    failed = [
        r for r in emulator.state.requests if r.method == "sendMediaGroup" and r.status == 502
    ]
    assert len(failed) == 2
    assert [m.kind for m in emulator.chat_messages(SVETA)].count("sendMediaGroup") == 4

    async with app.sessions() as session:  # the application's: its commit wakes the notifier
        await enqueue(session, [charts_message(SVETA, None, {"charts": ["pie"]}, clock.now())])
        await session.commit()
    await outbox_sent(sessions)
    async with sessions() as session:
        row = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.CHARTS)
            .order_by(OutboxMessage.id.desc())
        )
    assert row is not None and row.state == OutboxState.FAILED and row.attempts == 1
    assert (row.last_error or "").startswith("charts could not be drawn")
