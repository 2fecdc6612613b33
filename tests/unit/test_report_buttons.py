"""The buttons under /report: what they carry fits Telegram's 64 bytes at the longest it can
be, reads back as it was, and a forged value past a declared bound is not read at all (the
press is then answered as an outdated button). A source is carried as a short key, whatever
its length or alphabet."""

from __future__ import annotations

from datetime import date

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.common.render import render, visible_length
from bot.config import load_app_config
from bot.reports.chart_data import ChartData
from bot.reports.chat import ChatReport, drill_choices, headline
from bot.reports.drill import Drill, DrillKind
from bot.reports.files import ReportFile
from bot.reports.filters import PickedManager, PickedSource
from bot.reports.keys import KEY_LENGTH, find_by_key, short_key
from bot.reports.periods import MAX_DAYS, PeriodKind, day_number, from_day_number
from bot.reports.request import ReportRequest
from bot.reports.summary import Arrivals, Funnel, MissedCalls, Repeat, ReportSummary
from handlers.keyboards.reports import (
    LAST_DAY,
    LAST_PAGE,
    ReportDo,
    ReportDrill,
    ReportDrillPage,
    ReportScope,
    ReportView,
    actions_keyboard,
    carried,
    drill_data,
    manager_picker,
    source_picker,
)
from storage.models import Role, Staff

LIMIT = 64  # bytes of callback data
LARGEST_ID = 2**31 - 1
CONFIG = load_app_config()
LONGEST_DO = max(ReportDo, key=lambda do: len(do.value))
LONGEST_DRILL = max(DrillKind, key=lambda kind: len(kind.value))


def _fits(data: CallbackData) -> str:
    packed = data.pack()
    assert len(packed.encode()) <= LIMIT, packed
    assert type(data).unpack(packed) == data
    return packed


def test_the_longest_buttons_fit() -> None:
    """The 23rd century's last day, a year's span, a key, the largest staff id, the longest
    action and drill, the last page: 48 and 57 bytes."""
    key = short_key("x" * 64)
    view = ReportView(
        do=LONGEST_DO,
        day=LAST_DAY,
        span=MAX_DAYS - 1,
        scope=ReportScope.ALL,
        source=key,
        manager=LARGEST_ID,
        page=LAST_PAGE,
    )
    page = ReportDrillPage(
        what=LONGEST_DRILL,
        day=LAST_DAY,
        span=MAX_DAYS - 1,
        scope=ReportScope.ALL,
        source=key,
        manager=LARGEST_ID,
        reason=short_key("z" * 24),
        page=LAST_PAGE,
    )
    assert len(_fits(view)) == 48
    assert len(_fits(page)) == 57
    assert from_day_number(LAST_DAY) == date(2243, 10, 16)


@pytest.mark.parametrize(
    "source",
    ["web_form", "Реклама «ВКонтакте» — осень 2026 🍂" * 2, "a:b:c", "", "😀" * 64],
    ids=["ascii", "cyrillic", "colons", "empty", "emoji"],
)
def test_a_source_of_any_length_and_alphabet_travels_as_eight_safe_characters(
    source: str,
) -> None:
    key = short_key(source)
    assert len(key) == KEY_LENGTH and ":" not in key and key.isascii()
    assert key == short_key(source)  # the same on every press, in every process
    assert find_by_key(["other", source], key) == source
    assert find_by_key(["other"], key) is None


def test_a_filtered_report_carries_its_period_and_filters() -> None:
    """Sveta's report of 01.11–15.11.2025 for Tilda and Anna: day 20393, span 14, Tilda's
    key, Anna's staff id; unpacked, the day and span give the same dates."""
    anna = Staff(id=7, telegram_id=1001, name="Anna", role=Role.MANAGER)
    request = ReportRequest(
        (date(2025, 11, 1), date(2025, 11, 15)), False, source="tilda", manager=anna
    )
    values = carried(request)
    assert values == {
        "day": 20393,
        "span": 14,
        "scope": ReportScope.ALL,
        "source": short_key("tilda"),
        "manager": 7,
    }
    data = ReportView.unpack(ReportView(do=ReportDo.SHOW, **values).pack())
    assert (from_day_number(data.day), from_day_number(data.day + data.span)) == request.period
    assert day_number(request.period[0]) == 20393


