"""End to end: /report through the real bot and the emulated Bot API. Sveta (supervisor,
Russian) picks "Last 7 days" and reads the funnel, channels, managers, reasons and calls as
short messages, then an album of four charts; Anna (manager, English) gets only her own leads;
a forged press for everybody's leads, or a client's press, is refused with an alert; a period
with no leads says so in one message.

Three leads arrive on Monday 05.01.2026 at 10:00 Moscow time: Anna takes one in 2 minutes and
converts it (54 700.50 ₽), Boris takes one in 5 minutes and junks it ("we do not offer it":
"Pool  heating"), the third stays new. The clock stands at 12:00 Moscow the same day."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.app import Application
from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead
from storage.models import Staff
from tests.harness import ANNA, STRANGER, SVETA, Phone, card_buttons, outbox_sent, updates_handled

ARRIVED = datetime(2026, 1, 5, 7, tzinfo=UTC)  # 10:00 Moscow, a Monday
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _three_leads(app: Application, staff: dict[str, Staff]) -> None:
    async with app.sessions() as session:
        items = [
            LeadInput(source="web_form", phone="+79000000001", name="Ivan"),
            LeadInput(source="tilda", phone="+79000000002", name="Oleg"),
            LeadInput(source="web_form", phone="+79000000003", name="Pavel"),
        ]
        deal, junk, _new = await intake_leads(session, items, ARRIVED)
        anna, boris = staff["anna"], staff["boris"]
        assert (await take_lead(session, deal.lead_id, anna, ARRIVED + timedelta(minutes=2))).ok
        answers = {"service": "kitchen", "amount": Decimal("54700.50")}
        done = ARRIVED + timedelta(minutes=30)
        assert (await convert_lead(session, deal.lead_id, anna, answers, done, app.config)).ok
        assert (await take_lead(session, junk.lead_id, boris, ARRIVED + timedelta(minutes=5))).ok
        closed = await close_lead(
            session,
            junk.lead_id,
            boris,
            Action.JUNK,
            "no_service",
            "Pool  heating",
            ARRIVED + timedelta(minutes=40),
            app.config,
        )
        assert closed.ok
    # The cards go out on their own; a report counted from a chat's length starts after them.
    await outbox_sent(app.sessions)


def _report_messages(phone: Phone, after: int) -> list[str]:
    return [m.text or "" for m in phone.messages()[after:] if m.kind == "text"]


async def _sections(emulator: TelegramEmulator, phone: Phone, after: int, count: int) -> list[str]:
    await emulator.wait_for(lambda: len(_report_messages(phone, after)) >= count)
    return _report_messages(phone, after)


def _albums(emulator: TelegramEmulator, chat_id: int) -> list[list[dict[str, object]]]:
    return [
        r.params["media"]
        for r in emulator.calls("sendMediaGroup")
        if r.params["chat_id"] == chat_id
    ]


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def _pick(phone: Phone, period: str) -> tuple[BotMessage, dict[str, object], int]:
    menu = await phone.write("/report", "/")  # the pick message mentions nothing else
    before = len(phone.messages())
    answer = await phone.press(menu, f"rep:{period}:")
    return menu, answer, before


async def test_a_supervisor_reads_every_section_and_four_charts(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff], clock: ManualClock
) -> None:
    """Sveta: "Отчёт по всем лидам — выберите период" with six period buttons; "Последние 7 дней"
    brings 3 received → 2 taken (67%) → 1 deal (33%), 54 700.50 ₽; the channels, Anna's and
    Boris's take times, «pool heating» as unmet demand, then one album of four PNG charts,
    each at least 1000 px wide."""
    await _three_leads(app, staff)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "Отчёт")
    assert "Отчёт по всем лидам" in menu.text
    assert sveta.button_texts(menu) == [
        "Сегодня",
        "Вчера",
        "Эта неделя",
        "Последние 7 дней",
        "Этот месяц",
        "Последние 30 дней",
        "📅 Даты…",
    ]
    before = len(sveta.messages())
    answer = await sveta.press(menu, "rep:d7:all")
    assert not answer.get("show_alert")  # answered without words: no spinner, no alert
    sections = await _sections(emulator, sveta, before, 6)
    funnel, sources, managers, reasons, calls, actions = sections
    assert "Последние 7 дней, 30.12 – 05.01" in funnel
    assert "получено: 3" in funnel
    assert "→ взято: 2 · 67%" in funnel
    assert "→ сделок: 1 · 33%" in funnel
    assert "Мусор: 1" in funnel and "Ещё в работе: 1" in funnel
    assert "54\u202f700.50 ₽" in funnel
    assert "Новых клиентов: 3 · вернувшихся: 0" in funnel
    assert "медиана) от заявки 30 мин\n👤 Новых клиентов" in funnel  # its own line
    assert "заявка с сайта</b>" not in sources  # the text is parsed: no tags shown
    assert "заявка с сайта: получено 2 · мусор 0% · сделок 1 (50%)" in sources
    assert "Tilda" in sources and "мусор 100%" in sources
    assert "Лиды, созданные за период\n\nВоронка\nполучено: 3" in funnel
    assert managers.startswith(
        "👥 По менеджерам\n\nAnna: взято 1 · дозвонились 1 · сделок 1 (100%)"
    )
    assert "медиана 2 мин" in managers and "медиана 5 мин" in managers
    assert "Boris: взято 1 · дозвонились 0 · сделок 0 (0%)" in managers
    assert "(5 мин рабочего времени)" in managers
    assert "Услуги нет у нас: 1" in reasons
    assert "«pool heating»: 1" in reasons
    assert "Пропущенные звонки: 0" in calls
    assert "10:00–11:00 (3)" in calls and "понедельник (3)" in calls

    await emulator.wait_for(lambda: len(_albums(emulator, SVETA)) == 1)
    [album] = _albums(emulator, SVETA)
    assert [item["type"] for item in album] == ["photo"] * 4
    pictures = emulator.state.uploads[-4:]
    assert [name for name, _ in pictures] == [
        "funnel.png",
        "daily.png",
        "take_time.png",
        "arrivals.png",
    ]
    for _, data in pictures:
        width, height = _png_size(data)
        assert width >= 1000 and height > 0
    # under the album, the period once more and the buttons: the leads behind the numbers
    # (the junk reason by its words), the filters
    assert "Последние 7 дней, 30.12 – 05.01" in actions
    bottom = sveta.messages()[-1]
    assert bottom.text == actions
    assert sveta.button_texts(bottom)[:7] == [
        "⏳ В работе · 1",
        "🙈 Не взяты · 1",
        "💰 Сделки · 1",
        "🗑 Мусор · 1",
        "🗑 Мусор: Услуги нет у нас · 1",
        "📡 По источнику",
        "👥 По менеджеру",
    ]


async def test_a_manager_gets_only_her_own_leads(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Anna: "Report for your leads"; "Last 7 days" counts the one lead she took and
    converted, lists only her among managers, and ends in the album; pressing a forged
    "everybody's leads" button gets the supervisors-only alert and no report."""
    await _three_leads(app, staff)
    anna = Phone(emulator, ANNA)
    menu = await anna.write("/report", "Report")
    assert "Report for your leads" in menu.text
    before = len(anna.messages())
    await anna.press(menu, "rep:d7:own")
    funnel, _sources, managers, reasons, _calls, _actions = await _sections(
        emulator, anna, before, 6
    )
    assert "received: 1" in funnel and "→ deals: 1 · 100%" in funnel
    assert "only yours" in funnel
    assert "Anna: taken 1 · reached 1 · deals 1 (100%)" in managers and "Boris" not in managers
    assert "pool heating" not in reasons
    await emulator.wait_for(lambda: len(_albums(emulator, ANNA)) == 1)

    shown = len(anna.messages())
    refused = await anna.press_data(menu, "rep:d7:all")
    assert refused["show_alert"] and "Only a supervisor" in refused["text"]
    forged = await anna.press_data(menu, "rep:d365:own")  # no such period
    assert forged["show_alert"]
    assert len(anna.messages()) == shown and len(_albums(emulator, ANNA)) == 1


