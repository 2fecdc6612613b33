"""Importing a lead list (bot/intake/imports) on SQLite and PostgreSQL, as a supervisor does
it: the preview first (nothing written), then the import with a policy for the people we
already know; what each imported lead holds, its history, what the report makes of it, and
that nothing about it ever fires (no card, no reminder, no outbox row).

The team works in Moscow (UTC+3). Staff: Anna and Boris (managers), Sveta (supervisor, who
imports). Sveta imports on 01.12.2026 at 12:00 UTC."""

from __future__ import annotations

import csv
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.intake.imports.apply import apply_import
from bot.intake.imports.preview import preview_import
from bot.intake.imports.store import Counts, ImportRun, Policy
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.notes import lead_history, shown_history
from bot.reports.export import LeadExportRow, leads_csv, leads_xlsx, period_leads
from bot.reports.summary import report_summary
from bot.sla.sweep import fire_due_alerts
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadEvent, LeadStatus, OutboxMessage, Staff
from tests.import_files import AMOCRM, BITRIX_EN, BITRIX_RU, write_csv

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY_BEFORE = NOW - timedelta(days=1)


def moscow(day: int, month: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


async def known_person(sessions: SessionFactory, **fields: str) -> int:
    """A client we had before the import (a web form's lead of the day before, still new);
    their lead's id."""
    async with sessions() as session:
        result = await intake_leads(session, [LeadInput(source="web_form", **fields)], DAY_BEFORE)
    return result[0].lead_id


async def count(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def run_import(
    sessions: SessionFactory,
    config: AppConfig,
    path: Path,
    policy: Policy,
    importer: Staff | None,
    progress: list[Counts] | None = None,
) -> tuple[Counts, list[list[str]]]:
    """Apply the file; the counts and the rejected rows' file as read back."""
    run = ImportRun(path.name, policy, importer.id if importer else None, NOW, config)
    rejected = path.with_suffix(".rejected.csv")

    async def heard(counts: Counts) -> None:
        if progress is not None:
            progress.append(Counts(**vars(counts)))

    counts = await apply_import(sessions, path, run, rejected, "en", heard)
    with rejected.open(encoding="utf-8-sig", newline="") as file:
        return counts, list(csv.reader(file, delimiter=";"))


def bitrix_file(tmp_path: Path) -> Path:
    """Six rows of a Bitrix24 list in cp1251 (Russian Windows Excel's "CSV"), `;`."""
    rows = [
        {  # 2: a deal, Anna's; Bitrix24 gives no closing date: its last change is used
            "ID": "101",
            "Название лида": "Заявка с сайта",
            "Имя": "Иван",
            "Фамилия": "Петров",
            "Статус": "Качественный лид",
            "Источник": "Веб-сайт",
            "Ответственный": "Anna Smirnova",
            "Дата создания": "05.11.2026 10:00:00",
            "Дата изменения": "06.11.2026 15:30:00",
            "Мобильный телефон": "+7 900 123-45-67",
            "Сумма": "54 700,50",
            "Валюта": "Российский рубль",
        },
        {  # 3: someone we know, their phone written another way
            "ID": "102",
            "Имя": "Катя",
            "Статус": "В работе",
            "Ответственный": "Boris",
            "Дата создания": "06.11.2026 11:00:00",
            "Рабочий телефон": "8 (900) 111-22-33",
        },
        {  # 4: someone we know by e-mail
            "ID": "103",
            "Имя": "Олег",
            "Статус": "Не обработан",
            "Дата создания": "07.11.2026 12:00:00",
            "Частный e-mail": "OLEG@Example.com",
        },
        {  # 5: an unreadable phone: rejected
            "ID": "104",
            "Имя": "Broken",
            "Дата создания": "08.11.2026 12:00:00",
            "Мобильный телефон": "доб. 12",
        },
        {  # 6: Иван again: a second lead of the person row 2 brings (junk)
            "ID": "105",
            "Имя": "Иван",
            "Фамилия": "Петров",
            "Статус": "Некачественный лид",
            "Ответственный": "Boris",
            "Дата создания": "20.11.2026 09:00:00",
            "Дата изменения": "20.11.2026 09:30:00",
            "Мобильный телефон": "8 900 123 45 67",
        },
        {  # 7: a stage of their own and an owner nobody here is: open, in the pool
            "ID": "106",
            "Имя": "Мария",
            "Статус": "Ждём предоплату",
            "Ответственный": "Григорий Лепс",
            "Дата создания": "21.11.2026 09:00:00",
            "Мобильный телефон": "+79005556677",
            "Комментарий": "Хочет <b>скидку</b> & «срочно»",
        },
    ]
    return write_csv(tmp_path / "bitrix.csv", BITRIX_RU, rows, encoding="cp1251")


async def test_the_preview_counts_everything_and_writes_nothing(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], tmp_path: Path
) -> None:
    await known_person(sessions, phone="+79001112233", name="Катя")
    await known_person(sessions, email="oleg@example.com", name="Олег")
    before = [await count(sessions, model) for model in (Contact, Lead, LeadEvent, OutboxMessage)]
    async with sessions() as session:
        preview = await preview_import(session, bitrix_file(tmp_path), "bitrix.csv", config, NOW)
    assert (preview.kind, preview.encoding, preview.delimiter) == ("csv", "cp1251", ";")
    assert preview.columns.origin == "bitrix24"
    assert (preview.rows, preview.new, preview.duplicates, preview.already) == (6, 3, 2, 0)
    assert preview.rejected == 1
    assert [(s.number, s.problem, s.column) for s in preview.samples] == [
        (5, "bad_phone", "Мобильный телефон")
    ]
    assert dict(preview.closed) == {"converted": 1, "junk": 1}
    assert preview.noted_owners() == [("Григорий Лепс", 1)]
    assert preview.noted_statuses() == [("Ждём предоплату", 1)]
    after = [await count(sessions, model) for model in (Contact, Lead, LeadEvent, OutboxMessage)]
    assert after == before


async def test_an_import_makes_leads_with_their_history_and_nothing_fires(
    sessions: SessionFactory,
    config: AppConfig,
    staff: dict[str, Staff],
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    await known_person(sessions, phone="+79001112233", name="Катя")
    await known_person(sessions, email="oleg@example.com", name="Олег")
    outbox_before = await count(sessions, OutboxMessage)
    progress: list[Counts] = []
    counts, rejected = await run_import(
        sessions, config, bitrix_file(tmp_path), Policy.SKIP, staff["sveta"], progress
    )
    assert counts == Counts(created=3, skipped=2, rejected=1)
    assert progress[-1] == counts
    # the rejected row, with its line and the reason, the person's cells as they were
    assert rejected[0][:3] == ["Row", "Reason", "ID"]
    assert rejected[1][:4] == [
        "5",
        "not a phone number in “Мобильный телефон”: доб. 12",
        "104",
        "",
    ]
    assert len(rejected) == 2
    async with sessions() as session:
        leads = (
            await session.scalars(
                select(Lead).where(Lead.created_at < NOW - timedelta(days=1)).order_by(Lead.id)
            )
        ).all()
        deal, junk, open_lead = leads
        assert (deal.status, deal.owner_id, deal.closed_by_id) == (
            LeadStatus.CONVERTED,
            staff["anna"].id,
            staff["anna"].id,
        )
        assert deal.name == "Иван Петров" and deal.phone == "+79001234567"
        assert deal.source == "веб-сайт" and deal.amount == Decimal("54700.50")
        assert deal.created_at == moscow(5, 11, 10)
        assert deal.closed_at == moscow(6, 11, 15, 30)
        assert deal.updated_at == NOW  # changed here now: the API's change feed shows it
        assert deal.message == "Заявка с сайта" and deal.extra == {}
        # no take time in a Bitrix24 list: none is made up (the report's times stay true)
        assert (deal.first_owner_id, deal.first_taken_at) == (None, None)
        assert (junk.status, junk.closed_by_id, junk.close_reason) == (
            LeadStatus.JUNK,
            staff["boris"].id,
            None,
        )
        # Иван's second lead is his: one contact, a repeat
        assert (junk.contact_id, junk.is_repeat, deal.is_repeat) == (deal.contact_id, True, False)
        # open, nobody here owns it: new, in the pool; its time limits never start
        assert (open_lead.status, open_lead.owner_id) == (LeadStatus.NEW, None)
        assert open_lead.message == "Хочет <b>скидку</b> & «срочно»"
        assert open_lead.updated_at == NOW
        for lead in leads:
            assert (lead.alert_at, lead.offered_to_id, lead.waiting_since) == (None, None, None)
        events = (
            await session.execute(
                select(LeadEvent.kind, LeadEvent.created_at, LeadEvent.actor_id, LeadEvent.imported)
                .where(LeadEvent.lead_id == deal.id)
                .order_by(LeadEvent.id)
            )
        ).all()
        assert [tuple(event) for event in events] == [
            ("created", moscow(5, 11, 10), None, True),
            ("convert", moscow(6, 11, 15, 30), staff["anna"].id, True),
            ("imported", NOW, staff["sveta"].id, True),
        ]
        imported = await session.scalar(
            select(LeadEvent).where(LeadEvent.lead_id == deal.id, LeadEvent.kind == "imported")
        )
        assert imported is not None and imported.import_key is not None
        assert imported.data["file"] == "bitrix.csv" and imported.data["row"] == 2
        assert imported.data["status"] == "Качественный лид"
        assert imported.data["outcome"] == "created"
        # History, newest first: the import (its file and row), then the lead's own past
        lines, _ = await lead_history(session, deal.id, 0)
        shown = [(line.kind, line.detail) for line in shown_history(lines, config, "en")]
        assert shown == [("imported", "bitrix.csv:2"), ("convert", None), ("created", "веб-сайт")]
        # the people we knew: untouched (the policy was to skip them)
        known = await session.scalar(select(Contact).where(Contact.phone == "+79001112233"))
        assert known is not None and known.email is None
    assert await count(sessions, OutboxMessage) == outbox_before
    # a week later: not one reminder, card or message about any imported lead
    clock.set(NOW + timedelta(days=7))
    async with sessions() as session:
        await fire_due_alerts(session, clock.now(), config, None)
        fired = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.lead_id.in_([lead.id for lead in leads]))
        )
    assert fired == 0


