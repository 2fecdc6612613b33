"""Which column of a file holds what: headers recognised by name, whatever the file came from.

Known headers are those of leadbot's own export (bot/reports/export.py, in both languages,
read from labels.toml so a renamed header is still known), of a Bitrix24 lead list exported
to CSV/Excel (Russian and English: the captions of its lead fields and multi-fields, and the
field codes of a REST export), and of an amoCRM deal export (Russian). Case, spacing, `ё` and
a trailing `:` or `*` do not matter. Several phone or e-mail columns (Bitrix24's work, mobile,
home...) are all read, the first usable value wins; any other field takes its first column,
and the columns nobody knows are shown as left out.

Sources: Bitrix24's crm.lead.list component and crm_lead/crm_field_multi language files;
an amoCRM deal export's header row (deal, contact and multi-field columns)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bot.common.render import labels

# our fields, in the order the mapping is shown
FIELDS = (
    "external_id",
    "name",
    "last_name",
    "middle_name",
    "phone",
    "email",
    "title",
    "message",
    "service",
    "source",
    "status",
    "owner",
    "created",
    "taken",
    "contacted",
    "closed",
    "modified",
    "reason",
    "words",
    "amount",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "start",
)
MANY = frozenset({"phone", "email", "message"})  # every column is read, in file order

# leadbot's export column (labels.toml [export.columns]) -> our field; take_seconds is derived
OWN_COLUMNS = {
    "id": "external_id",
    "created": "created",
    "source": "source",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "start": "start",
    "name": "name",
    "phone": "phone",
    "email": "email",
    "service": "service",
    "status": "status",
    "owner": "owner",
    "reason": "reason",
    "words": "words",
    "amount": "amount",
    "taken": "taken",
    "contacted": "contacted",
    "closed": "closed",
}

BITRIX24 = {
    # crm.lead.list's columns (ru), the lead fields' captions (en), REST field codes
    "external_id": ("ID",),
    "title": ("Название лида", "Lead Name", "TITLE"),
    "name": ("Имя", "Name", "First Name", "Полное имя", "Full name", "Имя, Фамилия", "NAME"),
    "last_name": ("Фамилия", "Last name", "LAST_NAME"),
    "middle_name": ("Отчество", "Second name", "Middle name", "SECOND_NAME"),
    "phone": (
        "Телефон",
        "Рабочий телефон",
        "Мобильный телефон",
        "Домашний телефон",
        "Другой телефон",
        "Телефон для рассылок",
        "Phone",
        "Work Phone",
        "Mobile",
        "Mobile Phone",
        "Home Phone",
        "Other Phone Number",
        "SMS marketing phone",
        "PHONE",
    ),
    "email": (
        "E-mail",
        "Email",
        "Рабочий e-mail",
        "Частный e-mail",
        "Другой e-mail",
        "E-mail для рассылок",
        "Work E-mail",
        "Home E-mail",
        "Other E-mail",
        "Newsletters email",
        "EMAIL",
    ),
    "message": ("Комментарий", "Comment", "Comments", "COMMENTS"),
    "source": ("Источник", "Source", "SOURCE_ID"),
    "status": ("Статус", "Стадия", "Status", "Stage", "STATUS_ID"),
    "owner": ("Ответственный", "Responsible person", "Responsible", "ASSIGNED_BY"),
    "created": ("Дата создания", "Created on", "Created", "DATE_CREATE"),
    "closed": ("Completed on", "DATE_CLOSED"),
    "modified": ("Дата изменения", "Modified on", "DATE_MODIFY"),
    "amount": ("Сумма", "Возможная сумма", "Opportunity", "Total", "OPPORTUNITY"),
    "utm_source": ("Ad system", "UTM_SOURCE"),
    "utm_medium": ("Medium", "UTM_MEDIUM"),
    "utm_campaign": ("Ad campaign UTM", "UTM_CAMPAIGN"),
    "utm_content": ("Campaign contents", "UTM_CONTENT"),
    "utm_term": ("Campaign search term", "UTM_TERM"),
}

AMOCRM = {
    # an amoCRM deal export: the deal's columns, then its main contact's
    "external_id": ("ID",),
    "title": ("Название сделки",),
    "amount": ("Бюджет",),
    "owner": ("Ответственный",),
    "created": ("Дата создания сделки",),
    "modified": ("Дата редактирования",),
    "closed": ("Дата закрытия",),
    "message": ("Примечание", "Примечание 2", "Примечание 3", "Примечание 4", "Примечание 5"),
    "status": ("Этап сделки",),
    "name": ("Полное имя контакта",),
    "phone": (
        "Рабочий телефон",
        "Рабочий прямой телефон",
        "Мобильный телефон",
        "Домашний телефон",
        "Другой телефон",
    ),
    "email": ("Рабочий email", "Личный email", "Другой email"),
    "reason": ("Причина отказа",),
    "source": ("Источник",),
    "utm_source": ("utm_source",),
    "utm_medium": ("utm_medium",),
    "utm_campaign": ("utm_campaign",),
    "utm_term": ("utm_term",),
    "utm_content": ("utm_content",),
}

# headers only one system writes: which one the file came from (for the mapping's headline
# and the rows' keys: Bitrix24's lead 17 is not amoCRM's deal 17)
SIGNATURES = {
    "bitrix24": ("Название лида", "Lead Name", "Дополнительно о статусе", "Status information"),
    "amocrm": ("Название сделки", "Этап сделки", "Бюджет", "Полное имя контакта"),
}

ORIGINS = ("leadbot", *SIGNATURES, "table")  # what map_columns may say a file came from
_SPACES = re.compile(r"\s+")


def header_key(text: str) -> str:
    """A header as compared: case, spacing, `ё`, a trailing `:` or `*` folded away."""
    folded = _SPACES.sub(" ", text.casefold().replace("ё", "е")).strip()
    return folded.rstrip(":*").strip()


@cache
def _own_headers() -> dict[str, dict[str, str]]:
    """leadbot's export headers in each language -> our field."""
    found: dict[str, dict[str, str]] = {}
    for locale in ("ru", "en"):
        columns = labels(locale)["export"]["columns"]
        found[locale] = {
            header_key(str(columns[column])): field for column, field in OWN_COLUMNS.items()
        }
        found[locale][header_key(str(columns["take_seconds"]))] = ""  # derived: left out
    return found


