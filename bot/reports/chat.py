"""`/report` in the chat: the summary and the chart data for one ready-made period, as the
sections' template values and the album (bot/reports/album.py). The weekly report is the same
messages, queued (bot/reports/weekly.py). The numbers are `report_summary`'s (the API
reads the same); here is only what a phone shows: top lists cut, shares in whole percent,
waits in words, every word from templates/<locale> (labels.toml [report])."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLIENT_CANCELLED_REASON, STALE_REASON
from bot.common.render import cut, labels, local_day
from bot.config import AppConfig
from bot.leads.qualify import format_amount
from bot.reports.album import Album, channel_name
from bot.reports.chart_data import ChartData, chart_data
from bot.reports.drill import Drill, DrillKind
from bot.reports.periods import PeriodKind, local_today, report_period
from bot.reports.request import ReportRequest
from bot.reports.summary import ReportSummary, period_bounds, report_summary
from bot.scoring.quality import ScoreQuality, score_quality
from bot.sequences.stats import SequenceStats, sequence_stats

TOP = 10  # sources, reasons and unmet demand listed; the rest as "… and N more"
NAME_LIMIT = 40  # a source or a person's name in a line
WORDS_LIMIT = 60  # unmet demand words in a line
# managers a message: every active manager is listed, so a large team takes several messages
# (a manager's lines are at most ~380 characters: 10 stay within Telegram's 4096)
MANAGERS_A_MESSAGE = 10
DRILL_REASONS = 4  # junk and refusal reasons a button each under the report (the top ones)
REASON_BUTTON = 24  # characters of a reason's name on its button


@dataclass(frozen=True)
class ChatReport:
    request: ReportRequest
    summary: ReportSummary
    charts: ChartData
    reader_telegram_id: int
    # how far to trust the lead score (its AUC on recent closed leads); None: not shown
    score_quality: ScoreQuality | None = None
    # follow-up sequences' numbers (everybody's report, unfiltered); None: not read
    sequences: SequenceStats | None = None

    @property
    def own(self) -> bool:
        return self.request.own

    @property
    def empty(self) -> bool:
        return self.summary.funnel.received == 0

    @property
    def album(self) -> Album:
        """The four charts' numbers, drawn by `draw_album` in the reader's language."""
        return Album.of(self.charts, self.summary.funnel)


async def chat_report(
    session: AsyncSession,
    request: ReportRequest,
    config: AppConfig,
    reader_telegram_id: int,
    now: datetime,
) -> ChatReport:
    """The report `request` asks for, as of `now` (each manager's leads overdue then); `own`:
    only the leads the reader took first or owns now (with a source filter, of that source)."""
    manager = request.manager_telegram_id(reader_telegram_id)
    filters = {"source": request.source, "manager_telegram_id": manager}
    summary = await report_summary(session, request.period, config, now=now, **filters)
    data = await chart_data(session, request.period, config, **filters)
    follow_ups = None
    if not request.own and not request.filtered:  # the team's numbers, not a person's
        follow_ups = await sequence_stats(session, *period_bounds(request.period, config))
    quality = await score_quality(session, config)
    return ChatReport(request, summary, data, reader_telegram_id, quality, follow_ups)


def ready_made(kind: PeriodKind, now: datetime, config: AppConfig, own: bool) -> ReportRequest:
    """A ready-made period as of `now` (its local date in `timezone`)."""
    today = local_today(now, config)
    return ReportRequest(report_period(kind, today), own, kind, today=today)


def share(part: int, whole: int) -> int | None:
    """A whole percent of `whole` (None when there is nothing to divide)."""
    return round(100 * part / whole) if whole else None


def minutes(seconds: float | None) -> int | None:
    """Seconds as whole minutes for `wait_words` (a wait under half a minute reads "0 min")."""
    return None if seconds is None else round(seconds / 60)


def _day(value: date, config: AppConfig, locale: str, with_year: bool = False) -> str:
    shown = local_day(datetime.combine(value, time(12), tzinfo=config.zone), config.zone, locale)
    return f"{shown}{'.' if locale == 'ru' else ' '}{value.year}" if with_year else shown


def _top(items: list[Any]) -> tuple[list[Any], int]:
    return items[:TOP], max(0, len(items) - TOP)


def reason_name(code: str, config: AppConfig, locale: str, junk: bool) -> str:
    if code == STALE_REASON:
        return str(labels(locale)["stale"]["reason_short"])
    if code == CLIENT_CANCELLED_REASON:
        return str(labels(locale)["events"][CLIENT_CANCELLED_REASON])
    found = next((r for r in config.reasons("junk" if junk else "refuse") if r.code == code), None)
    return found.label(locale) if found else code


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def _campaigns(summary: ReportSummary, head: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The campaigns message (top 10), only when a lead of the period came with utm tags or
    by a bot link."""
    tagged = [row for row in summary.by_campaign if row.tagged]
    if not tagged:
        return []
    shown, more = _top(tagged)
    rows = [
        {
            "utm_source": row.utm_source,
            "utm_campaign": row.utm_campaign,
            "tag": row.tag,
            "received": row.received,
            "junk_share": share(row.junk, row.received),
            "converted": row.converted,
            "conversion": share(row.converted, row.received),
            "amount": format_amount(row.amount) if row.converted else None,
        }
        for row in shown
    ]
    untagged = sum(row.received for row in summary.by_campaign if not row.tagged)
    values = {"campaigns": rows, "more": more, "untagged": untagged, **head}
    return [("report_campaigns.html.j2", values)]


def headline(request: ReportRequest, config: AppConfig, locale: str) -> dict[str, Any]:
    """What heads every message of a report: the period's name and days, whose leads, the
    filters that are on."""
    first, last = request.period
    today = request.today
    kind = request.kind
    # typed dates of another year say which; "Last 7 days" across New Year needs no years
    with_year = kind is None and today is not None and {first.year, last.year} != {today.year}
    return {
        "period": labels(locale)["report"]["periods"][kind.value] if kind else None,
        "first": _day(first, config, locale, with_year),
        "last": _day(last, config, locale, with_year),
        "one_day": first == last,
        "own": request.own,
        "source": channel_name(request.source, locale) if request.source is not None else None,
        "manager": request.manager.name if request.manager is not None else None,
        "currency": config.currency,
    }


def sections(
    report: ChatReport, config: AppConfig, locale: str
) -> list[tuple[str, dict[str, Any]]]:
    """The messages of the report, in order: (template, its values). An empty period is one
    message saying so."""
    summary = report.summary
    funnel = summary.funnel
    head = headline(report.request, config, locale)
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
                "spend": _money(row.spend),
                "per_lead": _money(row.cost_per_lead),
                "per_deal": _money(row.cost_per_deal),
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
        [(reason_name(c, config, locale, True), n) for c, n in summary.junk_reasons.items()]
    )
    refused, more_refused = _top(
        [(reason_name(c, config, locale, False), n) for c, n in summary.refusal_reasons.items()]
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
        *_campaigns(summary, head),
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
                # plain values: the weekly report keeps its sections as JSON in the outbox
                "score_quality": report.score_quality.as_values() if report.score_quality else None,
                "nudges": summary.client_nudges,
            },
        ),
        *_sequences(report.sequences),
    ]