async def test_importing_the_same_file_again_creates_nothing(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], tmp_path: Path
) -> None:
    path = bitrix_file(tmp_path)
    first, _ = await run_import(sessions, config, path, Policy.ATTACH, staff["sveta"])
    assert first == Counts(created=5, rejected=1)
    totals = [await count(sessions, model) for model in (Contact, Lead, LeadEvent)]
    again, _ = await run_import(sessions, config, path, Policy.ATTACH, staff["sveta"])
    assert again == Counts(already=5, rejected=1)
    async with sessions() as session:
        preview = await preview_import(session, path, "bitrix.csv", config, NOW)
    assert (preview.new, preview.duplicates, preview.already) == (0, 0, 5)
    assert [await count(sessions, model) for model in (Contact, Lead, LeadEvent)] == totals


@pytest.mark.parametrize("policy", list(Policy))
async def test_each_policy_for_someone_we_know(
    sessions: SessionFactory,
    config: AppConfig,
    staff: dict[str, Staff],
    tmp_path: Path,
    policy: Policy,
) -> None:
    """Катя wrote through the site (a phone only, "call me"); the file knows her name, her
    e-mail and what she wants, with her phone in another format."""
    lead_id = await known_person(sessions, phone="+79001112233", message="call me")
    path = write_csv(
        tmp_path / "list.csv",
        ["Имя", "Телефон", "E-mail", "Услуга", "Комментарий", "Статус"],
        [
            {
                "Имя": "Катя",
                "Телефон": "8 900 111 22 33",
                "E-mail": "kate@example.com",
                "Услуга": "Тур в Казань",
                "Комментарий": "from the old CRM",
                "Статус": "Сделка",
            }
        ],
        delimiter=",",
        encoding="utf-8",
    )
    leads_before = await count(sessions, Lead)
    counts, _ = await run_import(sessions, config, path, policy, staff["sveta"])
    expected = {
        Policy.SKIP: Counts(skipped=1),
        Policy.ATTACH: Counts(attached=1),
        Policy.UPDATE: Counts(updated=1),
    }
    assert counts == expected[policy]
    assert await count(sessions, Lead) == leads_before  # never a new lead for her
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        contact = await session.get(Contact, lead.contact_id if lead else 0)
        events = (
            await session.scalars(
                select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "imported")
            )
        ).all()
    assert lead is not None and contact is not None
    assert lead.status == LeadStatus.NEW  # her lead lives on as it was: not closed by a file
    if policy is Policy.SKIP:
        assert events == [] and (lead.name, contact.email) == (None, None)
    elif policy is Policy.ATTACH:
        assert [e.data["outcome"] for e in events] == ["attached"]
        assert events[0].data["email"] == "kate@example.com"
        assert (lead.name, lead.email, contact.email, lead.version) == (None, None, None, 1)
        assert lead.updated_at == DAY_BEFORE  # history added, the lead itself unchanged
    else:
        assert [e.data["outcome"] for e in events] == ["updated"]
        assert events[0].data["filled"] == [
            "contact.email",
            "contact.name",
            "email",
            "name",
            "service",
        ]
        # empty fields filled; what she wrote herself stays
        assert (lead.name, lead.email, lead.service) == ("Катя", "kate@example.com", "Тур в Казань")
        assert lead.message == "call me" and lead.version == 2
        assert lead.updated_at == NOW  # a change: the API's change feed brings it again
        assert (contact.name, contact.email) == ("Катя", "kate@example.com")
    again, _ = await run_import(sessions, config, path, policy, staff["sveta"])
    assert again == (Counts(skipped=1) if policy is Policy.SKIP else Counts(already=1))


