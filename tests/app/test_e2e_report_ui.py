"""End to end: what a supervisor does with /report on a phone beyond the ready-made periods,
through the real bot and the emulated Bot API. Typed dates (`/report 01.11–15.11`, or "Dates…"
and a dialogue that says what is wrong with a bad range); "By source" / "By manager" pickers
and the report sent again narrowed, its head saying so, and "Clear filters"; the leads behind
a number as a paged list whose lines open the live card; and what is refused: a manager's
forged press for everybody's leads or someone else's, a demoted supervisor's old button, a
button whose source is no longer in the period.

The clock stands at 12:00 Moscow on Monday 05.01.2026. The history (Moscow times):
  Mon 03.11.2025 10:00  web_form  Ivan: Anna takes at 10:05 and junks it (spam)
  Mon 03.11.2025 11:00  web_form  Oleg: nobody takes it
  Mon 10.11.2025 10:00  tilda     Pavel: Boris takes at 10:02, a deal of 10 000 at 11:00
  Thu 20.11.2025 10:00  web_form  Late: after 15.11
  Mon 05.01.2026 10:00  web_form  Ivan II: Anna takes at 10:02, a deal of 54 700.50
  Mon 05.01.2026 10:00  tilda     Oleg II: Boris takes at 10:05, junks it (no service)
  Mon 05.01.2026 10:00  web_form  Pavel II: new"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.app import Application
from bot.common.lifecycle import Action
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead
from bot.reports.keys import short_key
from bot.reports.periods import day_number
from storage.models import Role, Staff
from tests.harness import ANNA, SVETA, Phone, card_buttons, outbox_sent

NOVEMBER = datetime(2025, 11, 3, 7, tzinfo=UTC)  # Monday 03.11.2025 10:00 Moscow
TODAY = datetime(2026, 1, 5, 7, tzinfo=UTC)  # Monday 05.01.2026 10:00 Moscow
LAST_7_DAYS = (date(2025, 12, 30), date(2026, 1, 5))


async def _history(app: Application, staff: dict[str, Staff]) -> dict[str, int]:
    """The module docstring's leads; their ids by name."""
    anna, boris, config = staff["anna"], staff["boris"], app.config
    ids: dict[str, int] = {}
    async with app.sessions() as session:
        for name, phone, source, moment in (
            ("Ivan", "+79000000011", "web_form", NOVEMBER),
            ("Oleg", "+79000000012", "web_form", NOVEMBER + timedelta(hours=1)),
            ("Pavel", "+79000000013", "tilda", NOVEMBER + timedelta(days=7)),
            ("Late", "+79000000014", "web_form", NOVEMBER + timedelta(days=17)),
            ("Ivan II", "+79000000001", "web_form", TODAY),
            ("Oleg II", "+79000000002", "tilda", TODAY),
            ("Pavel II", "+79000000003", "web_form", TODAY),
        ):
            [lead] = await intake_leads(
                session, [LeadInput(source=source, phone=phone, name=name)], moment
            )
            ids[name] = lead.lead_id
        minute = timedelta(minutes=1)
        assert (await take_lead(session, ids["Ivan"], anna, NOVEMBER + 5 * minute)).ok
        spam = await close_lead(
            session, ids["Ivan"], anna, Action.JUNK, "spam", None, NOVEMBER + 60 * minute, config
        )
        assert spam.ok
        pavel_at = NOVEMBER + timedelta(days=7)
        assert (await take_lead(session, ids["Pavel"], boris, pavel_at + 2 * minute)).ok
        deal = {"service": "kitchen", "amount": Decimal("10000")}
        done = pavel_at + 60 * minute
        assert (await convert_lead(session, ids["Pavel"], boris, deal, done, config)).ok
        assert (await take_lead(session, ids["Ivan II"], anna, TODAY + 2 * minute)).ok
        deal = {"service": "kitchen", "amount": Decimal("54700.50")}
        done = TODAY + 30 * minute
        assert (await convert_lead(session, ids["Ivan II"], anna, deal, done, config)).ok
        assert (await take_lead(session, ids["Oleg II"], boris, TODAY + 5 * minute)).ok
        junked = await close_lead(
            session,
            ids["Oleg II"],
            boris,
            Action.JUNK,
            "no_service",
            "Pool heating",
            TODAY + 40 * minute,
            config,
        )
        assert junked.ok
    # The cards of these leads go out on their own; a report counted from a chat's length
    # must start after the last of them.
    await outbox_sent(app.sessions)
    return ids


