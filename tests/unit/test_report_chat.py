"""What /report's messages hold, from a summary: shares in whole percent, waits in minutes,
an empty period as one message, a manager's own report showing only their row, and every
active manager listed even when the team is large (several messages, none too long)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.common.render import LOCALES, TELEGRAM_TEXT_LIMIT, render, visible_length
from bot.config import load_app_config
from bot.reports.chart_data import ChartData
from bot.reports.chat import MANAGERS_A_MESSAGE, ChatReport, minutes, sections, share
from bot.reports.periods import PeriodKind
from bot.reports.summary import (
    AfterHours,
    Arrivals,
    ClientMessages,
    Funnel,
    ManagerRow,
    MissedCalls,
    Repeat,
    ReportSummary,
    SourceRow,
)

CONFIG = load_app_config()


def _summary(**changes: object) -> ReportSummary:
    summary = ReportSummary(
        first=date(2026, 1, 1),
        last=date(2026, 1, 7),
        timezone="Europe/Moscow",
        funnel=Funnel(4, 3, 2, 1, 1, 0, 1, 2, Decimal("1500.00")),
        by_source=[SourceRow("tilda", 4, 3, 1, 0, 1, Decimal("1500.00"))],
        by_manager=[
            ManagerRow(1, "Anna", 2, 1, amount=Decimal("1500.00"), take_p50_s=90, take_p90_s=5400),
            ManagerRow(2, "Boris", 1),
        ],
        repeat=Repeat(4, 0),
        junk_reasons={"spam": 1},
        refusal_reasons={},
        unmet_demand={},
        missed_calls=MissedCalls(),
        arrivals=Arrivals(),
    )
    return replace(summary, **changes)


def _report(summary: ReportSummary, own: bool = False) -> ChatReport:
    return ChatReport(PeriodKind.LAST_7_DAYS, summary, ChartData([], {}), own, 1)


def test_shares_and_minutes() -> None:
    """2 of 3 reads "67%"; nothing to divide reads nothing; 90 s reads "2 min"."""
    assert share(2, 3) == 67 and share(0, 0) is None
    assert minutes(90) == 2 and minutes(None) is None


@pytest.mark.parametrize("locale", LOCALES)
def test_an_empty_period_is_one_message(locale: str) -> None:
    """No leads: one message naming the period, no empty sections."""
    [(name, values)] = sections(_report(_summary(funnel=Funnel())), CONFIG, locale)
    assert name == "report_empty.html.j2"
    text = render(name, locale, **values)
    assert ("01.01 – 07.01" if locale == "ru" else "1 Jan – 7 Jan") in text


def test_a_managers_own_report_shows_only_their_row() -> None:
    """Anna's own report: the managers' message names Anna, not Boris; a take wait of
    1 h 30 min at the 90th percentile is read in words."""
    shown = dict(sections(_report(_summary(), own=True), CONFIG, "en"))
    text = render("report_managers.html.j2", "en", **shown["report_managers.html.j2"])
    assert "Anna" in text and "Boris" not in text
    assert "90% within 1 h 30 min" in text


def test_a_large_team_takes_several_messages_each_within_the_limit() -> None:
    """40 managers with long names and every figure shown: all listed, 10 a message, each
    message within 4096."""
    people = [
        ManagerRow(
            n,
            "Имя " * 20,
            99999,
            99999,
            amount=Decimal("99999999999.99"),
            take_p50_s=90000,
            take_p90_s=900000,
            take_work_p50_s=90000,
            first_contact_p50_s=90000,
            contacted=99999,
            first_contact_work_p50_s=90000,
            reminders=99999,
            escalations=99999,
            missed_calls_not_returned=99999,
            overdue_now=99999,
        )
        for n in range(40)
    ]
    parts = [
        values
        for name, values in sections(_report(_summary(by_manager=people)), CONFIG, "ru")
        if name == "report_managers.html.j2"
    ]
    assert [len(part["managers"]) for part in parts] == [MANAGERS_A_MESSAGE] * 4
    for part in parts:
        assert (
            visible_length(render("report_managers.html.j2", "ru", **part)) <= TELEGRAM_TEXT_LIMIT
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_answers_owed_and_after_hours_in_the_calls_message(locale: str) -> None:
    """4 waits, 3 answered (2 in time, median 25 min), 1 not yet; 7 leads after hours, 5 taken
    after a median of 9 h 10 min, 2 not taken. A period with neither says nothing of them."""
    summary = _summary(
        client_messages=ClientMessages(4, 3, 2, 1500.0),
        after_hours=AfterHours(7, 5, 33000.0, 40000.0),
    )
    values = dict(sections(_report(summary), CONFIG, locale))["report_calls.html.j2"]
    text = render("report_calls.html.j2", locale, **values)
    if locale == "en":
        assert "waiting for an answer</b>: 4" in text
        assert "Answered: 3 (2 in time) · median 25 min · not yet: 1" in text
        assert "After hours: 7 · taken after a median 9 h 10 min · not taken: 2" in text
    else:
        assert "ждавшие ответа</b>: 4" in text
        assert "Ответили: 3 (вовремя 2) · медиана 25 мин · ещё нет: 1" in text
        assert "В нерабочее время: 7 · взяли через 9 ч 10 мин (медиана) · не взяли: 2" in text
    quiet = dict(sections(_report(_summary()), CONFIG, locale))["report_calls.html.j2"]
    text = render("report_calls.html.j2", locale, **quiet)
    assert "Answered" not in text and "Ответили" not in text
    assert "After hours" not in text and "нерабочее" not in text


def test_a_managers_warnings_show_only_when_there_are_any() -> None:
    """Anna got 2 reminders and an escalation, has 3 leads overdue now and a call not returned:
    one line says so; Boris, with none of it, has no such line."""
    people = [
        ManagerRow(
            1, "Anna", 2, 1, reminders=2, escalations=1, overdue_now=3, missed_calls_not_returned=1
        ),
        ManagerRow(2, "Boris", 1, overdue_now=0),
    ]
    values = dict(sections(_report(_summary(by_manager=people)), CONFIG, "en"))
    text = render("report_managers.html.j2", "en", **values["report_managers.html.j2"])
    assert "⚠️ reminders 2 · escalations 1 · overdue now 3 · calls not returned 1" in text
    assert text.count("⚠️") == 1
