"""The report's numbers (bot/reports/summary.py) over a seeded history on a real database,
SQLite and PostgreSQL, every number checked by hand. The team works in Moscow (UTC+3),
Monday to Friday 09:00-19:00; 05.01.2026 is a Monday.

The history (local times):
  Sun 04.01 23:59:59  web_form  before the period (the client of #5 too), junked at once
  Mon 05.01 00:00     web_form  #1 Anna takes at 09:10, converts for 54 700.50 at 10:00
  Mon 05.01 10:00     tilda     #2 Boris takes at 10:02; Sveta gives it to Anna at 11:00,
                                   who converts it for 1 000 at 12:00
  Mon 05.01 11:00     web_form  #3 Anna takes at 11:00:01, junks: no_service "Подогрев бассейна"
  Mon 05.01 12:00     web_form  #4 Boris takes at 12:00:05, junks: no_service " подогрев БАССЕЙНА "
  Mon 05.01 13:00     web_form  #5 a repeat client; Anna junks it untaken: spam
  Mon 05.01 14:00     call      a missed call opens a lead; answered call-back at 14:10
  Tue 06.01 09:00     web_form  #7 Anna takes at 09:00:30, qualifies at 09:30, refuses (price)
  Tue 06.01 12:00               another missed call from the same number, never returned
  Tue 06.01 23:59:59  tilda     #6 nobody takes it
  Wed 07.01 00:00     web_form  after the period
Dina, a manager, has no leads at all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.client_chat import client_wrote, queue_reply, reply_delivered
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.merge import merge_leads
from bot.leads.qualify import convert_lead, qualify_lead
from bot.leads.reassign import reassign_lead
from bot.reports.summary import (
    ManagerRow,
    ReportSummary,
    SourceRow,
    percentile,
    report_summary,
    summary_json,
)
from bot.sla.working_hours import working_time_between
from bot.team.staff import add_staff
from bot.telephony.calls import CallEvent, CallStatus, Direction, record_call
from storage.db import SessionFactory
from storage.models import AlertCopy, Lead, OutboxKind, OutboxMessage, Role, Staff

WEEK = (date(2026, 1, 5), date(2026, 1, 6))
ANNA, BORIS, DINA = 1001, 1002, 1004
CALLER = "+79990000001"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A UTC moment in January 2026 (Moscow is three hours ahead)."""
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


async def _lead(
    sessions: SessionFactory, moment: datetime, phone: str, source: str = "web_form"
) -> int:
    async with sessions() as session:
        item = LeadInput(source=source, phone=phone, name="Client")
        [result] = await intake_leads(session, [item], moment)
    return result.lead_id


async def _call(
    sessions: SessionFactory, config: AppConfig, call_id: str, status: CallStatus, moment: datetime
) -> None:
    event = CallEvent(call_id, Direction.IN, status, CALLER, "+74950000000", moment, 0)
    async with sessions() as session:
        await record_call(session, event, moment, config)


