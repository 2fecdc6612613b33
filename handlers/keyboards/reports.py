"""The buttons under /report: one a ready-made period."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import labels
from bot.reports.periods import MENU, PeriodKind


class ReportScope(enum.StrEnum):
    ALL = "all"  # every lead: supervisors and admins only
    OWN = "own"  # the presser's own leads (a manager's report)


class ReportButton(CallbackData, prefix="rep"):
    """`rep:d7:all`: the report for a period; the scope is checked again on the press."""

    kind: PeriodKind
    scope: ReportScope


def report_keyboard(scope: ReportScope, locale: str) -> InlineKeyboardMarkup:
    names = labels(locale)["report"]["periods"]
    builder = InlineKeyboardBuilder()
    for kind in MENU:
        builder.button(text=names[kind.value], callback_data=ReportButton(kind=kind, scope=scope))
    builder.adjust(2)  # two a row: "Last 30 days" still fits half a phone's width
    return builder.as_markup()