@pytest.mark.parametrize(
    "forged",
    [
        "rv:show:20458:366:all:::0",  # a period longer than a year
        "rv:show:-1:0:all:::0",  # before 1970
        "rv:show:100000:0:all:::0",  # past the last day a button holds
        "rv:show:20458:0:all:toolongkey::0",  # a key longer than a key
        "rv:show:20458:0:all:<b>x</b>::0",  # not a key's characters
        "rv:show:20458:0:everyone:::0",  # no such scope
        "rv:drop:20458:0:all:::0",  # no such action
        "rv:show:20458:0:all::x:0",  # a manager that is not a number
        "rd:all:20458:0:all:::",  # no such drill
        "rdp:junk:20458:0:all::::-1",  # a page before the first
        "rdp:junk:20458:0:all::::100000",  # past the last page a button holds
    ],
)
def test_a_forged_value_is_not_read(forged: str) -> None:
    cls = {"rv": ReportView, "rd": ReportDrill, "rdp": ReportDrillPage}[forged.split(":")[0]]
    with pytest.raises(ValueError):
        cls.unpack(forged)


def _report(**changes: object) -> ChatReport:
    summary = ReportSummary(
        first=date(2026, 1, 5),
        last=date(2026, 1, 5),
        timezone="Europe/Moscow",
        funnel=Funnel(11, 9, 3, 2, 1, 0, 8, 2),
        by_source=[],
        by_manager=[],
        repeat=Repeat(6, 0),
        # ranked, as the summary gives them; a code the config no longer has shows as it is
        junk_reasons={"spam": 3, "no_service": 2, "old_code": 1, "wrong_number": 1, "other": 1},
        refusal_reasons={},
        unmet_demand={},
        missed_calls=MissedCalls(3, 1, 1, 60.0),
        arrivals=Arrivals(),
    )
    request = ReportRequest((summary.first, summary.last), **changes)  # type: ignore[arg-type]
    return ChatReport(request, summary, ChartData([], {}), 1)


def test_the_buttons_under_a_report_open_its_numbers_and_filter_it() -> None:
    """Open 2, not taken 2, deals 1, junk 8 (no refusals: no button), the top four junk
    reasons in their words (the fifth, "other", has no button), missed calls not called back
    2; then the filters and, once a filter is on, Clear filters. A manager's own report has
    no "By manager"."""
    report = _report(own=False, source="tilda")
    choices = drill_choices(report, CONFIG, "en")
    assert [choice.text for choice in choices] == [
        "⏳ Open · 2",
        "🙈 Not taken · 2",
        "💰 Deals · 1",
        "🗑 Junk · 8",
        "🗑 Junk: Spam · 3",
        "🗑 Junk: Service we do not offer · 2",
        "🗑 Junk: old_code · 1",
        "🗑 Junk: Wrong number · 1",
        "📞 Not called back · 2",
    ]
    assert choices[4].drill == Drill(DrillKind.JUNK_REASON, "spam")
    keyboard = actions_keyboard(report.request, choices, True, "en")
    assert keyboard is not None
    texts = [button.text for row in keyboard.inline_keyboard for button in row]
    assert texts[-6:] == [
        "📡 By source",
        "👥 By manager",
        "✖ Clear filters",
        "📄 Leads CSV",
        "📗 Leads XLSX",
        "📊 Report XLSX",
    ]
    data = [button.callback_data for row in keyboard.inline_keyboard for button in row]
    assert data[4] == drill_data(report.request, choices[4].drill).pack()
    own = actions_keyboard(_report(own=True).request, choices, True, "en")
    assert own is not None
    own_texts = [button.text for row in own.inline_keyboard for button in row]
    assert "📡 By source" in own_texts and "👥 By manager" not in own_texts
    assert "✖ Clear filters" not in own_texts


def _texts_and_data(markup: object) -> list[tuple[str, str]]:
    rows = markup.inline_keyboard  # type: ignore[attr-defined]
    return [(button.text, button.callback_data) for row in rows for button in row]


