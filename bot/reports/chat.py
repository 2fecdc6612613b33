"""`/report` in the chat: the summary and the chart data for one ready-made period, as the
sections' template values and the album (bot/reports/album.py). The weekly report is the same
messages, queued (bot/reports/weekly.py). The numbers are `report_summary`'s (the API
reads the same); here is only what a phone shows: top lists cut, shares in whole percent,
waits in words, every word from templates/<locale> (labels.toml [report])."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import STALE_REASON
from bot.common.render import labels, local_day
from bot.config import AppConfig
from bot.leads.qualify import format_amount
from bot.reports.album import Album, channel_name
from bot.reports.chart_data import ChartData, chart_data
from bot.reports.periods import PeriodKind, local_today, report_period
from bot.reports.summary import ReportSummary, report_summary

TOP = 10  # sources, reasons and unmet demand listed; the rest as "… and N more"
NAME_LIMIT = 40  # a source or a person's name in a line
WORDS_LIMIT = 60  # unmet demand words in a line
# managers a message: every active manager is listed, so a large team takes several messages
# (a manager's lines are at most ~380 characters: 10 stay within Telegram's 4096)
MANAGERS_A_MESSAGE = 10


@dataclass(frozen=True)
class ChatReport:
    kind: PeriodKind
    summary: ReportSummary
    charts: ChartData
    own: bool  # one manager's own leads (their /report), not everybody's
    reader_telegram_id: int

    @property
    def empty(self) -> bool:
        return self.summary.funnel.received == 0

    @property
    def album(self) -> Album:
        """The four charts' numbers, drawn by `draw_album` in the reader's language."""
        return Album.of(self.charts, self.summary.funnel)


async def chat_report(
    session: AsyncSession,
    kind: PeriodKind,
    now: datetime,
    config: AppConfig,
    reader_telegram_id: int,
    own: bool,
) -> ChatReport:
    """The report for `kind` as of `now` (its local date in `timezone`); `own`: only the leads
    the reader took first or owns now."""
    period = report_period(kind, local_today(now, config))
    manager = reader_telegram_id if own else None
    summary = await report_summary(session, period, config, manager_telegram_id=manager, now=now)
    data = await chart_data(session, period, config, manager_telegram_id=manager)
    return ChatReport(kind, summary, data, own, reader_telegram_id)


def share(part: int, whole: int) -> int | None:
    """A whole percent of `whole` (None when there is nothing to divide)."""
    return round(100 * part / whole) if whole else None


def minutes(seconds: float | None) -> int | None:
    """Seconds as whole minutes for `wait_words` (a wait under half a minute reads "0 min")."""
    return None if seconds is None else round(seconds / 60)


def _day(value: date, config: AppConfig, locale: str) -> str:
    return local_day(datetime.combine(value, time(12), tzinfo=config.zone), config.zone, locale)


def _top(items: list[Any]) -> tuple[list[Any], int]:
    return items[:TOP], max(0, len(items) - TOP)


def _reason_name(code: str, config: AppConfig, locale: str, junk: bool) -> str:
    if code == STALE_REASON:
        return str(labels(locale)["stale"]["reason_short"])
    found = next((r for r in config.reasons("junk" if junk else "refuse") if r.code == code), None)
    return found.label(locale) if found else code


def sections(
    report: ChatReport, config: AppConfig, locale: str
) -> list[tuple[str, dict[str, Any]]]:
    """The messages of the report, in order: (template, its values). An empty period is one
    message saying so."""
    summary = report.summary
    funnel = summary.funnel
    head = {
        "period": labels(locale)["report"]["periods"][report.kind.value],
        "first": _day(summary.first, config, locale),
        "last": _day(summary.last, config, locale),
        "one_day": summary.first == summary.last,
        "own": report.own,
        "currency": config.currency,
    }
    if report.empty:
        return [("report_empty.html.j2", head)]
    received = funnel.received
    steps = [
        (name, count, share(count, received))
        for name, count in (
            ("received", funnel.received),
            ("taken", funnel.taken),
            ("contacted", funnel.contacted),
            ("qualified", funnel.qualified),
            ("converted", funnel.converted),
        )
    ]
    funnel_values = head | {
        "steps": steps,
        "junk": funnel.junk,
        "refused": funnel.refused,
        "open": funnel.open,
        "amount": format_amount(funnel.amount),
        "converted": funnel.converted,
        "to_deal": minutes(funnel.convert_p50_s),
        "new_clients": summary.repeat.new,
        "repeat_clients": summary.repeat.repeat,
    }
    sources, more_sources = _top(
        [
            {
                "name": channel_name(row.source, locale),
                "received": row.received,
                "junk_share": share(row.junk, row.received),
                "converted": row.converted,
                "conversion": share(row.converted, row.received),
                "amount": format_amount(row.amount) if row.converted else None,
            }
            for row in summary.by_source
        ]
    )
    managers = [
        {
            "name": row.name,
            "taken": row.taken,
            "converted": row.converted,
            "conversion": share(row.converted, row.taken),
            "amount": format_amount(row.amount) if row.converted else None,
            "take_p50": minutes(row.take_p50_s),
            "take_p90": minutes(row.take_p90_s),
            "contact_p50": minutes(row.first_contact_p50_s),
            "take_work_p50": minutes(row.take_work_p50_s),
            "contact_work_p50": minutes(row.first_contact_work_p50_s),
            "contacted": row.contacted,
            "reminders": row.reminders,
            "escalations": row.escalations,
            "overdue": row.overdue_now,
            "missed_open": row.missed_calls_not_returned,
        }
        for row in summary.by_manager
        if not report.own or row.telegram_id == report.reader_telegram_id
    ]
    junk, more_junk = _top(
        [(_reason_name(c, config, locale, True), n) for c, n in summary.junk_reasons.items()]
    )
    refused, more_refused = _top(
        [(_reason_name(c, config, locale, False), n) for c, n in summary.refusal_reasons.items()]
    )
    demand, more_demand = _top(list(summary.unmet_demand.items()))
    calls = summary.missed_calls
    messages = summary.client_messages
    after_hours = summary.after_hours
    arrivals = summary.arrivals
    busiest_hour = max(range(24), key=lambda h: (arrivals.by_hour[h], -h))
    busiest_day = max(range(7), key=lambda d: (arrivals.by_weekday[d], -d))
    pages = [
        managers[n : n + MANAGERS_A_MESSAGE] for n in range(0, len(managers), MANAGERS_A_MESSAGE)
    ] or [[]]
    return [
        ("report_funnel.html.j2", funnel_values),
        ("report_sources.html.j2", {"sources": sources, "more": more_sources, **head}),
        *(
            ("report_managers.html.j2", {"managers": page, "first_page": n == 0, **head})
            for n, page in enumerate(pages)
        ),
        (
            "report_reasons.html.j2",
            {
                "junk": junk,
                "more_junk": more_junk,
                "refused": refused,
                "more_refused": more_refused,
                "demand": demand,
                "more_demand": more_demand,
                "words_limit": WORDS_LIMIT,
            },
        ),
        (
            "report_calls.html.j2",
            {
                "missed": calls.count,
                "called_back": calls.called_back,
                "within_limit": calls.called_back_within_limit,
                "never": calls.count - calls.called_back,
                "callback_p50": minutes(calls.callback_p50_s),
                "messages": messages.count,
                "answered": messages.answered,
                "answered_in_time": messages.answered_within_limit,
                "answer_p50": minutes(messages.answer_p50_s),
                "after_hours": after_hours.arrived,
                "after_hours_untaken": after_hours.arrived - after_hours.taken,
                "after_hours_take_p50": minutes(after_hours.take_p50_s),
                "busiest_hour": busiest_hour,
                "busiest_hour_leads": arrivals.by_hour[busiest_hour],
                "busiest_day": busiest_day,
                "busiest_day_leads": arrivals.by_weekday[busiest_day],
            },
        ),
    ]
