"""The buttons of /report: the ready-made periods and "Dates…" on the picker; under a report,
the leads behind its numbers, the filters and the files; the source and manager pickers.

What a button carries (64 bytes at most): the period as a day number (days since 1970, five
digits) and a span (days after the first, at most 365); the scope (everybody's or the
presser's own); a source as an 8-character key (a hash of the source, looked up among the
period's sources on the press: a source is up to 64 characters of anything); a manager by
staff id; a reason by the same kind of key; a page. Nothing is stored between presses: a
button works as long as its period has the leads it names, and every press is authorised
again against the database."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.common.render import cut, labels
from bot.config import AppConfig
from bot.leads.lists import ListedLead
from bot.reports.chat import DrillChoice, channel_name
from bot.reports.drill import Drill, DrillKind
from bot.reports.filters import PickedManager, PickedSource
from bot.reports.keys import KEY_LENGTH, short_key
from bot.reports.periods import MAX_DAYS, MENU, PeriodKind, day_number
from bot.reports.request import ReportRequest
from handlers.keyboards.lead import rows_by_width
from handlers.keyboards.lists import list_keyboard, page_row

PICKER_PAGE = 8  # sources or managers a page of a picker
BUTTON_TEXT = 40  # characters of a source's or a person's name on a button
LAST_DAY = 99_999  # the largest day number a button holds (the year 2243)
LAST_PAGE = 99_999  # a drill list of 800 000 leads; a picker's pages are far fewer

# the bounds pydantic checks when a press is unpacked: a forged value fails there, and the
# press is answered as an outdated button (tests/unit/test_callback_data.py reads them)
Day = Annotated[int, Field(ge=0, le=LAST_DAY)]
Span = Annotated[int, Field(ge=0, le=MAX_DAYS - 1)]
Key = Annotated[str, Field(max_length=KEY_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")]
Page = Annotated[int, Field(ge=0, le=LAST_PAGE)]


class ReportScope(enum.StrEnum):
    ALL = "all"  # every lead: supervisors and admins only
    OWN = "own"  # the presser's own leads (a manager's report)


class ReportButton(CallbackData, prefix="rep"):
    """`rep:d7:all`: the report for a period; the scope is checked again on the press."""

    kind: PeriodKind
    scope: ReportScope


class ReportDates(CallbackData, prefix="rdate"):
    """ "Dates…" on the period picker: ask for a range to type."""

    scope: ReportScope


class ReportDo(enum.StrEnum):
    SHOW = "show"  # the report (for the period and filters the button carries)
    SOURCES = "src"  # the source picker, as a new message under the report
    SOURCES_PAGE = "srcp"  # the picker turned to `page` (edited in place)
    MANAGERS = "mgr"  # the manager picker, likewise
    MANAGERS_PAGE = "mgrp"
    LEADS_CSV = "csv"  # the period's leads as a file
    LEADS_XLSX = "xlsx"
    REPORT_XLSX = "rxlsx"  # the report's sections as a workbook


class ReportView(CallbackData, prefix="rv"):
    """`rv:show:20457:6:all:Yx3k_aZ0::0`: a report, a picker or a file for a period
    (`day`, `day + span`) and filters (`source` key, `manager` staff id; empty: none)."""

    do: ReportDo
    day: Day
    span: Span
    scope: ReportScope
    source: Key = ""
    manager: int | None = None
    page: Page = 0


class ReportDrill(CallbackData, prefix="rd"):
    """`rd:jr:20457:6:all:::Kx0aZ1ab`: the leads behind one of the report's numbers, as a new
    list under the report (`reason`: a reason's key, for the reasons' kinds)."""

    what: DrillKind
    day: Day
    span: Span
    scope: ReportScope
    source: Key = ""
    manager: int | None = None
    reason: Key = ""


class ReportDrillPage(ReportDrill, prefix="rdp"):
    """`rdp:jr:20457:6:all:::Kx0aZ1ab:2`: that list turned to `page` (edited in place)."""

    page: Page = 0


def carried(request: ReportRequest) -> dict[str, Any]:
    """The fields every report button repeats: the period, the scope and the filters."""
    first, last = request.period
    return {
        "day": day_number(first),
        "span": (last - first).days,
        "scope": ReportScope.OWN if request.own else ReportScope.ALL,
        "source": short_key(request.source) if request.source is not None else "",
        "manager": request.manager.id if request.manager is not None else None,
    }


def report_keyboard(scope: ReportScope, locale: str) -> InlineKeyboardMarkup:
    names = labels(locale)["report"]["periods"]
    builder = InlineKeyboardBuilder()
    for kind in MENU:
        builder.button(text=names[kind.value], callback_data=ReportButton(kind=kind, scope=scope))
    builder.button(
        text=labels(locale)["report"]["buttons"]["dates"], callback_data=ReportDates(scope=scope)
    )
    builder.adjust(2)  # two a row: "Last 30 days" still fits half a phone's width
    return builder.as_markup()


def drill_data(request: ReportRequest, drill: Drill) -> ReportDrill:
    reason = short_key(drill.reason) if drill.reason is not None else ""
    return ReportDrill(what=drill.kind, reason=reason, **carried(request))


def drill_page(request: ReportRequest, drill: Drill, page: int) -> ReportDrillPage:
    reason = short_key(drill.reason) if drill.reason is not None else ""
    return ReportDrillPage(what=drill.kind, reason=reason, page=page, **carried(request))


def actions_keyboard(
    request: ReportRequest, choices: list[DrillChoice], has_leads: bool, locale: str
) -> InlineKeyboardMarkup | None:
    """Under the report: the leads behind its numbers; filter by source (and by manager,
    on everybody's report); clear the filters; the files."""
    words = labels(locale)["report"]["buttons"]
    builder = InlineKeyboardBuilder()
    sizes = rows_by_width([choice.text for choice in choices])
    for choice in choices:
        builder.button(text=choice.text, callback_data=drill_data(request, choice.drill))
    view = carried(request)
    filters = [("by_source", ReportDo.SOURCES)] if has_leads else []
    if has_leads and not request.own:
        filters.append(("by_manager", ReportDo.MANAGERS))
    for word, do in filters:
        builder.button(text=words[word], callback_data=ReportView(do=do, **view))
    if filters:
        sizes.append(len(filters))
    if request.filtered:
        cleared = view | {"source": "", "manager": None}
        builder.button(text=words["clear"], callback_data=ReportView(do=ReportDo.SHOW, **cleared))
        sizes.append(1)
    if has_leads:
        for word, do in (
            ("leads_csv", ReportDo.LEADS_CSV),
            ("leads_xlsx", ReportDo.LEADS_XLSX),
            ("report_xlsx", ReportDo.REPORT_XLSX),
        ):
            builder.button(text=words[word], callback_data=ReportView(do=do, **view))
        sizes += [2, 1]
    if not sizes:
        return None
    builder.adjust(*sizes)
    return builder.as_markup()


def pages_of(count: int, size: int) -> int:
    return max(1, -(-count // size))


def source_picker(
    request: ReportRequest, sources: list[PickedSource], page: int, locale: str
) -> InlineKeyboardMarkup:
    """The period's sources, a page of them; a press sends the report of that source (the
    manager filter kept)."""
    builder = InlineKeyboardBuilder()
    view = carried(request)
    shown = sources[page * PICKER_PAGE : (page + 1) * PICKER_PAGE]
    for row in shown:
        name = cut(channel_name(row.source, locale), BUTTON_TEXT)
        mark = "✓ " if row.source == request.source else ""
        builder.button(
            text=f"{mark}{name} · {row.leads}",
            callback_data=ReportView(
                do=ReportDo.SHOW, **view | {"source": short_key(row.source), "page": 0}
            ),
        )
    sizes = [1] * len(shown)
    pages = pages_of(len(sources), PICKER_PAGE)
    if turned := page_row(
        builder, page, pages, lambda n: ReportView(do=ReportDo.SOURCES_PAGE, **view | {"page": n})
    ):
        sizes.append(turned)
    if request.source is not None:
        everything = view | {"source": ""}
        builder.button(
            text=labels(locale)["report"]["buttons"]["all_sources"],
            callback_data=ReportView(do=ReportDo.SHOW, **everything),
        )
        sizes.append(1)
    if not sizes:
        return InlineKeyboardMarkup(inline_keyboard=[])
    builder.adjust(*sizes)
    return builder.as_markup()


def manager_picker(
    request: ReportRequest, managers: list[PickedManager], page: int, locale: str
) -> InlineKeyboardMarkup:
    """Every manager one can filter by, a page of them; a press sends the report of their
    leads (the source filter kept)."""
    builder = InlineKeyboardBuilder()
    view = carried(request)
    shown = managers[page * PICKER_PAGE : (page + 1) * PICKER_PAGE]
    chosen = request.manager.id if request.manager is not None else None
    for person in shown:
        mark = "✓ " if person.staff_id == chosen else ""
        builder.button(
            text=f"{mark}{cut(person.name, BUTTON_TEXT)} · {person.leads}",
            callback_data=ReportView(do=ReportDo.SHOW, **view | {"manager": person.staff_id}),
        )
    sizes = [1] * len(shown)
    pages = pages_of(len(managers), PICKER_PAGE)
    if turned := page_row(
        builder, page, pages, lambda n: ReportView(do=ReportDo.MANAGERS_PAGE, **view | {"page": n})
    ):
        sizes.append(turned)
    if chosen is not None:
        builder.button(
            text=labels(locale)["report"]["buttons"]["all_managers"],
            callback_data=ReportView(do=ReportDo.SHOW, **view | {"manager": None}),
        )
        sizes.append(1)
    if not sizes:
        return InlineKeyboardMarkup(inline_keyboard=[])
    builder.adjust(*sizes)
    return builder.as_markup()


def drill_keyboard(
    request: ReportRequest,
    drill: Drill,
    items: list[ListedLead],
    page: int,
    pages: int,
    config: AppConfig,
    locale: str,
) -> InlineKeyboardMarkup | None:
    """A page of the leads behind a number: the lead lists' lines (each opens the live
    card) and pages that stay on this drill."""
    return list_keyboard(
        items,
        config,
        locale,
        page=page,
        pages=pages,
        turn=lambda n: drill_page(request, drill, n),
    )
