"""The report's files to download: the period's leads as CSV and XLSX (one row per lead) and
the report itself as XLSX (a sheet per section). Pure: bytes in memory, no Telegram; the
buttons under /report send what these return.

The leads are the report's cohort: created in the period's local days, filtered as
`report_summary` filters (one source; one manager: the leads they took first or own now). A
row's times are local times in `timezone`; "taken" is the first take, the one the report's
times to take count from (a lead reassigned later keeps it).

A lead's name, service and words come from a public web form: in the CSV a text cell that a
spreadsheet would read as a formula (= + - @, tab, CR first) gets a leading apostrophe
(OWASP's advice), except a plain phone number such as +79001234567 (stored so, E.164): as a
formula it is only that number, and the apostrophe would spoil every phone of the file. The
XLSX writes every text as a text cell, never a formula, so it needs no guard."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.common.reasons import system_reason_label
from bot.common.render import labels
from bot.config import AppConfig
from bot.reports.summary import CENT, Period, ReportSummary, report_scope
from storage.models import Lead, LeadStatus, Staff

# the UTM tags of a lead's `utm` given a column each; `start` is the bot's deep-link tag
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "start")
# the leads file's columns, in order; their headers are labels.toml's [export.columns]
COLUMNS = (
    "id",
    "created",
    "source",
    *UTM_KEYS,
    "name",
    "phone",
    "email",
    "service",
    "status",
    "owner",
    "reason",
    "words",
    "amount",
    "taken",
    "contacted",
    "closed",
    "take_seconds",
)
# what a spreadsheet reads as the start of a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_PHONE = re.compile(r"\+[0-9]{7,15}")  # E.164, as the leads' phones are stored
CSV_TIME = "%Y-%m-%d %H:%M:%S"  # ISO order: every Excel reads it as a date, in any language
# number formats of the XLSX cells, by the reader's language
XLSX_TIME = {"ru": "dd.mm.yyyy hh:mm:ss", "en": "yyyy-mm-dd hh:mm:ss"}
XLSX_DAY = {"ru": "dd.mm.yyyy", "en": "yyyy-mm-dd"}
MONEY = "#,##0.00"
DURATION = "[h]:mm:ss"  # a wait as hours past 24, minutes and seconds
SHARE = "0%"
XLSX_LAST_ROW = 1_048_575  # Excel's rows, less the header
SHEET_NAME_LIMIT = 31  # Excel's limit; and no []:*?/\ in a sheet's name
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
# width of a leads column in characters: the long texts wider, the rest as their header
WIDTHS = {"created": 19, "taken": 19, "contacted": 19, "closed": 19, "name": 28, "words": 28}
WIDTHS |= {"service": 20, "email": 24, "phone": 16, "owner": 16, "reason": 20}


@dataclass(frozen=True, slots=True)
class LeadExportRow:
    """One lead as the export reads it: times are aware (UTC), codes as stored; the files
    put them into local time and words."""

    id: int
    created_at: datetime
    source: str
    status: LeadStatus
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    service: str | None = None
    owner: str | None = None  # the owner's name now
    close_reason: str | None = None
    close_comment: str | None = None
    amount: Decimal | None = None
    taken_at: datetime | None = None  # the first take (the report's)
    contacted_at: datetime | None = None
    closed_at: datetime | None = None
    utm: dict[str, str] = field(default_factory=dict)

    @property
    def take_seconds(self) -> int | None:
        """Whole seconds from arrival to the first take; None when nobody took it."""
        if self.taken_at is None:
            return None
        return round((self.taken_at - self.created_at).total_seconds())


async def period_leads(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    *,
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> list[LeadExportRow]:
    """The leads created in `period` (local dates, both included), oldest first; optionally
    only one source's, or those one manager (by Telegram id) took first or owns now: the
    report's cohort and filters. Streamed from the database, so the rows are held once."""
    scope = await report_scope(session, period, config, source, manager_telegram_id)
    owner = aliased(Staff, name="owner")
    stmt = scope.where(
        select(
            Lead.id,
            Lead.created_at,
            Lead.source,
            Lead.status,
            Lead.name,
            Lead.phone,
            Lead.email,
            Lead.service,
            owner.name,
            Lead.close_reason,
            Lead.close_comment,
            Lead.amount,
            Lead.first_taken_at,
            Lead.contacted_at,
            Lead.closed_at,
            Lead.utm,
        )
        .select_from(Lead)
        .outerjoin(owner, owner.id == Lead.owner_id)
    ).order_by(Lead.created_at, Lead.id)
    result = await session.stream(stmt.execution_options(yield_per=2000))
    rows: list[LeadExportRow] = []
    async for lead_id, created_at, source_, status, *rest in result:
        name, phone, email, service, owner_name, reason, words, amount, *times, utm = rest
        rows.append(
            LeadExportRow(
                lead_id,
                created_at,
                source_,
                LeadStatus(status),
                name,
                phone,
                email,
                service,
                owner_name,
                reason,
                words,
                None if amount is None else Decimal(str(amount)).quantize(CENT),
                *times,
                utm=_utm(utm),
            )
        )
    return rows