async def _report(phone: Phone, before: int, head: str) -> tuple[BotMessage, BotMessage]:
    """The funnel message of a report sent after `before` (its head holding `head`) and the
    message with the buttons under the report, after the album."""
    funnel = await phone.next_message(before, "\n\n")
    assert head in (funnel.text or ""), funnel.text
    at = phone.messages().index(funnel)
    actions = await phone.next_message(at + 1, head)
    return funnel, actions


def _data(phone: Phone, message: BotMessage, text: str) -> str:
    [found] = [data for label, data in card_buttons(phone.now(message)) if label == text]
    return found


async def _tap(phone: Phone, message: BotMessage, text: str) -> dict[str, object]:
    """Press the button labelled `text` (exactly)."""
    return await phone.press_data(message, _data(phone, message, text))


async def _tap_for_reply(
    phone: Phone, message: BotMessage, text: str, contains: str = ""
) -> BotMessage:
    before = len(phone.messages())
    answer = await _tap(phone, message, text)
    assert not answer.get("show_alert"), answer
    return await phone.next_message(before, contains)


async def test_typed_dates_bring_the_report_of_those_days(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Sveta types "/report 01.11–15.11" in January: last year's 1–15 November (this year's
    would still be ahead): 3 received (Ivan, Oleg, Pavel; not Late of the 20th) → 2 taken
    (67%) → 1 deal (33%) of 10 000 ₽; junk 1, still open 1; the head names the dates with
    their year; under the album, the leads behind the numbers."""
    await _history(app, staff)
    sveta = Phone(emulator, SVETA)
    before = len(sveta.messages())
    emulator.send_text(SVETA, "/report 01.11–15.11")
    funnel, actions = await _report(sveta, before, "01.11.2025 – 15.11.2025")
    text = funnel.text or ""
    assert text.startswith("📊 01.11.2025 – 15.11.2025\nЛиды, созданные за период")
    assert "получено: 3" in text and "→ взято: 2 · 67%" in text
    assert "→ сделок: 1 · 33%" in text and "Сделок: 1 · 10\u202f000 ₽" in text
    assert "Мусор: 1" in text and "Ещё в работе: 1" in text
    assert sveta.button_texts(actions)[:5] == [
        "⏳ В работе · 1",
        "🙈 Не взяты · 1",
        "💰 Сделки · 1",
        "🗑 Мусор · 1",
        "🗑 Мусор: Спам · 1",
    ]


@pytest.mark.parametrize("fsm_storage", ["memory", "redis"], indirect=True)
async def test_bad_dates_are_named_and_the_dialogue_waits_for_good_ones(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """ "/report 31.02": there is no such day. "Dates…" asks; "15.11–01.11" ends before it
    starts (the dates read are named); 4 000 characters of markup are no range (a short,
    escaped piece of it is quoted back); "01.01.2024–01.01.2025" is longer than 366 days;
    "1.11.2025-15.11.2025" brings the report, and the dialogue is over: "05.01" typed next
    brings no report."""
    await _history(app, staff)
    sveta = Phone(emulator, SVETA)
    answer = await sveta.write("/report 31.02", "Такого дня нет")
    assert answer.text == "❓ Такого дня нет: 31.02."  # no dialogue: nothing to retype

    menu = await sveta.write("/report", "выберите период")
    question = await _tap_for_reply(sveta, menu, "📅 Даты…", "Напишите даты")
    assert "<code>01.11–15.11</code>" not in (question.text or "")  # shown as code, not tags
    reversed_ = await sveta.write("15.11–01.11", "❓")
    assert reversed_.text == (
        "❓ Конец диапазона раньше начала (15.11.2025 – 01.11.2025): сначала напишите более "
        "раннюю дату.\nНапишите даты ещё раз или /cancel."
    )
    garbage = await sveta.write("<b>отчёт</b> & " + "я" * 4000, "❓")
    assert (garbage.text or "").startswith("❓ «<b>отчёт</b> & яяя")
    assert "не диапазон дат" in (garbage.text or "") and len(garbage.text or "") < 300
    too_long = await sveta.write("01.01.2024–01.01.2025", "❓")
    assert "01.01.2024 – 01.01.2025 — больше 366 дней" in (too_long.text or "")
    before = len(sveta.messages())
    emulator.send_text(SVETA, "1.11.2025-15.11.2025")
    funnel, _actions = await _report(sveta, before, "01.11.2025 – 15.11.2025")
    assert "получено: 3" in (funnel.text or "")

    after = len(sveta.messages())
    emulator.send_text(SVETA, "05.01")
    reply = await sveta.next_message(after)
    assert "Воронка" not in (reply.text or "") and "❓" not in (reply.text or "")


async def test_filters_by_source_and_manager_narrow_the_report_and_clear(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Last 7 days (the three leads of today): "По источнику" lists web_form 2 and Tilda 1;
    Tilda brings its report (1 received, junk 1) headed "источник: форма Tilda"; "По
    менеджеру" then lists Anna 0 and Boris 1 (Tilda's); Boris narrows it to both filters;
    "Сбросить фильтры" brings all 3 again. "По менеджеру" → Anna: her 1 lead, a deal."""
    await _history(app, staff)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "выберите период")
    before = len(sveta.messages())
    await _tap(sveta, menu, "Последние 7 дней")
    _funnel, actions = await _report(sveta, before, "Последние 7 дней, 30.12 – 05.01")

    picker = await _tap_for_reply(sveta, actions, "📡 По источнику", "Фильтр по источнику")
    assert sveta.button_texts(picker) == ["заявка с сайта · 2", "форма Tilda · 1"]
    before = len(sveta.messages())
    await _tap(sveta, picker, "форма Tilda · 1")
    funnel, actions = await _report(sveta, before, "источник: форма Tilda")
    assert (funnel.text or "").startswith(
        "📊 Последние 7 дней, 30.12 – 05.01 · источник: форма Tilda\n"
    )
    assert "получено: 1" in (funnel.text or "") and "Мусор: 1" in (funnel.text or "")
    assert "✖ Сбросить фильтры" in sveta.button_texts(actions)

    managers = await _tap_for_reply(sveta, actions, "👥 По менеджеру", "Фильтр по менеджеру")
    assert sveta.button_texts(managers) == ["Anna · 0", "Boris · 1"]
    before = len(sveta.messages())
    await _tap(sveta, managers, "Boris · 1")
    funnel, actions = await _report(sveta, before, "менеджер: Boris")
    assert "источник: форма Tilda · менеджер: Boris" in (funnel.text or "")
    assert "получено: 1" in (funnel.text or "")

    before = len(sveta.messages())
    await _tap(sveta, actions, "✖ Сбросить фильтры")
    funnel, actions = await _report(sveta, before, "30.12 – 05.01")
    assert "источник" not in (funnel.text or "") and "получено: 3" in (funnel.text or "")
    assert "✖ Сбросить фильтры" not in sveta.button_texts(actions)

    managers = await _tap_for_reply(sveta, actions, "👥 По менеджеру", "Фильтр по менеджеру")
    assert sveta.button_texts(managers) == ["Anna · 1", "Boris · 1"]
    before = len(sveta.messages())
    await _tap(sveta, managers, "Anna · 1")
    funnel, _actions = await _report(sveta, before, "менеджер: Anna")
    assert "получено: 1" in (funnel.text or "") and "→ сделок: 1 · 100%" in (funnel.text or "")


