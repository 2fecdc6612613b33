"""The leads behind the report's numbers (bot/reports/drill.py), its filter pickers
(bot/reports/filters.py) and reading a pressed button back (bot/reports/request.py), over the
seeded week of tests/core/test_report_summary.py (its docstring tells the history), on SQLite
and PostgreSQL. Every list is checked by hand, and every list's length against the number
the summary shows for it: a supervisor who taps "junk · 3" gets three leads."""

from __future__ import annotations

import pytest

from bot.config import AppConfig
from bot.reports.drill import Drill, DrillKind, drill_leads, drill_page, find_drill
from bot.reports.filters import PickedManager, PickedSource, period_managers, period_sources
from bot.reports.keys import short_key
from bot.reports.request import resolve_request
from bot.reports.summary import ReportSummary, report_summary
from storage.db import SessionFactory
from storage.models import Staff
from tests.core.test_report_summary import ANNA, BORIS, DINA, WEEK, history

__all__ = ["history"]  # the seeded week, a fixture


async def _ids(
    sessions: SessionFactory, config: AppConfig, drill: Drill, **filters: object
) -> list[int]:
    async with sessions() as session:
        found = await drill_leads(session, WEEK, config, drill, limit=100, **filters)  # type: ignore[arg-type]
    assert found.total == len(found.leads)
    return [lead.id for lead in found.leads]


async def test_each_number_opens_its_leads_newest_first(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Open: the call's lead and #6; not taken: #5 (junked untaken), the call's lead, #6;
    deals #2, #1; refused #7; junk #5, #4, #3 (newest first); junk for "we do not offer it"
    #4, #3, for spam #5; refused for the price #7; the missed calls never called back: the
    call's lead (its second call, Tuesday 12:00, was never returned)."""
    ids = history
    call = await _call_lead(sessions, config)
    expected = {
        Drill(DrillKind.OPEN): [ids["open"], call],
        Drill(DrillKind.NOT_TAKEN): [ids["open"], call, ids["repeat"]],
        Drill(DrillKind.CONVERTED): [ids["reassigned"], ids["deal"]],
        Drill(DrillKind.REFUSED): [ids["refused"]],
        Drill(DrillKind.JUNK): [ids["repeat"], ids["pool2"], ids["pool"]],
        Drill(DrillKind.JUNK_REASON, "no_service"): [ids["pool2"], ids["pool"]],
        Drill(DrillKind.JUNK_REASON, "spam"): [ids["repeat"]],
        Drill(DrillKind.REFUSAL_REASON, "price"): [ids["refused"]],
        Drill(DrillKind.REFUSAL_REASON, "spam"): [],  # a junk reason is no refusal
        Drill(DrillKind.NOT_CALLED_BACK): [call],
    }
    for drill, leads in expected.items():
        assert await _ids(sessions, config, drill) == leads, drill


async def _call_lead(sessions: SessionFactory, config: AppConfig) -> int:
    async with sessions() as session:
        summary = await report_summary(session, WEEK, config, source="call")
        assert summary.funnel.received == 1
        found = await drill_leads(session, WEEK, config, Drill(DrillKind.OPEN), source="call")
    [lead] = found.leads
    return lead.id


async def test_filters_narrow_the_lists_as_they_narrow_the_report(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Tilda's deals: #2; Tilda's missed calls: none (the caller's lead came by phone).
    Boris's junk: #4 (he took it); his deals: #2 (he took it first, Anna converted it).
    Anna's junk: #3 only (#5 she junked without taking it). Somebody unknown: nothing."""
    ids = history
    tilda = {"source": "tilda"}
    assert await _ids(sessions, config, Drill(DrillKind.CONVERTED), **tilda) == [ids["reassigned"]]
    assert await _ids(sessions, config, Drill(DrillKind.NOT_CALLED_BACK), **tilda) == []
    boris = {"manager_telegram_id": BORIS}
    assert await _ids(sessions, config, Drill(DrillKind.JUNK), **boris) == [ids["pool2"]]
    assert await _ids(sessions, config, Drill(DrillKind.CONVERTED), **boris) == [ids["reassigned"]]
    anna = {"manager_telegram_id": ANNA}
    assert await _ids(sessions, config, Drill(DrillKind.JUNK), **anna) == [ids["pool"]]
    nobody = {"manager_telegram_id": 999}
    assert await _ids(sessions, config, Drill(DrillKind.OPEN), **nobody) == []


def _numbers(summary: ReportSummary) -> dict[Drill, int]:
    """What the report shows for each drill (its buttons' numbers)."""
    funnel = summary.funnel
    numbers = {
        Drill(DrillKind.OPEN): funnel.open,
        Drill(DrillKind.NOT_TAKEN): funnel.received - funnel.taken,
        Drill(DrillKind.CONVERTED): funnel.converted,
        Drill(DrillKind.REFUSED): funnel.refused,
        Drill(DrillKind.JUNK): funnel.junk,
    }
    numbers |= {Drill(DrillKind.JUNK_REASON, c): n for c, n in summary.junk_reasons.items()}
    numbers |= {Drill(DrillKind.REFUSAL_REASON, c): n for c, n in summary.refusal_reasons.items()}
    return numbers


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"source": "tilda"},
        {"source": "web_form"},
        {"manager_telegram_id": BORIS},
        {
            "manager_telegram_id": ANNA,
            "source": "web_form",
        },
    ],
    ids=["all", "tilda", "web_form", "boris", "anna_web_form"],
)
async def test_every_list_holds_as_many_leads_as_the_report_says(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int], filters: dict[str, object]
) -> None:
    """The drill and the summary share their definitions: for each funnel end and each reason,
    with each filter, the list's total is the report's number (the calls are counted per
    call in the report, per lead in the list: checked by hand above)."""
    async with sessions() as session:
        summary = await report_summary(session, WEEK, config, **filters)  # type: ignore[arg-type]
        for drill, number in _numbers(summary).items():
            found = await drill_leads(session, WEEK, config, drill, **filters)  # type: ignore[arg-type]
            assert found.total == number, drill


