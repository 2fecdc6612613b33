"""The read API's core (bot/leads/api_view.py): filtered pages in a stable order while leads
arrive and change between page reads, and one lead with its history. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.leads.api_view import LeadFilter, LeadPage, lead_detail, lead_page
from bot.leads.cursor import Position, Sort
from bot.leads.notes import add_note
from storage.db import SessionFactory
from storage.models import LeadStatus, Staff

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_phones = iter(range(1, 10_000))


async def _arrive(
    sessions: SessionFactory, clock: ManualClock, count: int, source: str = "web_form"
) -> list[int]:
    """`count` new people's leads, one a minute (each a transaction of its own, as intake's)."""
    ids = []
    for _ in range(count):
        now = clock.advance(timedelta(minutes=1))
        item = LeadInput(source=source, phone=f"+7900{next(_phones):07d}", name="Client")
        async with sessions() as session:
            [result] = await intake_leads(session, [item], now)
        ids.append(result.lead_id)
    return ids


async def _page(
    sessions: SessionFactory,
    sort: Sort,
    after: Position | None,
    limit: int,
    filters: LeadFilter | None = None,
) -> LeadPage:
    async with sessions() as session:
        return await lead_page(session, filters or LeadFilter(), sort, after, limit)


async def _take(sessions: SessionFactory, lead_id: int, who: Staff, clock: ManualClock) -> None:
    async with sessions() as session:
        assert (await take_lead(session, lead_id, who, clock.advance(timedelta(minutes=1)))).ok


@pytest.mark.parametrize("sort", [Sort.ID, Sort.UPDATED_AT])
async def test_leads_arriving_between_pages_are_neither_skipped_nor_repeated(
    sessions: SessionFactory, clock: ManualClock, sort: Sort
) -> None:
    """25 leads, pages of 10; after each of the first three pages 3 more arrive. The client
    reads 4 pages (10, 10, 10, 4) and gets all 34 leads once each, in order: the new ones land
    after its cursor."""
    await _arrive(sessions, clock, 25)
    read: list[int] = []
    after, pages = None, 0
    while True:
        page = await _page(sessions, sort, after, 10)
        pages += 1
        read += [lead.id for lead in page.leads]
        after = page.end
        if pages <= 3:
            await _arrive(sessions, clock, 3)
        if not page.has_more:
            break
    assert pages == 4 and len(read) == 34
    assert read == list(range(1, 35))  # every lead once, in arrival order (ids 1..34)


async def test_in_id_order_a_lead_changed_between_pages_keeps_its_place(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Anna takes lead 2 (already read) and lead 5 (not yet) between the pages: each lead comes
    once, lead 5 as it is now (in work, Anna's)."""
    await _arrive(sessions, clock, 6)
    first = await _page(sessions, Sort.ID, None, 3)
    await _take(sessions, 2, staff["anna"], clock)
    await _take(sessions, 5, staff["anna"], clock)
    second = await _page(sessions, Sort.ID, first.end, 3)
    assert [lead.id for lead in first.leads + second.leads] == [1, 2, 3, 4, 5, 6]
    five = second.leads[1]
    assert five.status == LeadStatus.IN_WORK and five.owner is not None
    assert (five.owner.telegram_id, five.owner.name) == (1001, "Anna")
    assert not second.has_more