def test_many_sources_come_eight_a_page_with_the_picked_one_marked() -> None:
    """20 sources: page 2 of 3 holds the 9th to the 16th, Tilda-like names in words, the one
    filtered now ticked; ◀ 2/3 ▶ turn the picker in place; "All sources" drops that filter
    and keeps the manager's."""
    anna = Staff(id=7, telegram_id=1001, name="Anna", role=Role.MANAGER)
    sources = [PickedSource("tilda", 40)] + [
        PickedSource(f"src_{n:02d}", 30 - n) for n in range(19)
    ]
    request = ReportRequest(
        (date(2026, 1, 1), date(2026, 1, 5)), False, source="src_09", manager=anna
    )
    shown = _texts_and_data(source_picker(request, sources, 1, "en"))
    assert [text for text, _ in shown] == [
        *(f"src_{n:02d} · {30 - n}" for n in range(7, 9)),
        "✓ src_09 · 21",
        *(f"src_{n:02d} · {30 - n}" for n in range(10, 15)),
        "◀",
        "2/3",
        "▶",
        "✖ All sources",
    ]
    picked = ReportView.unpack(shown[0][1])
    assert (picked.do, picked.source, picked.manager) == (ReportDo.SHOW, short_key("src_07"), 7)
    assert ReportView.unpack(shown[-2][1]).do is ReportDo.SOURCES_PAGE
    assert ReportView.unpack(shown[-2][1]).page == 2
    everything = ReportView.unpack(shown[-1][1])
    assert (everything.source, everything.manager) == ("", 7)
    first = _texts_and_data(source_picker(request, sources, 0, "en"))
    assert first[0][0] == "Tilda form · 40"


def test_the_manager_picker_marks_the_filtered_one_and_can_drop_it() -> None:
    """Anna · 4 ticked (filtered now), Boris · 0; "All managers" keeps the source filter."""
    anna = Staff(id=7, telegram_id=1001, name="Anna", role=Role.MANAGER)
    request = ReportRequest(
        (date(2026, 1, 1), date(2026, 1, 5)), False, source="tilda", manager=anna
    )
    people = [PickedManager(7, 1001, "Anna", 4), PickedManager(8, 1002, "Boris", 0)]
    shown = _texts_and_data(manager_picker(request, people, 0, "en"))
    assert [text for text, _ in shown] == ["✓ Anna · 4", "Boris · 0", "✖ All managers"]
    boris = ReportView.unpack(shown[1][1])
    assert (boris.manager, boris.source) == (8, short_key("tilda"))
    everyone = ReportView.unpack(shown[2][1])
    assert (everyone.manager, everyone.source) == (None, short_key("tilda"))


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_files_caption_fits_at_its_longest(locale: str) -> None:
    """A document's caption (at most 1024 characters): the longest period name, a source and
    a manager of 64 characters each (cut in the head), a manager's own report."""
    long_name = "Я" * 64
    person = Staff(id=1, telegram_id=1, name=long_name, role=Role.MANAGER)
    request = ReportRequest(
        (date(2025, 11, 3), date(2025, 12, 2)),
        True,
        PeriodKind.LAST_30_DAYS,
        source="<" * 64,
        manager=person,
        today=date(2026, 1, 5),
    )
    head = headline(request, CONFIG, locale)
    for what in ReportFile:
        caption = render("report_file.html.j2", locale, what=what.value, **head)
        assert visible_length(caption) <= 1024


def test_a_filter_that_empties_the_report_can_still_be_cleared() -> None:
    """No leads of that source in the period: the one message says so and holds only
    "Clear filters" (nothing to open, pick or download); unfiltered and empty, no buttons."""
    filtered = ReportRequest((date(2026, 1, 1), date(2026, 1, 5)), False, source="vk")
    keyboard = actions_keyboard(filtered, [], False, "en")
    assert keyboard is not None
    [[clear]] = keyboard.inline_keyboard
    assert clear.text == "✖ Clear filters"
    cleared = ReportView.unpack(str(clear.callback_data))
    assert (cleared.do, cleared.source, cleared.manager) == (ReportDo.SHOW, "", None)
    plain = ReportRequest((date(2026, 1, 1), date(2026, 1, 5)), False)
    assert actions_keyboard(plain, [], False, "en") is None