async def test_a_number_opens_its_leads_page_by_page_and_each_opens_its_card(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Ten more new leads today: "Сегодня" shows "В работе · 11"; pressed, a list of 11 in two
    pages of 8 (the newest first), which turn in place (8, then 3 lines); a line opens that
    lead's live card. "Мусор: Услуги нет у нас · 1" opens Oleg II alone."""
    ids = await _history(app, staff)
    async with app.sessions() as session:
        more = [
            LeadInput(source="web_form", phone=f"+7900000010{n}", name=f"Extra {n}")
            for n in range(10)
        ]
        added = await intake_leads(session, more, TODAY + timedelta(minutes=30))
    newest = max(result.lead_id for result in added)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "выберите период")
    before = len(sveta.messages())
    await _tap(sveta, menu, "Сегодня")
    _funnel, actions = await _report(sveta, before, "Сегодня, 05.01")
    assert "⏳ В работе · 11" in sveta.button_texts(actions)

    listed = await _tap_for_reply(sveta, actions, "⏳ В работе · 11", "В работе")
    assert (listed.text or "").endswith(
        "⏳ В работе — лидов: 11 · стр. 1/2\n\nНажмите на лид, чтобы открыть карточку."
    )
    lines = sveta.button_texts(listed)
    assert len(lines) == 8 + 2 and lines[-2:] == ["1/2", "▶"]
    assert lines[0].startswith(f"#{newest} ")
    await _tap(sveta, listed, "▶")
    await sveta.until(listed, "стр. 2/2")
    lines = sveta.button_texts(listed)
    assert len(lines) == 3 + 2 and lines[-2:] == ["◀", "2/2"]
    assert lines[2].startswith(f"#{ids['Pavel II']} ")  # the oldest open lead of today

    card = await _tap_for_reply(sveta, listed, lines[2], f"#{ids['Pavel II']}")
    assert "Pavel II" in (card.text or "")

    junk = await _tap_for_reply(sveta, actions, "🗑 Мусор: Услуги нет у нас · 1", "лидов")
    assert "🗑 Мусор: Услуги нет у нас — лидов: 1" in (junk.text or "")
    [line] = sveta.button_texts(junk)
    assert line.startswith(f"#{ids['Oleg II']} 🗑 Oleg II")