def _sequences(stats: SequenceStats | None) -> list[tuple[str, dict[str, Any]]]:
    """The follow-ups' section, when any ran in the period."""
    if stats is None or stats.empty:
        return []
    values = {
        "enrolled": stats.enrolled,
        "sent": stats.sent,
        "replies": stats.replies,
        "reopened": stats.reopened,
        "converted_after": stats.converted_after,
    }
    return [("report_sequences.html.j2", values)]


@dataclass(frozen=True)
class DrillChoice:
    """A button under the report that opens the leads behind one of its numbers."""

    drill: Drill
    count: int  # the number the report shows for it (the list holds that many leads)
    text: str


def drill_choices(report: ChatReport, config: AppConfig, locale: str) -> list[DrillChoice]:
    """The numbers a supervisor asks "which ones?" about: the funnel's ends (open, not taken,
    deals, refused, junk), the top junk and refusal reasons, and missed calls nobody called
    back. Zeros are left out: a button that opens an empty list is noise on a phone."""
    if report.empty:
        return []
    words = labels(locale)["report"]["drill"]
    funnel = report.summary.funnel
    summary = report.summary
    counted: list[tuple[Drill, int, str]] = [
        (Drill(kind), count, words[kind.value])
        for kind, count in (
            (DrillKind.OPEN, funnel.open),
            (DrillKind.NOT_TAKEN, funnel.received - funnel.taken),
            (DrillKind.CONVERTED, funnel.converted),
            (DrillKind.REFUSED, funnel.refused),
            (DrillKind.JUNK, funnel.junk),
        )
    ]
    for kind, reasons, junk in (
        (DrillKind.JUNK_REASON, summary.junk_reasons, True),
        (DrillKind.REFUSAL_REASON, summary.refusal_reasons, False),
    ):
        for code, count in list(reasons.items())[:DRILL_REASONS]:
            name = cut(reason_name(code, config, locale, junk), REASON_BUTTON)
            counted.append((Drill(kind, code), count, words[kind.value].format(reason=name)))
    calls = summary.missed_calls
    never = calls.count - calls.called_back
    counted.append(
        (Drill(DrillKind.NOT_CALLED_BACK), never, words[DrillKind.NOT_CALLED_BACK.value])
    )
    return [
        DrillChoice(drill, count, f"{text} · {count}") for drill, count, text in counted if count
    ]
