"""Files for the import tests, as the systems that write them do: a Bitrix24 lead list and
an amoCRM deal export with their documented headers (Bitrix24's crm.lead.list columns and
lead-field captions; an amoCRM deal export's header row), in the encodings and delimiters they
come in, and XLSX workbooks."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import openpyxl

# Bitrix24 → CRM → Leads → ⚙ → Export to Excel/CSV: the list's columns (Russian portal)
BITRIX_RU = [
    "ID",
    "Название лида",
    "Имя",
    "Фамилия",
    "Отчество",
    "Статус",
    "Дополнительно о статусе",
    "Источник",
    "Дополнительно об источнике",
    "Ответственный",
    "Дата создания",
    "Дата изменения",
    "Рабочий телефон",
    "Мобильный телефон",
    "Рабочий e-mail",
    "Частный e-mail",
    "Комментарий",
    "Сумма",
    "Валюта",
    "Кем создан",
    "Кем изменен",
    "Название компании",
]
# the same on an English portal (the lead fields' and multi-fields' captions)
BITRIX_EN = [
    "ID",
    "Lead Name",
    "Name",
    "Last name",
    "Second name",
    "Status",
    "Status information",
    "Source",
    "Source information",
    "Responsible person",
    "Created on",
    "Modified on",
    "Work Phone",
    "Mobile",
    "Work E-mail",
    "Home E-mail",
    "Comment",
    "Total",
    "Currency",
    "Created by",
    "Modified by",
    "Company name",
]
# amoCRM → Сделки → … → Экспорт: the deal's columns, then its main contact's
AMOCRM = [
    "ID",
    "Название сделки",
    "Бюджет",
    "Ответственный",
    "Дата создания сделки",
    "Кем создана сделка",
    "Дата редактирования",
    "Кем редактирована",
    "Дата закрытия",
    "Теги",
    "Примечание",
    "Примечание 2",
    "Этап сделки",
    "Воронка",
    "Полное имя контакта",
    "Компания контакта",
    "Ответственный за контакт",
    "Рабочий телефон",
    "Мобильный телефон",
    "Рабочий email",
    "Личный email",
    "Причина отказа",
    "utm_source",
    "utm_campaign",
]


def table_rows(headers: Sequence[str], rows: Sequence[dict[str, str]]) -> list[list[str]]:
    """Rows given as {header: cell} (the rest empty), in the headers' order."""
    unknown = {key for row in rows for key in row} - set(headers)
    assert not unknown, f"not a column of this export: {unknown}"
    return [[row.get(header, "") for header in headers] for row in rows]


def write_csv(
    path: Path,
    headers: Sequence[str],
    rows: Sequence[dict[str, str]],
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(table_rows(headers, rows))
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path
