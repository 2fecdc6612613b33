"""Reading a file a supervisor sends for import (bot/intake/imports): the encoding and the
delimiter found, headers recognised (ours, Bitrix24's, amoCRM's), every cell read into a lead
or the row rejected with the reason the person will read in the file of rejected rows.

The team works in Moscow (UTC+3), RU phones; "now" is 01.12.2026 12:00 UTC."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from bot.config import load_app_config
from bot.intake.imports.columns import map_columns
from bot.intake.imports.owners import Staffing
from bot.intake.imports.reading import Table, UnreadableFile, UnreadableLine, open_table
from bot.intake.imports.rejected import describe
from bot.intake.imports.rows import ImportRow, Rejection, RowReader
from bot.intake.imports.values import BadValue, amount, moment, status
from storage.models import LeadStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONFIG = load_app_config()
# staff ids 1..3; Telegram ids 1001..1003; Dina left the team
STAFF = Staffing(
    [(1, 1001, "Анна", True), (2, 1002, "Boris Petrov", True), (3, 1003, "Дина", False)]
)
BITRIX_HEADERS = [
    "ID",
    "Название лида",
    "Имя",
    "Фамилия",
    "Отчество",
    "Статус",
    "Дополнительно о статусе",
    "Источник",
    "Ответственный",
    "Дата создания",
    "Дата изменения",
    "Рабочий телефон",
    "Мобильный телефон",
    "Рабочий e-mail",
    "Комментарий",
    "Сумма",
    "Валюта",
    "Кем создан",
]


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read_all(path: Path) -> tuple[Table, list[tuple[int, object]]]:
    with open_table(path) as table:
        return table, list(table.rows)


def reader_for(headers: list[str]) -> RowReader:
    return RowReader(map_columns(headers), CONFIG, STAFF, NOW)


# --- the file: encoding, delimiter, kind ------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expected"),
    [
        ("utf-8", ";", "utf-8"),
        ("utf-8-sig", ",", "utf-8-sig"),
        ("cp1251", ";", "cp1251"),
        ("cp1251", "\t", "cp1251"),
        ("utf-8", "\t", "utf-8"),
    ],
)
def test_encoding_and_delimiter_are_found(
    tmp_path: Path, encoding: str, delimiter: str, expected: str
) -> None:
    lines = [
        ["Имя", "Телефон", "Комментарий"],
        ["Иван Петров", "8 900 123-45-67", "Перезвонить после обеда, спросить про скидку"],
        ["Ольга Сергеевна", "+7 900 765 43 21", "Нужна доставка, оплата картой"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(lines)  # a comma in a cell is quoted
    table, rows = read_all(write(tmp_path, "leads.csv", buffer.getvalue(), encoding))
    assert (table.kind, table.encoding, table.delimiter) == ("csv", expected, delimiter)
    # the person sees their own letters back, the BOM gone from the first header
    assert table.headers == ["Имя", "Телефон", "Комментарий"]
    assert rows == [(2, lines[1]), (3, lines[2])]


def test_a_comma_file_with_quoted_commas_and_line_breaks(tmp_path: Path) -> None:
    text = 'Name,Phone,Comment\r\n"Petrov, Ivan",+79001234567,"two\r\nlines"\r\n,,\r\nAnn,,hi\r\n'
    table, rows = read_all(write(tmp_path, "x.csv", text))
    assert table.delimiter == ","
    # an empty line is skipped; a quoted line break keeps its row (numbered where it ends)
    assert rows == [(3, ["Petrov, Ivan", "+79001234567", "two\r\nlines"]), (5, ["Ann", "", "hi"])]


def test_a_line_too_long_to_read_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    # an unclosed quote swallows the rest of the file into one cell, past csv's 128 KiB
    text = 'Name;Phone\nAnn;+79001234567\nBob;"' + "x" * 200_000 + "\n"
    _, rows = read_all(write(tmp_path, "x.csv", text))
    assert rows[0] == (2, ["Ann", "+79001234567"])
    assert isinstance(rows[1][1], UnreadableLine)
    row = reader_for(["Name", "Phone"]).read(*rows[1])  # type: ignore[arg-type]
    assert isinstance(row, Rejection) and row.problem == "unreadable_line"


def test_a_byte_the_encoding_cannot_read_spoils_its_cell_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    body = "Имя;Телефон\n" + "Иван;+79001234567\n" * 4000  # the sample is clean UTF-8
    path.write_bytes(body.encode() + b"Bad\xff\xfe;+79001234568\n")
    table, rows = read_all(path)
    assert table.encoding == "utf-8"
    assert rows[-1][1] == ["Bad\ufffd\ufffd", "+79001234568"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"\r\n;;\r\n", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", "old_excel"),
        (b"PK\x03\x04not really a zip", "bad_xlsx"),
    ],
)
def test_files_that_are_no_table_are_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile) as refused:
        read_all(path)
    assert refused.value.problem == problem


def test_an_xlsx_is_read_as_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Имя", "Телефон", "Дата создания", "Сумма"])
    sheet.append([None, None, None, None])
    sheet.append(["Иван", 79001234567, datetime(2026, 11, 5, 14, 30), 15000.5])
    book.save(path)
    table, rows = read_all(path)
    assert (table.kind, table.headers) == ("xlsx", ["Имя", "Телефон", "Дата создания", "Сумма"])
    assert rows == [(3, ["Иван", 79001234567, datetime(2026, 11, 5, 14, 30), 15000.5])]
    row = reader_for(table.headers).read(*rows[0])  # type: ignore[arg-type]
    assert isinstance(row, ImportRow)
    # a number cell is a phone as written; a spreadsheet's local time is Moscow's
    assert row.phone == "+79001234567"
    assert row.created_at == datetime(2026, 11, 5, 11, 30, tzinfo=UTC)
    assert row.amount == Decimal("15000.50")


# --- headers ----------------------------------------------------------------------------------


def test_a_bitrix24_export_in_russian_is_recognised() -> None:
    columns = map_columns(BITRIX_HEADERS)
    assert columns.origin == "bitrix24"
    shown = dict((header, field) for header, field in columns.shown() if field != "phone")
    assert shown["Название лида"] == "title"
    assert shown["Ответственный"] == "owner"
    assert shown["Дата изменения"] == "modified"
    # both phone columns are read, work first; what nobody reads is named
    assert columns.fields["phone"] == (11, 12)
    assert columns.left_out() == ["Дополнительно о статусе", "Валюта", "Кем создан"]


def test_a_bitrix24_export_in_english_is_recognised() -> None:
    headers = ["ID", "Lead Name", "Name", "Last name", "Status", "Source", "Responsible person"]
    headers += ["Created on", "Modified on", "Work Phone", "Mobile", "Work E-mail", "Total"]
    columns = map_columns(headers)
    assert columns.origin == "bitrix24"
    assert {field for _, field in columns.shown()} >= {
        "title",
        "status",
        "owner",
        "created",
        "modified",
        "phone",
        "email",
        "amount",
    }
    assert columns.left_out() == []


def test_an_amocrm_export_is_recognised() -> None:
    headers = ["ID", "Название сделки", "Бюджет", "Ответственный", "Дата создания сделки"]
    headers += ["Кем создана сделка", "Дата закрытия", "Теги", "Примечание", "Этап сделки"]
    headers += ["Воронка", "Полное имя контакта", "Компания контакта", "Ответственный за контакт"]
    headers += ["Рабочий телефон", "Мобильный телефон", "Рабочий email", "Причина отказа"]
    columns = map_columns(headers)
    assert columns.origin == "amocrm"
    fields = dict(columns.shown())
    assert fields["Бюджет"] == "amount"
    assert fields["Этап сделки"] == "status"
    assert fields["Полное имя контакта"] == "name"
    assert fields["Причина отказа"] == "reason"
    assert "Ответственный за контакт" in columns.left_out()


def test_headers_match_whatever_their_case_spacing_and_yo() -> None:
    columns = map_columns(["  ТЕЛЕФОН ", "e-MAIL:", "Статус*", "Измёненный"])
    assert dict(columns.shown()) == {"  ТЕЛЕФОН ": "phone", "e-MAIL:": "email", "Статус*": "status"}
    assert columns.origin == "table"


# --- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-11-05 14:30:00", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
        ("2026-11-05T14:30", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
        ("05.11.2026 14:30:00", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
        ("05.11.2026 14:30", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
        ("05.11.2026", datetime(2026, 11, 4, 21, 0, tzinfo=UTC)),
        ("11/05/2026 02:30:00 pm", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
        ("2026-11-05T14:30:00+00:00", datetime(2026, 11, 5, 14, 30, tzinfo=UTC)),
        ("2026-11-05T14:30:00Z", datetime(2026, 11, 5, 14, 30, tzinfo=UTC)),
    ],
)
def test_dates_are_local_times_unless_they_say_otherwise(written: str, utc: datetime) -> None:
    assert moment(written, CONFIG.zone) == utc


@pytest.mark.parametrize("written", ["32.13.2026", "вчера", "2026-02-30", "13/45/2026"])
def test_a_date_that_is_no_date_is_bad(written: str) -> None:
    with pytest.raises(BadValue) as bad:
        moment(written, CONFIG.zone)
    assert (bad.value.problem, bad.value.text) == ("bad_date", written)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("15000", "15000.00"),
        ("15 000,50", "15000.50"),
        ("15\u00a0000,5 руб.", "15000.50"),
        ("$1,500.25", "1500.25"),
        ("1.500,25", "1500.25"),
        ("0", "0.00"),
        (15000.5, "15000.50"),
        (7, "7.00"),
    ],
)
def test_amounts_in_the_ways_people_write_them(written: object, value: str) -> None:
    assert amount(written) == Decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("written", ["-5", "abc", "1e400", "9999999999999"])
def test_an_amount_that_cannot_be_is_bad(written: str) -> None:
    with pytest.raises(BadValue):
        amount(written)


@pytest.mark.parametrize(
    ("written", "closed", "known"),
    [
        ("Качественный лид", LeadStatus.CONVERTED, True),
        ("Сконвертирован", LeadStatus.CONVERTED, True),
        ("Некачественный лид", LeadStatus.JUNK, True),
        ("Good Lead", LeadStatus.CONVERTED, True),
        ("Junk Lead", LeadStatus.JUNK, True),
        ("В работе", None, True),
        ("Unassigned", None, True),
        ("Успешно реализовано", LeadStatus.CONVERTED, True),
        ("Закрыто и не реализовано", LeadStatus.REFUSED, True),
        ("Переговоры", None, False),  # an amoCRM pipeline's own stage: open, noted
        ("Сделка", LeadStatus.CONVERTED, True),  # leadbot's export, Russian
        ("Refused", LeadStatus.REFUSED, True),  # leadbot's export, English
        ("Перезвонить", None, True),
        ("junk", LeadStatus.JUNK, True),
        ("", None, True),
    ],
)
def test_statuses_of_every_system(written: str, closed: LeadStatus | None, known: bool) -> None:
    found = status(written, reader_for([]).own_statuses)
    assert (found.closed, found.known) == (closed, known)


# --- rows ---------------------------------------------------------------------------------------


def bitrix_row(cells: dict[str, str] | None = None) -> list[object]:
    row: dict[str, str] = dict.fromkeys(BITRIX_HEADERS, "")
    row.update({"ID": "17", "Имя": "Иван", "Мобильный телефон": "8 (900) 123-45-67"})
    row.update({"Дата создания": "05.11.2026 14:30:00"})
    row.update(cells or {})
    assert list(row) == BITRIX_HEADERS
    return list(row.values())


def test_a_bitrix24_row_becomes_a_closed_lead_with_its_owner() -> None:
    cells = bitrix_row(
        {
            "Фамилия": "Петров",
            "Отчество": "Ильич",
            "Статус": "Качественный лид",
            "Ответственный": "Анна Иванова",  # our "Анна": the only Анна
            "Дата изменения": "10.11.2026 09:00:00",
            "Рабочий e-mail": "IVAN@Example.RU",
            "Сумма": "54 700,50",
            "Источник": "Веб-сайт",
            "Название лида": "Заявка с сайта",
        }
    )
    row = reader_for(BITRIX_HEADERS).read(2, cells)
    assert isinstance(row, ImportRow)
    assert row.name == "Иван Ильич Петров"
    assert (row.phone, row.email) == ("+79001234567", "ivan@example.ru")
    assert row.closed is LeadStatus.CONVERTED and row.owner is not None and row.owner.id == 1
    # closed at its last change (Bitrix24's list has no closing date)
    assert row.closed_at == datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
    assert row.amount == Decimal("54700.50")
    assert (row.source, row.message, row.title) == ("веб-сайт", "Заявка с сайта", "Заявка с сайта")


def test_owners_by_name_or_telegram_id_and_never_guessed() -> None:
    read = reader_for(BITRIX_HEADERS)
    for written, staff_id in [
        ("1002", 2),
        ("boris petrov", 2),
        ("Boris", 2),
        ("Дина", 3),
        ("Анна-Мария", None),
        ("9999", None),
    ]:
        row = read.read(2, bitrix_row({"Ответственный": written}))
        assert isinstance(row, ImportRow)
        assert (row.owner.id if row.owner else None) == staff_id, written


@pytest.mark.parametrize(
    ("cells", "problem", "field", "reason"),
    [
        (
            {"Мобильный телефон": "12"},
            "bad_phone",
            "phone",
            "not a phone number in “Мобильный телефон”: 12",
        ),
        (
            {"Рабочий e-mail": "ivan@"},
            "bad_email",
            "email",
            "not an e-mail in “Рабочий e-mail”: ivan@",
        ),
        (
            {"Дата создания": "31.02.2026"},
            "bad_date",
            "created",
            "not a date in “Дата создания”: 31.02.2026",
        ),
        ({"Сумма": "много"}, "bad_amount", "amount", "not an amount in “Сумма”: много"),
        (
            {"Мобильный телефон": "", "Имя": "Only a name"},
            "no_contact",
            None,
            "no phone, e-mail or message",
        ),
        (
            {"Дата создания": "05.11.2027"},
            "future",
            "created",
            "the date in “Дата создания” has not come yet: 05.11.2027",
        ),
    ],
)
def test_rows_that_cannot_be_leads_say_why(
    cells: dict[str, str], problem: str, field: str | None, reason: str
) -> None:
    read = reader_for(BITRIX_HEADERS)
    row = read.read(7, bitrix_row(cells))
    assert isinstance(row, Rejection)
    assert (row.number, row.problem, row.field) == (7, problem, field)
    assert describe(row, "en") == reason
    assert row.cells[0] == "17"  # the row as read, for the file of rejected rows


def test_a_cell_with_two_phones_gives_the_first_that_reads() -> None:
    phones = {"Мобильный телефон": "доб. 12, 8 900 765-43-21; +7 900 111 22 33"}
    row = reader_for(BITRIX_HEADERS).read(2, bitrix_row(phones))
    assert isinstance(row, ImportRow) and row.phone == "+79007654321"


def test_closed_before_created_is_rejected() -> None:
    headers = ["Имя", "Телефон", "Статус", "Создан", "Закрыт"]
    row = reader_for(headers).read(
        3, ["Ann", "+79001234567", "Сделка", "05.11.2026 10:00", "04.11.2026 10:00"]
    )
    assert isinstance(row, Rejection) and (row.problem, row.field) == ("before_created", "closed")


def test_reasons_by_code_or_label_and_others_kept_in_words() -> None:
    headers = ["Телефон", "Статус", "Причина", "Причина словами"]
    read = reader_for(headers)
    price = read.read(2, ["+79001234567", "Отказ", "Дорого", ""])
    spam = read.read(3, ["+79001234567", "Junk", "spam", ""])
    other = read.read(4, ["+79001234567", "Отказ", "Нашли дешевле у соседей", ""])
    assert isinstance(price, ImportRow) and price.reason == "price"
    assert isinstance(spam, ImportRow) and spam.reason == "spam"
    assert isinstance(other, ImportRow)
    assert (other.reason, other.words) == ("other", "Нашли дешевле у соседей")


def test_the_key_is_the_systems_id_or_else_the_whole_row() -> None:
    bitrix = reader_for(BITRIX_HEADERS)
    a = bitrix.read(2, bitrix_row({"Комментарий": "first"}))
    b = bitrix.read(9, bitrix_row({"Комментарий": "changed since"}))
    plain = reader_for(["ID", "Телефон"])
    c = plain.read(2, ["17", "+79001234567"])
    d = plain.read(2, ["17", "+79001234568"])
    assert isinstance(a, ImportRow) and isinstance(b, ImportRow)
    assert isinstance(c, ImportRow) and isinstance(d, ImportRow)
    assert a.key == b.key  # Bitrix24's lead 17, however its cells changed
    assert c.key != d.key  # a plain table's "17" names nothing for good


def test_hostile_cells_are_kept_as_text_within_limits() -> None:
    headers = ["Имя", "Телефон", "Комментарий"]
    name = "<b>Ivan</b> & 🎉\x00" + "Ж" * 10_240
    row = reader_for(headers).read(2, [name, "+79001234567", "=HYPERLINK(1)"])
    assert isinstance(row, ImportRow)
    assert row.name is not None and row.name.startswith("<b>Ivan</b> & 🎉\ufffd")
    assert len(row.name) == 200
    assert row.message == "=HYPERLINK(1)"


def test_the_bom_is_gone_from_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(codecs.BOM_UTF8 + "ID;Телефон\n1;+79001234567\n".encode())
    table, _ = read_all(path)
    assert table.headers == ["ID", "Телефон"]
