"""Each lead carries its milestones as reports credit them (first owner and take, the take's
wait in working hours, the last closer, the first qualification), kept by the transitions, filled
from the history by migration 0010 for the leads before it, and the working-time wait by the
app's start. Moscow (UTC+3), Monday to Friday 09:00-19:00; 05.01.2026 is a Monday."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, reopen_lead, take_lead
from bot.leads.merge import merge_leads
from bot.leads.milestones import fill_work_waits
from bot.leads.qualify import convert_lead, qualify_lead
from bot.leads.reassign import reassign_lead
from bot.sla.stale import close_stale_leads
from storage.db import SessionFactory
from storage.migrate import downgrade, upgrade
from storage.models import Lead, LeadEvent, LeadStatus, Staff, UTCDateTime

DEAL = {"name": "Ivan", "service": "tour", "amount": Decimal("1000")}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC moment in January 2026 (Moscow is three hours ahead)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


async def _lead(sessions: SessionFactory, moment: datetime, phone: str) -> int:
    async with sessions() as session:
        [result] = await intake_leads(session, [LeadInput(source="web_form", phone=phone)], moment)
    return result.lead_id


async def _read(sessions: SessionFactory, lead_id: int) -> Lead:
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def test_the_first_take_stays_the_last_close_counts(
    sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig
) -> None:
    """Boris takes at Monday 08:30 local (arrived Sunday 22:00: 0 s of working time waited),
    Sveta gives it to Anna, Anna refuses, Sveta reopens, Anna converts: Boris keeps the take,
    Anna the close; a qualification by converting is dated once."""
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    lead_id = await _lead(sessions, at(4, 19), "+79000000001")
    async with sessions() as session:
        assert (await take_lead(session, lead_id, boris, at(5, 5, 30), config)).ok
        version = (await _read(sessions, lead_id)).version
        assert (await reassign_lead(session, lead_id, sveta, anna.id, version, at(5, 7))).ok
        refused = await close_lead(
            session, lead_id, anna, Action.REFUSE, "price", None, at(5, 8), config
        )
        assert refused.ok
    lead = await _read(sessions, lead_id)
    assert (lead.first_owner_id, lead.first_taken_at) == (boris.id, at(5, 5, 30))
    assert lead.first_take_work_s == 0.0  # before the 09:00 opening
    assert lead.closed_by_id == anna.id and lead.qualified_at is None
    async with sessions() as session:
        assert (await reopen_lead(session, lead_id, sveta, at(5, 9), config)).ok
        assert (await convert_lead(session, lead_id, anna, DEAL, at(5, 10), config)).ok
    lead = await _read(sessions, lead_id)
    assert (lead.first_owner_id, lead.closed_by_id, lead.qualified_at) == (
        boris.id,
        anna.id,
        at(5, 10),
    )


async def test_a_reassign_of_an_untaken_lead_is_its_first_take(
    sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig
) -> None:
    """Arrived Monday 10:00 local, given to Anna at 10:20: 20 minutes, all of them working."""
    anna, sveta = staff["anna"], staff["sveta"]
    lead_id = await _lead(sessions, at(5, 7), "+79000000002")
    version = (await _read(sessions, lead_id)).version
    async with sessions() as session:
        assert (
            await reassign_lead(session, lead_id, sveta, anna.id, version, at(5, 7, 20), config)
        ).ok
        assert (await qualify_lead(session, lead_id, anna, {"service": "x"}, at(5, 8))).ok
        assert (await qualify_lead(session, lead_id, anna, {"service": "y"}, at(5, 9))).ok
    lead = await _read(sessions, lead_id)
    assert (lead.first_owner_id, lead.first_taken_at) == (anna.id, at(5, 7, 20))
    assert lead.first_take_work_s == 1200.0
    assert lead.qualified_at == at(5, 8)  # the first qualification, not the last


async def test_the_system_closes_as_nobody_a_merge_as_the_supervisor(
    sessions: SessionFactory, staff: dict[str, Staff], config: AppConfig
) -> None:
    """A lead left new for the auto-close is closed by nobody; a duplicate merged away is
    closed by the supervisor who merged it, and the survivor keeps its own take."""
    anna, sveta = staff["anna"], staff["sveta"]
    stale = await _lead(sessions, at(5, 7), "+79000000003")
    async with sessions() as session:
        assert await close_stale_leads(session, at(20, 7), config) == [stale]
    assert (await _read(sessions, stale)).closed_by_id is None
    first = await _lead(sessions, at(21, 7), "+79000000004")
    second = await _lead(sessions, at(21, 8), "+79000000005")
    async with sessions() as session:
        assert (await take_lead(session, first, anna, at(21, 7, 5), config)).ok
        assert (await take_lead(session, second, staff["boris"], at(21, 8, 5), config)).ok
        await session.execute(
            update(Lead).where(Lead.id == second).values(possible_duplicate_of_id=first)
        )
        await session.commit()
        assert (await merge_leads(session, second, first, sveta, at(21, 9))).ok
    merged, survivor = await _read(sessions, second), await _read(sessions, first)
    assert (merged.status, merged.close_reason, merged.closed_by_id) == (
        LeadStatus.JUNK,
        "duplicate",
        sveta.id,
    )
    assert (survivor.first_owner_id, survivor.first_taken_at) == (anna.id, at(21, 7, 5))


async def test_migration_0010_fills_the_milestones_from_the_history(
    engine: AsyncEngine, sessions: SessionFactory, config: AppConfig
) -> None:
    """Leads written before 0010 (as 0009's schema, their events only) get their first owner
    from their first take or reassign, their closer from their last closing event (nobody for
    a stale close), their qualification from the first qualified/convert event; the working-time
    wait is left to the app's start, which fills it."""
    await downgrade(engine, "0009")
    staff_t = sa.table(
        "staff",
        *(sa.column(c) for c in ("id", "telegram_id", "name", "role", "is_active", "on_duty")),
        sa.column("skills", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    leads_t = sa.table(
        "leads",
        *(sa.column(c) for c in ("id", "source", "status", "owner_id", "is_repeat")),
        *(sa.column(c) for c in ("version", "alert_level")),
        *(sa.column(c, sa.JSON) for c in ("utm", "extra")),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at", "taken_at")),
    )
    events_t = LeadEvent.__table__
    moment = {n: at(5, 7 + n) for n in range(6)}
    async with engine.begin() as connection:
        await connection.execute(
            insert(staff_t),
            [
                {
                    "id": n,
                    "telegram_id": 100 + n,
                    "name": f"P{n}",
                    "role": "manager",
                    "is_active": True,
                    "on_duty": True,
                    "skills": [],
                    "created_at": moment[0],
                }
                for n in (1, 2, 3)
            ],
        )
        common = {
            "source": "web_form",
            "utm": {},
            "extra": {},
            "is_repeat": False,
            "version": 1,
            "alert_level": 0,
            "created_at": moment[0],
            "updated_at": moment[0],
        }
        await connection.execute(
            insert(leads_t),
            [
                # taken by 1, given to 2, converted by 2
                common | {"id": 1, "status": "converted", "owner_id": 2, "taken_at": moment[1]},
                # given out untaken to 3, closed as stale later
                common | {"id": 2, "status": "junk", "owner_id": 3, "taken_at": moment[2]},
                # nobody took it
                common | {"id": 3, "status": "new", "owner_id": None, "taken_at": None},
            ],
        )
        events = [
            (1, "taken", 1, {}, 1),
            (1, "reassigned", 3, {"from": 1, "to": 2}, 2),
            (1, "qualified", 2, {}, 3),
            (1, "convert", 2, {}, 4),
            (2, "reassigned", 3, {"from": None, "to": 3}, 2),
            (2, "junk", 3, {}, 3),
            (2, "closed", None, {"reason": "stale"}, 4),
        ]
        await connection.execute(
            insert(events_t),
            [
                {
                    "lead_id": lead,
                    "kind": kind,
                    "actor_id": actor,
                    "data": data,
                    "created_at": moment[hour],
                }
                for lead, kind, actor, data, hour in events
            ],
        )
    await upgrade(engine)
    got = {lead.id: lead for lead in [await _read(sessions, n) for n in (1, 2, 3)]}
    assert (got[1].first_owner_id, got[1].first_taken_at, got[1].closed_by_id) == (1, at(5, 8), 2)
    assert got[1].qualified_at == at(5, 10)
    assert (got[2].first_owner_id, got[2].first_taken_at, got[2].closed_by_id) == (
        3,
        at(5, 9),
        None,
    )
    assert got[2].qualified_at is None
    assert (got[3].first_owner_id, got[3].closed_by_id) == (None, None)
    assert all(lead.first_take_work_s is None for lead in got.values())
    async with sessions() as session:
        assert await fill_work_waits(session, config) == 2
        assert await fill_work_waits(session, config) == 0  # once
    # arrived Monday 10:00 local; taken 11:00 and 12:00: one and two working hours
    assert (await _read(sessions, 1)).first_take_work_s == 3600.0
    assert (await _read(sessions, 2)).first_take_work_s == 7200.0