@cache
def _known() -> dict[str, str]:
    """Every known header -> our field (our own export's first, then Bitrix24's, amoCRM's)."""
    known: dict[str, str] = {}
    for table in (BITRIX24, AMOCRM):
        for field, headers in table.items():
            for header in headers:
                known.setdefault(header_key(header), field)
    for own in _own_headers().values():
        known.update({key: field for key, field in own.items() if field})
    return known


@dataclass(frozen=True)
class ColumnMap:
    """Where each field is in a file's rows; `origin` is the system the file came from
    (leadbot, bitrix24, amocrm, or a plain table)."""

    origin: str
    headers: tuple[str, ...]
    fields: dict[str, tuple[int, ...]]  # field -> its columns, in file order

    def shown(self) -> list[tuple[str, str]]:
        """(header, field) of every column read, in FIELDS order: what the preview shows."""
        return [
            (self.headers[column], field)
            for field in FIELDS
            for column in self.fields.get(field, ())
        ]

    def left_out(self) -> list[str]:
        """Headers of the columns nobody reads (empty headers are not named)."""
        used = {column for columns in self.fields.values() for column in columns}
        return [h for i, h in enumerate(self.headers) if i not in used and h.strip()]

    def has(self, field: str) -> bool:
        return field in self.fields


def map_columns(headers: list[str]) -> ColumnMap:
    """The fields of a file with these headers."""
    keys = [header_key(header) for header in headers]
    origin = _origin(keys)
    known = _known()
    if origin == "amocrm":  # its "Ответственный за контакт" etc. must not shadow the deal's
        known = {**known, **{header_key(h): f for f, hs in AMOCRM.items() for h in hs}}
    fields: dict[str, list[int]] = {}
    for column, key in enumerate(keys):
        field = known.get(key)
        if not field:
            continue
        columns = fields.setdefault(field, [])
        if field in MANY or not columns:
            columns.append(column)
    return ColumnMap(origin, tuple(headers), {f: tuple(c) for f, c in fields.items()})


def _origin(keys: list[str]) -> str:
    present = set(keys)
    for own in _own_headers().values():
        # our export's "seconds to take" is a column nobody else writes, beside our others
        if len(present & set(own)) >= len(own) - 2:
            return "leadbot"
    for origin, marks in SIGNATURES.items():
        if present & {header_key(mark) for mark in marks}:
            return origin
    return "table"