async def test_a_managers_own_report_and_what_is_refused(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Anna's own "Last 7 days": her deal only, "By source" but no "By manager"; her deals
    list holds Ivan II alone. Forged presses — everybody's report, her report filtered to
    Sveta, the manager picker, everybody's junk — are told "Only a supervisor can do this"; a
    source the period does not have is an outdated button; none sends anything."""
    ids = await _history(app, staff)
    anna = Phone(emulator, ANNA)
    menu = await anna.write("/report", "choose the period")
    before = len(anna.messages())
    await _tap(anna, menu, "Last 7 days")
    funnel, actions = await _report(anna, before, "Last 7 days, 30 Dec – 5 Jan")
    assert "received: 1" in (funnel.text or "") and "only yours" in (funnel.text or "")
    texts = anna.button_texts(actions)
    assert "📡 By source" in texts and "👥 By manager" not in texts
    deals = await _tap_for_reply(anna, actions, "💰 Deals · 1", "leads: 1")
    [line] = anna.button_texts(deals)
    assert line.startswith(f"#{ids['Ivan II']} ")

    day, span = day_number(LAST_7_DAYS[0]), 6
    sveta_id = staff["sveta"].id
    shown = len(anna.messages())
    for forged in (
        f"rv:show:{day}:{span}:all:::0",
        f"rv:show:{day}:{span}:own::{sveta_id}:0",
        f"rv:mgr:{day}:{span}:own:::0",
        f"rd:junk:{day}:{span}:all:::",
    ):
        refused = await anna.press_data(actions, forged)
        assert refused["show_alert"] and refused["text"] == "Only a supervisor can do this.", forged
    gone = await anna.press_data(actions, f"rv:show:{day}:{span}:own:{short_key('vk')}::0")
    assert gone["show_alert"] and "Send /report again" in str(gone["text"])
    reason = await anna.press_data(actions, f"rd:jr:{day}:{span}:own:::{short_key('spam')}")
    assert reason["show_alert"] and "Send /report again" in str(reason["text"])
    assert len(anna.messages()) == shown


async def test_a_demoted_supervisors_old_buttons_are_refused(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Sveta's report of everybody's leads is on her screen when an admin makes her a
    manager: its "По источнику" and its leads are refused (the role is read on each press)."""
    await _history(app, staff)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "выберите период")
    before = len(sveta.messages())
    await _tap(sveta, menu, "Последние 7 дней")
    _funnel, actions = await _report(sveta, before, "Последние 7 дней, 30.12 – 05.01")
    async with app.sessions() as session:
        await session.execute(
            update(Staff).where(Staff.id == staff["sveta"].id).values(role=Role.MANAGER)
        )
        await session.commit()
    shown = len(sveta.messages())
    for label in ("📡 По источнику", "⏳ В работе · 1"):
        refused = await _tap(sveta, actions, label)
        assert refused["show_alert"] and "только руководитель" in str(refused["text"])
    assert len(sveta.messages()) == shown