async def test_an_amocrm_export(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], tmp_path: Path
) -> None:
    rows = [
        {
            "ID": "9001",
            "Название сделки": "Сделка #9001",
            "Бюджет": "120000",
            "Ответственный": "Anna",
            "Дата создания сделки": "01.10.2026 10:00:00",
            "Дата закрытия": "15.10.2026 18:00:00",
            "Этап сделки": "Успешно реализовано",
            "Воронка": "Воронка",
            "Полное имя контакта": "Пётр Сидоров",
            "Мобильный телефон": "+7 (912) 000-11-22",
            "utm_source": "yandex",
            "utm_campaign": "autumn",
        },
        {
            "ID": "9002",
            "Название сделки": "Сделка #9002",
            "Ответственный": "Boris",
            "Дата создания сделки": "02.10.2026 10:00:00",
            "Дата закрытия": "03.10.2026 10:00:00",
            "Этап сделки": "Закрыто и не реализовано",
            "Полное имя контакта": "Нина",
            "Рабочий email": "nina@example.com",
            "Причина отказа": "Дорого",
            "Примечание": "звонила дважды",
        },
        {
            "ID": "9003",
            "Название сделки": "Сделка #9003",
            "Ответственный": "Boris",
            "Дата создания сделки": "03.10.2026 10:00:00",
            "Этап сделки": "Переговоры",
            "Полное имя контакта": "Глеб",
            "Рабочий телефон": "89120003344",
        },
    ]
    path = write_csv(tmp_path / "amocrm.csv", AMOCRM, rows, encoding="utf-8", delimiter=",")
    async with sessions() as session:
        preview = await preview_import(session, path, "amocrm.csv", config, NOW)
    assert preview.columns.origin == "amocrm"
    assert preview.noted_statuses() == [("Переговоры", 1)]
    counts, _ = await run_import(sessions, config, path, Policy.SKIP, staff["sveta"])
    assert counts == Counts(created=3)
    async with sessions() as session:
        won, lost, talking = (await session.scalars(select(Lead).order_by(Lead.id))).all()
    assert (won.status, won.amount, won.owner_id) == (
        LeadStatus.CONVERTED,
        Decimal("120000.00"),
        staff["anna"].id,
    )
    assert won.closed_at == moscow(15, 10, 18) and won.utm == {
        "utm_source": "yandex",
        "utm_campaign": "autumn",
    }
    assert (won.name, won.phone, won.message) == ("Пётр Сидоров", "+79120001122", "Сделка #9001")
    assert (lost.status, lost.close_reason, lost.message) == (
        LeadStatus.REFUSED,
        "price",
        "звонила дважды",
    )
    assert lost.extra == {"title": "Сделка #9002"}
    # a stage of the pipeline: open, in Boris's work (he is here, on the staff)
    assert (talking.status, talking.owner_id) == (LeadStatus.IN_WORK, staff["boris"].id)