async def test_a_long_list_comes_a_page_at_a_time(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Junk, two a page: #5 and #4, then #3; the total is 3 on each. As pages of the lead
    lists (8 a page): one page of 3; a page past the end (the list shrank) is the last."""
    ids = history
    junk = Drill(DrillKind.JUNK)
    async with sessions() as session:
        first = await drill_leads(session, WEEK, config, junk, offset=0, limit=2)
        second = await drill_leads(session, WEEK, config, junk, offset=2, limit=2)
        listed = await drill_page(session, WEEK, config, junk, 5)
    assert [lead.id for lead in first.leads] == [ids["repeat"], ids["pool2"]]
    assert [lead.id for lead in second.leads] == [ids["pool"]]
    assert first.total == second.total == 3
    assert (listed.page, listed.pages, listed.total) == (0, 1, 3)
    assert [item.lead.id for item in listed.items] == [ids["repeat"], ids["pool2"], ids["pool"]]


async def test_a_reason_button_is_found_by_its_key_among_the_periods_reasons(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """spam's key finds the junk reason spam; the price's key finds no junk reason (only a
    refusal); on Anna's own leads spam is not there (she junked #5 untaken)."""
    async with sessions() as session:
        spam = await find_drill(session, WEEK, config, DrillKind.JUNK_REASON, short_key("spam"))
        price = await find_drill(session, WEEK, config, DrillKind.JUNK_REASON, short_key("price"))
        refusal = await find_drill(
            session, WEEK, config, DrillKind.REFUSAL_REASON, short_key("price")
        )
        annas = await find_drill(
            session,
            WEEK,
            config,
            DrillKind.JUNK_REASON,
            short_key("spam"),
            manager_telegram_id=ANNA,
        )
        plain = await find_drill(session, WEEK, config, DrillKind.OPEN, "")
    assert spam == Drill(DrillKind.JUNK_REASON, "spam")
    assert price is None and annas is None
    assert refusal == Drill(DrillKind.REFUSAL_REASON, "price")
    assert plain == Drill(DrillKind.OPEN)


async def test_the_pickers_list_the_periods_sources_and_the_managers(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """Sources, most leads first: web_form 5, tilda 2, call 1; Boris's: tilda 1, web_form 1.
    Managers by name, with the leads each took first or owns: Anna 4 (#1, #2 now hers, #3,
    #7), Boris 2 (#2, #4), Dina 0; Sveta, a supervisor who only gave a lead away, is not
    there. Tilda's: Anna 1, Boris 1, Dina 0."""
    async with sessions() as session:
        sources = await period_sources(session, WEEK, config)
        boris_sources = await period_sources(session, WEEK, config, manager_telegram_id=BORIS)
        managers = await period_managers(session, WEEK, config)
        tilda = await period_managers(session, WEEK, config, source="tilda")
    assert sources == [
        PickedSource("web_form", 5),
        PickedSource("tilda", 2),
        PickedSource("call", 1),
    ]
    assert boris_sources == [PickedSource("tilda", 1), PickedSource("web_form", 1)]
    anna, boris = staff["anna"], staff["boris"]
    assert [(m.name, m.telegram_id, m.leads) for m in managers] == [
        ("Anna", ANNA, 4),
        ("Boris", BORIS, 2),
        ("Dina", DINA, 0),
    ]
    assert managers[0] == PickedManager(anna.id, ANNA, "Anna", 4)
    assert managers[1].staff_id == boris.id
    assert [(m.name, m.leads) for m in tilda] == [("Anna", 1), ("Boris", 1), ("Dina", 0)]


async def test_a_pressed_button_reads_back_or_is_outdated(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """tilda's key and Boris's staff id read back as the source and the person; a key no
    source of the week has, or a staff id nobody has, is an outdated button (None). On
    Boris's own report the key of "call" (none of his leads) is outdated too."""
    sveta, boris = staff["sveta"], staff["boris"]
    today = WEEK[1]
    async with sessions() as session:
        read = await resolve_request(
            session,
            config,
            WEEK,
            own=False,
            reader=sveta,
            source_key=short_key("tilda"),
            manager_staff_id=boris.id,
            today=today,
        )
        assert read is not None
        assert (read.source, read.manager.name if read.manager else None) == ("tilda", "Boris")
        assert read.manager_telegram_id(sveta.telegram_id) == BORIS
        gone = await resolve_request(
            session,
            config,
            WEEK,
            own=False,
            reader=sveta,
            source_key=short_key("vk"),
            manager_staff_id=None,
            today=today,
        )
        nobody = await resolve_request(
            session,
            config,
            WEEK,
            own=False,
            reader=sveta,
            source_key="",
            manager_staff_id=2**31 - 1,
            today=today,
        )
        not_his = await resolve_request(
            session,
            config,
            WEEK,
            own=True,
            reader=boris,
            source_key=short_key("call"),
            manager_staff_id=None,
            today=today,
        )
        his = await resolve_request(
            session,
            config,
            WEEK,
            own=True,
            reader=boris,
            source_key=short_key("tilda"),
            manager_staff_id=None,
            today=today,
        )
    assert gone is None and nobody is None and not_his is None
    assert his is not None and his.source == "tilda"
    assert his.manager_telegram_id(boris.telegram_id) == BORIS  # his own leads only