async def test_in_updated_at_order_a_changed_lead_comes_again_at_the_end(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """The change feed: lead 2 (read) and lead 5 (not yet read) are taken between the pages.
    Lead 5 moves to the end and comes once; lead 2 comes again after it, as it is now; no lead
    is skipped. A kept cursor later reads only what changed since."""
    await _arrive(sessions, clock, 6)
    first = await _page(sessions, Sort.UPDATED_AT, None, 3)
    assert [lead.id for lead in first.leads] == [1, 2, 3]
    await _take(sessions, 2, staff["anna"], clock)
    await _take(sessions, 5, staff["anna"], clock)
    second = await _page(sessions, Sort.UPDATED_AT, first.end, 10)
    assert [lead.id for lead in second.leads] == [4, 6, 2, 5]
    assert second.leads[2].status == LeadStatus.IN_WORK and second.leads[2].version == 2
    assert not second.has_more
    # nothing changed since: an empty page that keeps the client's place
    idle = await _page(sessions, Sort.UPDATED_AT, second.end, 10)
    assert idle.leads == [] and idle.end == second.end and not idle.has_more
    # a note a minute later (a change in the very microsecond of the cursor's lead, to a lead
    # with a smaller id, would sort before the cursor: README says so)
    async with sessions() as session:
        now = clock.advance(timedelta(minutes=1))
        assert (await add_note(session, 3, staff["sveta"], "called", now)).ok
    later = await _page(sessions, Sort.UPDATED_AT, idle.end, 10)
    assert [lead.id for lead in later.leads] == [3]


async def test_filters_narrow_the_pages(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Leads 1-3 from web_form at 09:01-09:03, 4-5 from tilda at 09:04-09:05; Anna takes 1 and
    4 at 09:06-09:07, Boris 2 at 09:08. Each filter, and all of them together."""
    await _arrive(sessions, clock, 3)
    await _arrive(sessions, clock, 2, source="tilda")
    await _take(sessions, 1, staff["anna"], clock)
    await _take(sessions, 4, staff["anna"], clock)
    await _take(sessions, 2, staff["boris"], clock)

    async def ids(**filters: object) -> list[int]:
        page = await _page(sessions, Sort.ID, None, 100, LeadFilter(**filters))  # type: ignore[arg-type]
        return [lead.id for lead in page.leads]

    assert await ids() == [1, 2, 3, 4, 5]
    assert await ids(statuses=(LeadStatus.NEW,)) == [3, 5]
    assert await ids(statuses=(LeadStatus.NEW, LeadStatus.IN_WORK)) == [1, 2, 3, 4, 5]
    assert await ids(statuses=(LeadStatus.JUNK,)) == []
    assert await ids(source="tilda") == [4, 5]
    assert await ids(source="Tilda") == []  # as stored: lower case
    assert await ids(owner_telegram_id=1001) == [1, 4]
    assert await ids(owner_telegram_id=1002) == [2]
    assert await ids(owner_telegram_id=999) == []
    assert await ids(created_since=T0 + timedelta(minutes=3)) == [3, 4, 5]
    assert await ids(updated_since=T0 + timedelta(minutes=7)) == [2, 4]
    assert await ids(source="tilda", owner_telegram_id=1001, statuses=(LeadStatus.IN_WORK,)) == [4]
    assert await ids(source="web_form", created_since=T0 + timedelta(minutes=2)) == [2, 3]


async def test_a_filtered_page_ends_where_its_last_match_is(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    """tilda leads are 2, 4 and 6 among six: pages of 2 read 2, 4 then 6, and has_more says
    whether a match follows (not whether any lead does)."""
    for _ in range(3):
        await _arrive(sessions, clock, 1)
        await _arrive(sessions, clock, 1, source="tilda")
    tilda = LeadFilter(source="tilda")
    first = await _page(sessions, Sort.ID, None, 2, tilda)
    assert [lead.id for lead in first.leads] == [2, 4] and first.has_more
    second = await _page(sessions, Sort.ID, first.end, 2, tilda)
    assert [lead.id for lead in second.leads] == [6] and not second.has_more


async def test_one_lead_with_its_history_oldest_first(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    """Lead 1: created (by nobody), taken by Anna, a note by her: three events, oldest first,
    with who did each. With room for two, the oldest is left out and counted."""
    await _arrive(sessions, clock, 1)
    await _take(sessions, 1, staff["anna"], clock)
    async with sessions() as session:
        assert (await add_note(session, 1, staff["anna"], "<b>hi</b> 🙂", clock.now())).ok
        detail = await lead_detail(session, 1)
        short = await lead_detail(session, 1, events_max=2)
        missing = await lead_detail(session, 2)
    assert detail is not None and short is not None and missing is None
    assert [event.kind for event in detail.events] == ["created", "taken", "note"]
    assert detail.events[0].actor is None
    assert detail.events[2].actor is not None and detail.events[2].actor.name == "Anna"
    assert detail.events[2].data["text"] == "<b>hi</b> 🙂"
    assert detail.events_omitted == 0 and detail.lead.status == LeadStatus.IN_WORK
    assert [event.kind for event in short.events] == ["taken", "note"]
    assert short.events_omitted == 1