@pytest.fixture
async def history(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> dict[str, int]:
    """The seeded history of the module docstring; the leads' ids by name."""
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    async with sessions() as session:
        await add_staff(session, DINA, Role.MANAGER, "Dina", clock.now())
    ids: dict[str, int] = {}
    ids["before"] = await _lead(sessions, at(4, 20, 59, 59), "+79000000005")
    async with sessions() as session:  # closed, so the client's next request is a new lead
        closed = await close_lead(
            session, ids["before"], sveta, Action.JUNK, "spam", None, at(4, 21), config
        )
        assert closed.ok
    ids["deal"] = await _lead(sessions, at(4, 21), "+79000000001")
    async with sessions() as session:
        assert (await take_lead(session, ids["deal"], anna, at(5, 6, 10))).ok
        answers = {"name": "Ivan", "service": "tour", "amount": Decimal("54700.50")}
        assert (await convert_lead(session, ids["deal"], anna, answers, at(5, 7), config)).ok
    ids["reassigned"] = await _lead(sessions, at(5, 7), "+79000000002", "tilda")
    async with sessions() as session:
        assert (await take_lead(session, ids["reassigned"], boris, at(5, 7, 2))).ok
        lead = await session.get(Lead, ids["reassigned"])
        assert lead is not None
        version = lead.version
        await session.commit()
        given = await reassign_lead(session, ids["reassigned"], sveta, anna.id, version, at(5, 8))
        assert given.ok
        answers = {"name": "Olga", "service": "tour", "amount": Decimal("1000")}
        assert (await convert_lead(session, ids["reassigned"], anna, answers, at(5, 9), config)).ok
    ids["pool"] = await _lead(sessions, at(5, 8), "+79000000003")
    async with sessions() as session:
        assert (await take_lead(session, ids["pool"], anna, at(5, 8, 0, 1))).ok
        words = "Подогрев бассейна"
        junked = await close_lead(
            session, ids["pool"], anna, Action.JUNK, "no_service", words, at(5, 8, 5), config
        )
        assert junked.ok
    ids["pool2"] = await _lead(sessions, at(5, 9), "+79000000004")
    async with sessions() as session:
        assert (await take_lead(session, ids["pool2"], boris, at(5, 9, 0, 5))).ok
        words = " подогрев БАССЕЙНА "
        junked = await close_lead(
            session, ids["pool2"], boris, Action.JUNK, "no_service", words, at(5, 9, 5), config
        )
        assert junked.ok
    ids["repeat"] = await _lead(sessions, at(5, 10), "+79000000005")
    async with sessions() as session:
        junked = await close_lead(
            session, ids["repeat"], anna, Action.JUNK, "spam", None, at(5, 10, 1), config
        )
        assert junked.ok
    await _call(sessions, config, "c1", CallStatus.MISSED, at(5, 11))
    await _call(sessions, config, "c2", CallStatus.ANSWERED, at(5, 11, 10))
    ids["refused"] = await _lead(sessions, at(6, 6), "+79000000007")
    async with sessions() as session:
        assert (await take_lead(session, ids["refused"], anna, at(6, 6, 0, 30))).ok
        assert (
            await qualify_lead(session, ids["refused"], anna, {"service": "tour"}, at(6, 6, 30))
        ).ok
        refused = await close_lead(
            session, ids["refused"], anna, Action.REFUSE, "price", None, at(6, 7), config
        )
        assert refused.ok
    await _call(sessions, config, "c3", CallStatus.MISSED, at(6, 9))
    ids["open"] = await _lead(sessions, at(6, 20, 59, 59), "+79000000006", "tilda")
    ids["after"] = await _lead(sessions, at(6, 21), "+79000000008")
    return ids


async def _summary(
    sessions: SessionFactory, config: AppConfig, period: tuple[date, date] = WEEK, **filters: object
) -> ReportSummary:
    async with sessions() as session:
        return await report_summary(session, period, config, **filters)  # type: ignore[arg-type]


def _manager(summary: ReportSummary, telegram_id: int) -> ManagerRow:
    [row] = [row for row in summary.by_manager if row.telegram_id == telegram_id]
    return row


async def test_the_week_as_a_supervisor_reads_it(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The funnel, sources, reasons, demand, calls and arrivals of two local days: the leads
    at 23:59:59 on Sunday and at 00:00 on Wednesday (Moscow) are outside it, those at 00:00
    Monday and 23:59:59 Tuesday inside."""
    summary = await _summary(sessions, config)

    funnel = summary.funnel
    assert (funnel.received, funnel.taken, funnel.contacted, funnel.qualified) == (8, 5, 4, 3)
    assert (funnel.converted, funnel.refused, funnel.junk, funnel.open) == (2, 1, 3, 2)
    assert funnel.amount == Decimal("55700.50")
    assert funnel.convert_p50_s == 6 * 3600  # the deals took 10 h and 2 h from arrival
    assert summary.by_source == [
        SourceRow("web_form", 5, 4, 1, 1, 3, Decimal("54700.50")),
        SourceRow("tilda", 2, 1, 1, 0, 0, Decimal("1000.00")),
        SourceRow("call", 1, 0, 0, 0, 0, Decimal("0.00")),
    ]
    assert (summary.repeat.new, summary.repeat.repeat) == (7, 1)
    assert summary.junk_reasons == {"no_service": 2, "spam": 1}
    assert summary.refusal_reasons == {"price": 1}
    assert summary.unmet_demand == {"подогрев бассейна": 2}
    calls = summary.missed_calls
    assert (calls.count, calls.called_back, calls.called_back_within_limit) == (2, 1, 1)
    assert calls.callback_p50_s == 600
    hours = {hour: n for hour, n in enumerate(summary.arrivals.by_hour) if n}
    assert hours == {0: 1, 9: 1, 10: 1, 11: 1, 12: 1, 13: 1, 14: 1, 23: 1}
    assert summary.arrivals.by_weekday == [6, 2, 0, 0, 0, 0, 0]


async def test_take_goes_to_the_first_taker_the_deal_to_the_closer(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """By manager: Boris took #2 and keeps the take and its 2 minutes; Anna, who converted it
    after Sveta gave it to her, has the deal and its amount. Dina, with no leads, is there
    with zeros and no times; Sveta, who only reassigned, is not."""
    summary = await _summary(sessions, config)

    assert [row.name for row in summary.by_manager] == ["Anna", "Boris", "Dina"]
    anna = _manager(summary, ANNA)
    assert (anna.taken, anna.converted, anna.refused, anna.junk) == (3, 2, 1, 2)
    assert anna.amount == Decimal("55700.50")
    # takes after 9 h 10 min (a lead of midnight, 10 min into the working day), 1 s, 30 s
    assert (anna.take_p50_s, anna.take_p90_s, anna.take_work_p50_s) == (30.0, 26406.0, 30.0)
    assert anna.first_contact_p50_s == 18900.0  # 10 h (the deal) and 30 min (qualified)
    boris = _manager(summary, BORIS)
    assert (boris.taken, boris.converted, boris.refused, boris.junk) == (2, 0, 0, 1)
    assert boris.amount == Decimal("0.00")
    assert (boris.take_p50_s, boris.take_p90_s, boris.take_work_p50_s) == (62.5, 108.5, 62.5)
    assert boris.first_contact_p50_s == 7200.0  # #2 reached (converted) 2 h after arrival
    assert _manager(summary, DINA) == ManagerRow(DINA, "Dina")
    # reached: Anna #1 (the deal, 1 working hour after the midnight arrival) and #7 (30 min);
    # Boris #2, reached when Anna converted it 2 h after it came
    assert (anna.contacted, anna.first_contact_work_p50_s) == (2, 2700.0)
    assert (boris.contacted, boris.first_contact_work_p50_s) == (1, 7200.0)
    assert anna.overdue_now is None  # no `now` given: not asked


async def test_alerts_received_missed_calls_not_returned_and_overdue_now(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff], history: dict[str, int]
) -> None:
    """Anna was sent two reminders and an escalation about the week's leads (one about a lead
    of the week before, not counted); Boris one reminder. Tuesday's missed call was never
    returned: it counts against the owner of its lead now, Boris, given it here. On Friday
    09:00 nothing of Anna's is in work; Boris has two leads in work since Monday (one taken,
    the call's given), overdue past the two days `[time_limits] in_work` allows."""
    anna, boris = staff["anna"], staff["boris"]

    def alert(lead: str, person: Staff, step: str) -> AlertCopy:
        payload = {"kind": "not_taken", "step": step, "level": 1}
        return AlertCopy(
            lead_id=history[lead],
            chat_id=person.telegram_id,
            message_id=len(step) + id(payload),
            staff_id=person.id,
            payload=payload,
            rendered_version=1,
            created_at=at(5, 12),
        )

    async with sessions() as session:
        session.add_all(
            [
                alert("deal", anna, "remind"),
                alert("refused", anna, "remind"),
                alert("open", anna, "escalate"),
                alert("before", anna, "remind"),
                alert("pool2", boris, "remind"),
            ]
        )
        await session.commit()
        late = await _lead(sessions, at(5, 12), "+79000000021")
        assert (await take_lead(session, late, boris, at(5, 12, 30), config)).ok
        # the missed calls' lead, nobody's so far, given to Boris on Monday
        call_lead = await session.scalar(select(Lead).where(Lead.source == "call"))
        assert call_lead is not None and call_lead.owner_id is None
        version = call_lead.version
        await session.commit()
        given = await reassign_lead(
            session, call_lead.id, staff["sveta"], boris.id, version, at(5, 13), config
        )
        assert given.ok
    summary = await _summary(sessions, config, now=at(9, 6))
    row_anna, row_boris = _manager(summary, ANNA), _manager(summary, BORIS)
    assert (row_anna.reminders, row_anna.escalations) == (2, 1)
    assert (row_boris.reminders, row_boris.escalations) == (1, 0)
    assert [row.missed_calls_not_returned for row in summary.by_manager] == [0, 1, 0]
    assert (row_anna.overdue_now, row_boris.overdue_now) == (0, 2)
    assert _manager(summary, DINA).overdue_now == 0


async def test_a_merged_duplicate_is_junk_closed_by_whoever_merged_it(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """The same person writes twice on Monday: Anna takes the first at 10:05, Boris the second
    at 11:05 (5 minutes each); Sveta merges the second into the first. Both stay in the
    cohort (two requests came); the merged one is junk ("duplicate") on Sveta's account, not
    Boris's, though he keeps his take; the first's history now holds Boris's take too, and
    still counts only as Anna's."""
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    first = await _lead(sessions, at(5, 7), "+79000000011")
    second = await _lead(sessions, at(5, 8), "+79000000012")
    async with sessions() as session:
        assert (await take_lead(session, first, anna, at(5, 7, 5), config)).ok
        assert (await take_lead(session, second, boris, at(5, 8, 5), config)).ok
        await session.execute(
            update(Lead).where(Lead.id == second).values(possible_duplicate_of_id=first)
        )
        await session.commit()
        assert (await merge_leads(session, second, first, sveta, at(5, 9))).ok
    summary = await _summary(sessions, config)
    funnel = summary.funnel
    assert (funnel.received, funnel.taken, funnel.junk, funnel.open) == (2, 2, 1, 1)
    assert summary.junk_reasons == {"duplicate": 1}
    assert [row.name for row in summary.by_manager] == ["Anna", "Boris", "Sveta"]
    assert (_manager(summary, ANNA).taken, _manager(summary, ANNA).junk) == (1, 0)
    assert (_manager(summary, BORIS).taken, _manager(summary, BORIS).junk) == (1, 0)
    assert _manager(summary, BORIS).take_p50_s == 300.0
    assert (_manager(summary, 1003).taken, _manager(summary, 1003).junk) == (0, 1)


async def test_after_hours_arrivals_and_their_wait(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Of the week's leads two came while the team was not working: #1 at 00:00 Monday, taken
    at 09:10 (9 h 10 min), and #6 at 23:59:59 Tuesday, never taken."""
    after = (await _summary(sessions, config)).after_hours
    assert (after.arrived, after.taken) == (2, 1)
    assert after.take_p50_s == after.take_p90_s == 33000.0


async def test_client_messages_waiting_for_an_answer(
    sessions: SessionFactory, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Kate writes at 10:00 Monday, Anna takes it; Kate writes at 10:01, answered 10:06 (5 min,
    within the 10-minute limit); at 11:00, answered 11:30 (30 min, late); at 12:00 and 12:05
    (one wait), never answered. Her first message opened the lead: not a wait (nobody owned
    it; its "not taken" limit watched it)."""
    anna = staff["anna"]
    kate = 7001

    async def wrote(moment: datetime) -> int:
        async with sessions() as session:
            result = await client_wrote(session, kate, "Kate", "Hi?", moment, config, None)
        return result.lead_id

    async def answered(lead_id: int, moment: datetime) -> None:
        async with sessions() as session:
            await queue_reply(session, lead_id, anna, kate, "Yes", moment, locale="en")
            row = await session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.kind == OutboxKind.CLIENT_ANSWER)
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
            assert row is not None
            await reply_delivered(session, row, moment, config)
            await session.commit()

    lead_id = await wrote(at(5, 7))
    async with sessions() as session:
        assert (await take_lead(session, lead_id, anna, at(5, 7, 0, 30), config)).ok
    await wrote(at(5, 7, 1))
    await answered(lead_id, at(5, 7, 6))
    await wrote(at(5, 8))
    await answered(lead_id, at(5, 8, 30))
    await wrote(at(5, 9))
    await wrote(at(5, 9, 5))
    messages = (await _summary(sessions, config)).client_messages
    assert (messages.count, messages.answered, messages.answered_within_limit) == (3, 2, 1)
    assert messages.answer_p50_s == 1050.0  # 5 and 30 minutes
    boris = await _summary(sessions, config, manager_telegram_id=BORIS)
    assert boris.client_messages.count == 0


async def test_filters_by_source_and_by_manager(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """source=tilda keeps #2 and #6 (and no calls: the caller's lead came by phone);
    manager=Boris keeps the leads he took first (#2, now Anna's, and #4); manager=Anna those
    she took first or owns now (#1, #2, #3, #7: not #5, junked without taking it); an
    unknown Telegram id keeps nothing."""
    tilda = await _summary(sessions, config, source="tilda")
    assert (tilda.funnel.received, tilda.funnel.converted, tilda.funnel.open) == (2, 1, 1)
    assert [row.source for row in tilda.by_source] == ["tilda"]
    assert (_manager(tilda, ANNA).converted, _manager(tilda, BORIS).taken) == (1, 1)
    assert tilda.missed_calls.count == 0 and tilda.junk_reasons == {}

    boris = await _summary(sessions, config, manager_telegram_id=BORIS)
    assert (boris.funnel.received, boris.funnel.converted, boris.funnel.junk) == (2, 1, 1)
    assert boris.funnel.amount == Decimal("1000.00")
    assert boris.unmet_demand == {"подогрев бассейна": 1}
    assert _manager(boris, ANNA).amount == Decimal("1000.00")

    anna = await _summary(sessions, config, manager_telegram_id=ANNA)
    assert (anna.funnel.received, anna.funnel.converted, anna.funnel.refused) == (4, 2, 1)
    assert anna.junk_reasons == {"no_service": 1}

    nobody = await _summary(sessions, config, manager_telegram_id=999)
    assert nobody.funnel.received == 0 and nobody.by_source == []


async def test_one_local_day_and_an_empty_period(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """Tuesday alone holds #7 and #6 (23:59:59 local); a December week holds nothing, yet
    lists every active manager, with zeros, and 24 + 7 empty arrival slots."""
    tuesday = await _summary(sessions, config, (date(2026, 1, 6), date(2026, 1, 6)))
    assert tuesday.funnel.received == 2
    assert tuesday.arrivals.by_weekday == [0, 2, 0, 0, 0, 0, 0]
    assert tuesday.missed_calls.count == 1  # the 12:00 call, never returned

    empty = await _summary(sessions, config, (date(2025, 12, 1), date(2025, 12, 7)))
    answer = summary_json(empty)
    assert answer["period"] == {
        "from": "2025-12-01",
        "to": "2025-12-07",
        "timezone": "Europe/Moscow",
    }
    assert answer["funnel"] == {
        "received": 0,
        "taken": 0,
        "contacted": 0,
        "qualified": 0,
        "converted": 0,
        "refused": 0,
        "junk": 0,
        "open": 0,
        "amount": "0.00",
        "convert_p50_s": None,  # no deal: nothing to measure
    }
    assert answer["by_source"] == [] and answer["repeat"] == {"new": 0, "repeat": 0}
    assert [row["name"] for row in answer["by_manager"]] == ["Anna", "Boris", "Dina"]
    assert answer["by_manager"][0]["take_p50_s"] is None
    assert answer["missed_calls"] == {
        "count": 0,
        "called_back": 0,
        "called_back_within_limit": 0,
        "callback_p50_s": None,
    }
    assert answer["arrivals"] == {"by_hour": [0] * 24, "by_weekday": [0] * 7}


async def test_json_amounts_are_two_place_strings(
    sessions: SessionFactory, config: AppConfig, history: dict[str, int]
) -> None:
    """The API's form: amounts "55700.50", whole seconds as integers, spend null."""
    answer = summary_json(await _summary(sessions, config))
    assert answer["funnel"]["amount"] == "55700.50"
    assert answer["by_source"][1] == {
        "source": "tilda",
        "received": 2,
        "taken": 1,
        "converted": 1,
        "refused": 0,
        "junk": 0,
        "amount": "1000.00",
        "spend": None,
        "cost_per_lead": None,
        "cost_per_deal": None,
    }
    anna = answer["by_manager"][0]
    assert (anna["amount"], anna["take_p50_s"], anna["first_contact_p50_s"]) == (
        "55700.50",
        30,
        18900,
    )
    assert answer["unmet_demand"] == {"подогрев бассейна": 2}


def test_percentiles_interpolate_and_working_time_skips_the_night(config: AppConfig) -> None:
    """p50 of 1, 2, 3, 4 is 2.5; p90 of 10, 20 is 19; a lead of Friday 18:50 taken on Monday
    09:05 waited 15 minutes of working time."""
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([10, 20], 0.9) == 19.0
    assert percentile([], 0.5) is None
    friday = datetime(2026, 1, 9, 15, 50, tzinfo=UTC)  # 18:50 Moscow
    monday = datetime(2026, 1, 12, 6, 5, tzinfo=UTC)  # 09:05 Moscow
    waited = working_time_between(friday, monday, config.working_hours, config.zone)
    assert waited.total_seconds() == 15 * 60


async def test_the_call_lead_exists(sessions: SessionFactory, history: dict[str, int]) -> None:
    """The missed call opened a lead of source "call", reached at 14:10 (the call-back)."""
    async with sessions() as session:
        lead = await session.scalar(select(Lead).where(Lead.source == "call"))
    assert lead is not None and lead.contacted_at == at(5, 11, 10)