async def test_an_english_bitrix24_export_as_xlsx(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], tmp_path: Path
) -> None:
    from tests.import_files import write_xlsx

    row = dict.fromkeys(BITRIX_EN, None)
    row |= {
        "ID": 55,
        "Lead Name": "Website request",
        "Name": "John",
        "Last name": "Smith",
        "Status": "Junk Lead",
        "Responsible person": "Boris",
        "Created on": datetime(2026, 11, 2, 9, 15),
        "Mobile": 79001230000,
        "Total": 0,
    }
    path = write_xlsx(tmp_path / "leads.xlsx", BITRIX_EN, [list(row.values())])
    counts, _ = await run_import(sessions, config, path, Policy.SKIP, staff["sveta"])
    assert counts == Counts(created=1)
    async with sessions() as session:
        lead = await session.scalar(select(Lead))
    assert lead is not None
    assert (lead.name, lead.phone, lead.status) == ("John Smith", "+79001230000", LeadStatus.JUNK)
    assert lead.created_at == moscow(2, 11, 9, 15) == lead.closed_at


async def test_the_report_counts_imported_leads_from_day_one(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], tmp_path: Path
) -> None:
    """leadbot's own export carries the first take: the report's times come from it."""
    headers = ["ID", "Создан", "Имя", "Телефон", "Статус", "Ответственный", "Сумма", "Взят"]
    headers += ["Закрыт", "Источник"]
    rows = [
        {  # taken 10 minutes after arrival (working hours), converted for 1 000
            "ID": "1",
            "Создан": "2026-11-02 10:00:00",
            "Взят": "2026-11-02 10:10:00",
            "Закрыт": "2026-11-03 10:00:00",
            "Имя": "A",
            "Телефон": "+79000000001",
            "Статус": "Сделка",
            "Ответственный": "Anna",
            "Сумма": "1000,00",
            "Источник": "tilda",
        },
        {  # a refusal of Boris's, no take time known
            "ID": "2",
            "Создан": "2026-11-02 11:00:00",
            "Закрыт": "2026-11-02 12:00:00",
            "Имя": "B",
            "Телефон": "+79000000002",
            "Статус": "Отказ",
            "Ответственный": "Boris",
            "Источник": "tilda",
        },
        {  # still open, nobody's
            "ID": "3",
            "Создан": "2026-11-03 09:00:00",
            "Имя": "C",
            "Телефон": "+79000000003",
            "Статус": "Новый",
            "Источник": "vk",
        },
    ]
    path = write_csv(tmp_path / "ours.csv", headers, rows)
    await run_import(sessions, config, path, Policy.SKIP, staff["sveta"])
    async with sessions() as session:
        summary = await report_summary(session, (date(2026, 11, 1), date(2026, 11, 30)), config)
    funnel = summary.funnel
    assert (funnel.received, funnel.taken, funnel.converted, funnel.refused, funnel.open) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert funnel.amount == Decimal("1000.00")
    assert funnel.convert_p50_s == 24 * 3600
    people = {row.name: row for row in summary.by_manager}
    assert (people["Anna"].taken, people["Anna"].converted, people["Anna"].take_p50_s) == (
        1,
        1,
        600,
    )
    assert people["Anna"].take_work_p50_s == 600
    assert (people["Boris"].taken, people["Boris"].refused) == (0, 1)
    assert {row.source: row.received for row in summary.by_source} == {"tilda": 2, "vk": 1}