def _documents(emulator: TelegramEmulator, chat_id: int) -> list[dict[str, object]]:
    return [r.params for r in emulator.calls("sendDocument") if r.params["chat_id"] == chat_id]


async def test_the_files_under_a_report_come_as_documents(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Under Sveta's "Последние 7 дней" filtered to Tilda: "Лиды CSV" sends
    leads_2025-12-30_2026-01-05.csv (UTF-8 with a BOM, `;`, a header and Oleg II alone),
    captioned with the period and the filter; "Лиды XLSX" and "Отчёт XLSX" send workbooks.
    Anna's own CSV of the same days holds her lead alone."""
    await _history(app, staff)
    sveta = Phone(emulator, SVETA)
    menu = await sveta.write("/report", "выберите период")
    before = len(sveta.messages())
    await _tap(sveta, menu, "Последние 7 дней")
    _funnel, actions = await _report(sveta, before, "Последние 7 дней, 30.12 – 05.01")
    picker = await _tap_for_reply(sveta, actions, "📡 По источнику", "Фильтр по источнику")
    before = len(sveta.messages())
    await _tap(sveta, picker, "форма Tilda · 1")
    _funnel, actions = await _report(sveta, before, "источник: форма Tilda")

    uploads = len(emulator.state.uploads)
    assert not (await _tap(sveta, actions, "📄 Лиды CSV")).get("show_alert")
    await emulator.wait_for(lambda: len(_documents(emulator, SVETA)) == 1)
    [(name, content)] = emulator.state.uploads[uploads:]
    assert name == "leads_2025-12-30_2026-01-05.csv"
    assert content.startswith("\ufeff".encode())
    lines = content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and ";" in lines[0] and "Oleg II" in lines[1]
    document = sveta.messages()[-1]
    assert document.kind == "sendDocument"
    assert (document.text or "").startswith("📄 Лиды, CSV")
    assert "Последние 7 дней, 30.12 – 05.01 · источник: форма Tilda" in (document.text or "")

    for label, file_name in (
        ("📗 Лиды XLSX", "leads_2025-12-30_2026-01-05.xlsx"),
        ("📊 Отчёт XLSX", "report_2025-12-30_2026-01-05.xlsx"),
    ):
        uploads = len(emulator.state.uploads)
        sent = len(_documents(emulator, SVETA))
        await _tap(sveta, actions, label)
        await emulator.wait_for(lambda want=sent + 1: len(_documents(emulator, SVETA)) == want)
        [(name, content)] = emulator.state.uploads[uploads:]
        assert name == file_name and content.startswith(b"PK")  # a workbook is a zip

    anna = Phone(emulator, ANNA)
    menu = await anna.write("/report", "choose the period")
    before = len(anna.messages())
    await _tap(anna, menu, "Last 7 days")
    _funnel, actions = await _report(anna, before, "Last 7 days, 30 Dec – 5 Jan")
    uploads = len(emulator.state.uploads)
    await _tap(anna, actions, "📄 Leads CSV")
    await emulator.wait_for(lambda: len(_documents(emulator, ANNA)) == 1)
    [(_name, content)] = emulator.state.uploads[uploads:]
    lines = content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "Ivan II" in lines[1]