def _utm(utm: Any) -> dict[str, str]:
    """The tags the file has columns for, as text (a form may send a number)."""
    if not isinstance(utm, dict):
        return {}
    return {key: str(utm[key]) for key in UTM_KEYS if utm.get(key) not in (None, "")}


def export_file_name(kind: str, period: Period, ext: str) -> str:
    """ "leads_2026-11-01_2026-11-30.csv": what the file is, its local days, its type."""
    first, last = period
    return f"{kind}_{first.isoformat()}_{last.isoformat()}.{ext}"


# --- the leads' cells -------------------------------------------------------------------------

Cell = int | Decimal | datetime | str | None


def _cells(config: AppConfig, locale: str) -> Callable[[LeadExportRow], tuple[Cell, ...]]:
    """A row's typed cells in COLUMNS' order: local (naive) times, words in `locale`."""
    zone = config.zone
    statuses = labels(locale)["export"]["statuses"]
    reasons: dict[tuple[LeadStatus, str], str | None] = {}

    def local(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(zone).replace(tzinfo=None)

    def reason(row: LeadExportRow) -> str | None:
        if row.close_reason is None:
            return None
        key = (row.status, row.close_reason)
        if key not in reasons:
            outcome = "refuse" if row.status == LeadStatus.REFUSED else "junk"
            picked = config.close_reason(outcome, row.close_reason)
            reasons[key] = (
                picked.label(locale)
                if picked
                else system_reason_label(row.close_reason, locale, config)
            )
        return reasons[key]

    def cells(row: LeadExportRow) -> tuple[Cell, ...]:
        utm = row.utm
        return (
            row.id,
            local(row.created_at),
            row.source,
            *(utm.get(key) for key in UTM_KEYS),
            row.name,
            row.phone,
            row.email,
            row.service,
            statuses[row.status.value],
            row.owner,
            reason(row),
            row.close_comment,
            row.amount,
            local(row.taken_at),
            local(row.contacted_at),
            local(row.closed_at),
            row.take_seconds,
        )

    return cells


def _headers(locale: str) -> list[str]:
    words = labels(locale)["export"]["columns"]
    return [str(words[column]) for column in COLUMNS]


def safe_text(value: str) -> str:
    """A text cell no spreadsheet runs as a formula: a leading apostrophe before = + - @ tab
    CR, except on a plain phone number (+79001234567 would only be that number)."""
    if value.startswith(FORMULA_STARTS) and not PLAIN_PHONE.fullmatch(value):
        return "'" + value
    return value


def leads_csv(rows: Iterable[LeadExportRow], config: AppConfig, locale: str) -> bytes:
    """The leads as Excel opens a CSV by double-click: UTF-8 with a BOM (else it guesses the
    local code page), `;` between cells (the list separator of Russian Excel), decimal comma in
    Russian, CRLF; cells with `;`, quotes or line breaks quoted. Times as 2026-01-05 14:30:00
    (local)."""
    buffer = io.BytesIO()
    # encoded as written: the text is not held twice (as str, then as bytes)
    stream = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    writer = csv.writer(stream, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(_headers(locale))
    cells = _cells(config, locale)
    comma = locale != "en"

    def text(cell: Cell) -> str:
        if cell is None:
            return ""
        if isinstance(cell, str):
            return safe_text(cell)
        if isinstance(cell, datetime):
            return cell.strftime(CSV_TIME)
        if isinstance(cell, Decimal):
            number = f"{cell:.2f}"
            return number.replace(".", ",") if comma else number
        return str(cell)

    writer.writerows([text(cell) for cell in cells(row)] for row in rows)
    stream.detach()  # flushes, and leaves the buffer open to read
    return buffer.getvalue()


def _workbook(buffer: io.BytesIO, constant_memory: bool = False) -> Any:
    # every text written as a text cell: never a formula, a link or a number
    return xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": constant_memory,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )


def leads_xlsx(rows: Iterable[LeadExportRow], config: AppConfig, locale: str) -> bytes:
    """The leads as one sheet of typed cells: ids and seconds as numbers, times as local date
    times, amounts as numbers shown with two decimals, the rest as text; the header row bold
    and frozen. Written row by row (XlsxWriter's constant memory mode)."""
    buffer = io.BytesIO()
    # closed on an error too: constant memory mode keeps the rows in a temporary file
    with _workbook(buffer, constant_memory=True) as book:
        sheet = book.add_worksheet(sheet_name(labels(locale)["export"]["leads_sheet"]))
        bold = book.add_format({"bold": True})
        when = book.add_format({"num_format": XLSX_TIME.get(locale, XLSX_TIME["ru"])})
        money = book.add_format({"num_format": MONEY})
        headers = _headers(locale)
        for column, (key, header) in enumerate(zip(COLUMNS, headers, strict=True)):
            sheet.set_column(column, column, max(WIDTHS.get(key, 0), len(header) + 2))
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, headers, bold)
        cells = _cells(config, locale)
        for number, row in enumerate(rows, start=1):
            if number > XLSX_LAST_ROW:  # XlsxWriter would drop the rest without a word
                raise ValueError(
                    f"more than {XLSX_LAST_ROW:,} leads do not fit a sheet: use the CSV"
                )
            for column, cell in enumerate(cells(row)):
                if cell is None:
                    continue
                if isinstance(cell, str):
                    sheet.write_string(number, column, cell)
                elif isinstance(cell, datetime):
                    sheet.write_datetime(number, column, cell, when)
                elif isinstance(cell, Decimal):
                    sheet.write_number(number, column, float(cell), money)
                else:
                    sheet.write_number(number, column, cell)
    return buffer.getvalue()


# --- the report's workbook --------------------------------------------------------------------


def sheet_name(text: str) -> str:
    """A name Excel takes for a sheet: none of []:*?/\\ and at most 31 characters."""
    return _NOT_IN_SHEET_NAMES.sub(" ", str(text)).strip()[:SHEET_NAME_LIMIT] or "Sheet"


def _seconds_as_days(seconds: float | None) -> float | None:
    # Excel keeps a duration as a fraction of a day; DURATION shows it as 1:05:30
    return None if seconds is None else seconds / 86400


def _reason_label(code: str, outcome: str, config: AppConfig, locale: str) -> str:
    picked = config.close_reason(outcome, code)
    return picked.label(locale) if picked else str(system_reason_label(code, locale, config))


def _sections(summary: ReportSummary, config: AppConfig, locale: str) -> Iterator[Any]:
    """(sheet key, header keys, rows) per section; a cell is (value, format key) or a value."""
    words = labels(locale)["export"]["report"]
    funnel = summary.funnel
    received = funnel.received

    def share(count: int) -> tuple[float | None, str]:
        return (count / received if received else None), "share"

    counted = ("received", "taken", "contacted", "qualified", "converted", "junk", "refused")
    steps = [
        ("from", (summary.first, "day"), None),
        ("to", (summary.last, "day"), None),
        ("timezone", summary.timezone, None),
        *((name, getattr(funnel, name), share(getattr(funnel, name))) for name in counted),
        ("open", funnel.open, share(funnel.open)),
        ("amount", (funnel.amount, "money"), None),
        ("convert_p50", (_seconds_as_days(funnel.convert_p50_s), "duration"), None),
    ]
    yield (
        "funnel",
        ("measure", "value", "share"),
        [(words["measures"][name], value, part) for name, value, part in steps],
    )
    yield (
        "sources",
        (
            "source",
            "received",
            "taken",
            "converted",
            "refused",
            "junk",
            "amount",
            "spend",
            "cost_per_lead",
            "cost_per_deal",
        ),
        [
            (
                row.source,
                row.received,
                row.taken,
                row.converted,
                row.refused,
                row.junk,
                (row.amount, "money"),
                (row.spend, "money"),
                (row.cost_per_lead, "money"),
                (row.cost_per_deal, "money"),
            )
            for row in summary.by_source
        ],
    )
    yield (
        "managers",
        (
            "manager",
            "telegram_id",
            "taken",
            "converted",
            "refused",
            "junk",
            "amount",
            "take_p50",
            "take_p90",
            "take_work_p50",
            "first_contact_p50",
        ),
        [
            (
                row.name,
                row.telegram_id,
                row.taken,
                row.converted,
                row.refused,
                row.junk,
                (row.amount, "money"),
                (_seconds_as_days(row.take_p50_s), "duration"),
                (_seconds_as_days(row.take_p90_s), "duration"),
                (_seconds_as_days(row.take_work_p50_s), "duration"),
                (_seconds_as_days(row.first_contact_p50_s), "duration"),
            )
            for row in summary.by_manager
        ],
    )
    yield (
        "repeat",
        ("clients", "leads"),
        [(words["new"], summary.repeat.new), (words["repeat"], summary.repeat.repeat)],
    )
    for key, outcome, counts in (
        ("junk", "junk", summary.junk_reasons),
        ("refused", "refuse", summary.refusal_reasons),
    ):
        yield (
            key,
            ("reason", "code", "leads"),
            [
                (_reason_label(code, outcome, config, locale), code, count)
                for code, count in counts.items()
            ],
        )
    yield ("demand", ("words", "leads"), list(summary.unmet_demand.items()))
    measures = words["measures"]

    def waited(seconds: float | None) -> tuple[float | None, str]:
        return _seconds_as_days(seconds), "duration"

    calls = summary.missed_calls
    yield (
        "calls",
        ("measure", "value"),
        [
            (measures["missed"], calls.count),
            (measures["called_back"], calls.called_back),
            (measures["within_limit"], calls.called_back_within_limit),
            (measures["never"], calls.count - calls.called_back),
            (measures["callback_p50"], waited(calls.callback_p50_s)),
        ],
    )
    messages = summary.client_messages
    yield (
        "messages",
        ("measure", "value"),
        [
            (measures["messages"], messages.count),
            (measures["answered"], messages.answered),
            (measures["answered_within_limit"], messages.answered_within_limit),
            (measures["unanswered"], messages.count - messages.answered),
            (measures["answer_p50"], waited(messages.answer_p50_s)),
        ],
    )
    yield ("hours", ("hour", "leads"), list(enumerate(summary.arrivals.by_hour)))
    weekdays = str(labels(locale)["report"]["weekdays"]).split()
    yield (
        "weekdays",
        ("weekday", "leads"),
        list(zip(weekdays, summary.arrivals.by_weekday, strict=True)),
    )
    late = summary.after_hours
    yield (
        "after_hours",
        ("measure", "value"),
        [
            (measures["after_hours_arrived"], late.arrived),
            (measures["after_hours_taken"], late.taken),
            (measures["after_hours_take_p50"], waited(late.take_p50_s)),
            (measures["after_hours_take_p90"], waited(late.take_p90_s)),
        ],
    )


def report_xlsx(summary: ReportSummary, config: AppConfig, locale: str) -> bytes:
    """The report as a workbook, a sheet per section in the chat's order: funnel (with the
    period), sources, managers, new and repeat, junk reasons, refusal reasons, unmet demand,
    missed calls, client messages, arrivals by hour and by weekday, the after-hours leads.
    Numbers as numbers, sums with two decimals, shares as percents, waits as durations
    (h:mm:ss); headers in `locale`."""
    words = labels(locale)["export"]
    buffer = io.BytesIO()
    with _workbook(buffer) as book:
        bold = book.add_format({"bold": True})
        formats = {
            "money": book.add_format({"num_format": MONEY}),
            "duration": book.add_format({"num_format": DURATION}),
            "share": book.add_format({"num_format": SHARE}),
            "day": book.add_format({"num_format": XLSX_DAY.get(locale, XLSX_DAY["ru"])}),
        }
        for key, header_keys, rows in _sections(summary, config, locale):
            sheet = book.add_worksheet(sheet_name(words["sheets"][key]))
            headers = [str(words["report"]["columns"][name]) for name in header_keys]
            for column, header in enumerate(headers):
                sheet.set_column(column, column, max(12, len(header) + 2))
            sheet.set_column(0, 0, 32)
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, headers, bold)
            for number, row in enumerate(rows, start=1):
                for column, cell in enumerate(row):
                    value, style = cell if isinstance(cell, tuple) else (cell, None)
                    _write(sheet, number, column, value, formats.get(style) if style else None)
    return buffer.getvalue()


def _write(sheet: Any, row: int, column: int, value: Any, style: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        sheet.write_string(row, column, value, style)
    elif isinstance(value, date):
        sheet.write_datetime(row, column, datetime.combine(value, datetime.min.time()), style)
    else:
        sheet.write_number(row, column, float(value), style)