@pytest.mark.parametrize(("kind", "locale"), [("csv", "ru"), ("xlsx", "en")])
async def test_export_then_import_gives_the_same_leads(
    sessions: SessionFactory,
    config: AppConfig,
    staff: dict[str, Staff],
    tmp_path: Path,
    kind: str,
    locale: str,
) -> None:
    """The period's leads as /report's Export writes them, imported into a fresh database,
    exported again: every cell the same but the ids (and a call-back, which has no due
    time in the file, comes back in work)."""
    rows = [
        LeadExportRow(
            id=7,
            created_at=moscow(5, 1, 0, year=2026),
            source="web_form",
            status=LeadStatus.CONVERTED,
            name='Иван; "Ваня"\nПетров <b>&amp;</b> 🎉',
            phone="+79001234567",
            email="ivan@example.com",
            service="Тур",
            owner="Anna",
            amount=Decimal("54700.50"),
            taken_at=moscow(5, 1, 9, 10, year=2026),
            contacted_at=moscow(5, 1, 10, year=2026),
            closed_at=moscow(5, 1, 10, year=2026),
            utm={"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "winter"},
        ),
        LeadExportRow(
            id=8,
            created_at=moscow(5, 1, 10, year=2026),
            source="tilda",
            status=LeadStatus.IN_WORK,
            name='=HYPERLINK("http://evil.example/","click")',
            phone="+79001234568",
            owner="Anna",
            taken_at=moscow(5, 1, 10, 2, year=2026),
        ),
        LeadExportRow(
            id=9,
            created_at=moscow(5, 1, 11, year=2026),
            source="web_form",
            status=LeadStatus.JUNK,
            name="Ж" * 150,
            phone="+79001234569",
            owner="Anna",
            close_reason="no_service",
            close_comment="Подогрев бассейна",
            taken_at=datetime(2026, 1, 5, 8, 0, 1, tzinfo=UTC),
            closed_at=moscow(5, 1, 11, 5, year=2026),
        ),
        LeadExportRow(
            id=10,
            created_at=moscow(6, 1, 9, year=2026),
            source="telegram",
            status=LeadStatus.REFUSED,
            name="Пётр",
            phone="+79001234570",
            owner="Boris",
            close_reason="price",
            taken_at=datetime(2026, 1, 6, 6, 0, 30, tzinfo=UTC),
            contacted_at=moscow(6, 1, 9, 30, year=2026),
            closed_at=moscow(6, 1, 10, year=2026),
            utm={"start": "promo"},
        ),
        LeadExportRow(
            id=11,
            created_at=datetime(2026, 1, 6, 20, 59, 59, tzinfo=UTC),
            source="tilda",
            status=LeadStatus.NEW,
            name="-1+2",
            email="someone@example.com",
        ),
    ]
    writer = leads_csv if kind == "csv" else leads_xlsx
    path = tmp_path / f"leads.{kind}"
    path.write_bytes(writer(rows, config, locale))
    counts, _ = await run_import(sessions, config, path, Policy.SKIP, staff["sveta"])
    assert counts == Counts(created=5)
    async with sessions() as session:
        again = await period_leads(session, (date(2026, 1, 5), date(2026, 1, 6)), config)

    def comparable(row: LeadExportRow) -> tuple[object, ...]:
        return tuple(getattr(row, f.name) for f in fields(row) if f.name != "id")

    assert [comparable(row) for row in again] == [comparable(row) for row in rows]

    # ...and the file written again is the same, but for the ids
    def without_ids(data: bytes) -> list[list[str]]:
        lines = csv.reader(data.decode("utf-8-sig").splitlines(), delimiter=";")
        return [line[1:] for line in lines]

    assert without_ids(leads_csv(again, config, locale)) == without_ids(
        leads_csv(rows, config, locale)
    )