async def test_a_client_gets_no_report(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """A client typing /report gets no report (no period buttons); pressing a forged report
    button (a period, a filter, the leads behind a number, Dates…) is told it is for the
    sales team only."""
    await _three_leads(app, staff)
    client = Phone(emulator, STRANGER)
    greeting = await client.write("/start")
    emulator.send_text(STRANGER, "/report")
    await emulator.wait_for(lambda: emulator.updates_pending == 0)
    await updates_handled(app)
    assert not [d for m in client.messages() for _, d in card_buttons(m) if d.startswith("rep:")]
    for forged in ("rep:d7:all", "rv:show:20458:6:all:::0", "rd:junk:20458:6:all:::", "rdate:all"):
        answer = await client.press_data(greeting, forged)
        assert answer["show_alert"] and "sales team only" in answer["text"], forged
    assert not [m for m in client.messages() if "Report" in (m.text or "")]
    assert _albums(emulator, STRANGER) == []


async def test_an_empty_period_says_so_in_one_message(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Sveta picks "Вчера" (Sunday 04.01, no leads): one message "За этот период лидов не
    создано", no sections, no album."""
    await _three_leads(app, staff)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "Отчёт")
    before = len(sveta.messages())
    await sveta.press(menu, "rep:yday:all")
    message = await sveta.next_message(before, "лидов не создано")
    assert "Вчера, 04.01" in message.text
    assert len(_report_messages(sveta, before)) == 1
    assert _albums(emulator, SVETA) == []
