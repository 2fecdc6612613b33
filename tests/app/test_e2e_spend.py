"""End to end: /spend through the real bot and the emulated Bot API, and the costs in /report.
Sveta (supervisor, Russian) enters what the website form cost in January, corrects it, reads
what was entered, and sees the cost per lead and per deal under the channel in her report;
Anna (manager, English) is told /spend is for supervisors; bad input is named and records
nothing.

Four leads arrive on Monday 05.01.2026 at 10:00 Moscow time: three from the website form (one
of them with utm_source=yandex, utm_campaign=<b>autumn</b>; Anna converts one for 54 700.50 ₽)
and one from Tilda. The clock stands at 12:00 Moscow the same day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.app import Application
from bot.devtools.emulator import TelegramEmulator
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.leads.qualify import convert_lead
from storage.models import AdSpend, Staff
from tests.harness import ANNA, SVETA, Phone, outbox_sent

ARRIVED = datetime(2026, 1, 5, 7, tzinfo=UTC)  # 10:00 Moscow, a Monday
CAMPAIGN = {"utm_source": "yandex", "utm_campaign": "<b>autumn</b>"}


async def _leads(app: Application, staff: dict[str, Staff]) -> None:
    async with app.sessions() as session:
        items = [
            LeadInput(source="web_form", phone="+79000000001", name="Ivan"),
            LeadInput(source="web_form", phone="+79000000002", name="Oleg", utm=CAMPAIGN),
            LeadInput(source="web_form", phone="+79000000003", name="Pavel"),
            LeadInput(source="tilda", phone="+79000000004", name="Petr"),
        ]
        deal, *_ = await intake_leads(session, items, ARRIVED)
        anna = staff["anna"]
        assert (await take_lead(session, deal.lead_id, anna, ARRIVED + timedelta(minutes=2))).ok
        answers = {"service": "kitchen", "amount": Decimal("54700.50")}
        done = ARRIVED + timedelta(minutes=30)
        assert (await convert_lead(session, deal.lead_id, anna, answers, done, app.config)).ok
    # The cards go out on their own; a report counted from a chat's length starts after them.
    await outbox_sent(app.sessions)


async def _entries(app: Application) -> list[tuple[str, str, Decimal]]:
    async with app.sessions() as session:
        rows = await session.scalars(select(AdSpend).order_by(AdSpend.id))
        return [(r.source, r.month.isoformat(), Decimal(r.amount)) for r in rows]


def _texts(phone: Phone, after: int) -> list[str]:
    return [m.text or "" for m in phone.messages()[after:] if m.kind == "text"]


async def test_a_supervisor_enters_spend_and_reads_the_cost_per_lead(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Sveta: `/spend` shows how, the sources of the last 30 days and that nothing is entered
    yet; `/spend web_form 15 000` records 15 000 ₽ for January; `/spend WEB_FORM 31000 1.2026`
    replaces it and says so; `/spend` lists it with her name. "Этот месяц" (01.01–05.01, 5 of
    January's 31 days) takes 31 000 × 5/31 = 5 000 ₽: 3 website leads, 1 666.67 ₽ a lead,
    one deal, 5 000 ₽ a deal; Tilda has no spend line. The campaign's lead gets a message of
    its own, its markup shown as text."""
    await _leads(app, staff)
    sveta = Phone(emulator, SVETA)
    usage = await sveta.write("/spend", "Расходы на рекламу")
    assert "/spend vk_ads 15000 01.2026" in usage.text
    assert "Источники за последние 30 дней: web_form, tilda" in usage.text
    assert "За 12.2025 и 01.2026 ещё ничего не внесено." in usage.text

    recorded = await sveta.write("/spend web_form 15 000", "записан")
    assert recorded.text.startswith("✅ Расход записан: web_form, 01.2026 — 15\u202f000 ₽.")
    replaced = await sveta.write("/spend WEB_FORM 31000 1.2026", "записан")
    assert "web_form, 01.2026 — 31\u202f000 ₽ (вместо 15\u202f000 ₽, внесённых раньше)." in (
        replaced.text
    )
    assert await _entries(app) == [("web_form", "2026-01-01", Decimal("31000.00"))]
    listed = await sveta.write("/spend", "Внесено")
    assert "Внесено за 12.2025 и 01.2026\n01.2026 · web_form: 31\u202f000 ₽ (Sveta)" in listed.text

    menu = await sveta.write("/report", "Отчёт")
    before = len(sveta.messages())
    await sveta.press(menu, "rep:month:all")
    await emulator.wait_for(lambda: len(_texts(sveta, before)) >= 6)
    funnel, sources, campaigns, managers, *_ = _texts(sveta, before)
    assert "Этот месяц, 01.01 – 05.01" in funnel
    assert (
        "заявка с сайта: получено 3 · мусор 0% · сделок 1 (33%) · 54\u202f700.50 ₽\n"
        "   💸 расход 5\u202f000 ₽ · лид 1\u202f666.67 ₽ · сделка 5\u202f000 ₽\n"
        "форма Tilda: получено 1 · мусор 0% · сделок 0 (0%)\n"
    ) in sources + "\n"
    assert campaigns.startswith("🎯 По кампаниям")
    assert "yandex / <b>autumn</b>: получено 1 · мусор 0% · сделок 0 (0%)" in campaigns
    assert "Без кампании: 3" in campaigns
    assert managers.startswith("👥 По менеджерам")


async def test_a_manager_is_told_it_is_for_supervisors(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Anna types /spend, with and without an amount: "This command is for supervisors.",
    nothing recorded."""
    await _leads(app, staff)
    anna = Phone(emulator, ANNA)
    refused = await anna.write("/spend web_form 15000", "supervisors")  # lead cards come too
    assert refused.text == "This command is for supervisors."
    alone = await anna.write("/spend", "supervisors")
    assert alone.text == "This command is for supervisors."
    assert await _entries(app) == []


async def test_bad_input_is_named_and_records_nothing(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Each answer says what is wrong, shows what was typed as text (markup escaped, long
    input cut) and ends "Ничего не записано."; no spend is stored."""
    await _leads(app, staff)
    sveta = Phone(emulator, SVETA)
    cases = [
        ("/spend web_form", "Какая сумма? Напишите /spend ИСТОЧНИК СУММА ММ.ГГГГ"),
        ("/spend web_form -5000", "Расход не может быть отрицательным: «-5000»."),
        ("/spend web_form пятнадцать", "«пятнадцать» — не сумма: пишите цифрами"),
        ("/spend web_form 15k 01.2026", "«15k» — не сумма"),
        ("/spend web_form 15000,505", "Не больше двух знаков после запятой: «15000,505»."),
        ("/spend web_form 15000 13.2026", "Месяца «13.2026» нет: пишите как 11.2026"),
        ("/spend web_form 15000 11.2062", "«11.2062» — слишком далеко вперёд"),
        ("/spend <b>vk</b> 100", "«<b>vk</b>» не подходит"),
        ("/spend " + "x" * 4000 + " 100", "Источник длиннее 64 символов: «" + "x" * 39 + "…»"),
        (
            "/spend vk_adz 100",
            "Из vk_adz не приходило ни одного лида, его расход нигде не покажется (опечатка?)."
            " Источники за последние 30 дней: web_form, tilda.",
        ),
    ]
    for typed, shown in cases:
        answer = await sveta.write(typed, "Ничего не записано.")
        assert shown in answer.text, (typed, answer.text)
        assert answer.text.endswith("Ничего не записано.")
        assert not [e for e in answer.entities if e["type"] == "bold"]  # typed markup is text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AdSpend)) == 0
