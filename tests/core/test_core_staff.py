"""Invites, deactivation, duty and the team's figures on the database, without Telegram (SQLite,
and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import ColumnElement, func, select, update

from bot.common.clock import ManualClock
from bot.config import load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import take_lead
from bot.team.invites import TOKEN_SHAPE, InviteRefusal, JoinResult, accept_invite, create_invite
from bot.team.overview import local_midnight, team_overview
from bot.team.staff import (
    StaffRefusal,
    add_staff,
    deactivate_staff,
    remove_staff,
    set_capacity,
    set_duty,
    set_role,
    set_skills,
)
from storage.db import SessionFactory
from storage.models import (
    Invite,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    Role,
    Staff,
    Task,
)

TTL = timedelta(hours=48)
ZONE = load_app_config().zone
ALEX = 1004
M = TypeVar("M")


@pytest.fixture
async def admin(sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]) -> Staff:
    async with sessions() as session:
        return await add_staff(session, ALEX, Role.ADMIN, "Alex", clock.now())


async def _invite(
    sessions: SessionFactory, admin: Staff, clock: ManualClock, role: Role = Role.MANAGER
) -> str:
    async with sessions() as session:
        return (await create_invite(session, admin, role, clock.now(), TTL)).token


async def _accept(
    sessions: SessionFactory, token: str, telegram_id: int, clock: ManualClock, name: str = "Dana"
) -> JoinResult:
    async with sessions() as session:
        return await accept_invite(session, token, telegram_id, name, "ru-RU", clock.now())


async def _rows(sessions: SessionFactory, model: type[M], *where: ColumnElement[bool]) -> list[M]:
    async with sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def _lead(sessions: SessionFactory, clock: ManualClock, phone: str) -> int:
    async with sessions() as session:
        [result] = await intake_leads(
            session, [LeadInput(source="web_form", phone=phone)], clock.now()
        )
    return result.lead_id


async def test_two_people_opening_one_link_at_once_make_exactly_one_staff_member(
    sessions: SessionFactory, clock: ManualClock, admin: Staff
) -> None:
    token = await _invite(sessions, admin, clock)
    results = await asyncio.gather(
        *(_accept(sessions, token, 6000 + n, clock, f"P{n}") for n in range(2))
    )
    assert sorted(r.refusal or "" for r in results) == ["", InviteRefusal.USED]
    winner = next(r.staff for r in results if r.ok)
    assert winner is not None and winner.role == Role.MANAGER and winner.language == "ru"
    newcomers = await _rows(sessions, Staff, Staff.telegram_id >= 6000)
    assert [s.telegram_id for s in newcomers] == [winner.telegram_id]
    [invite] = await _rows(sessions, Invite)
    assert (invite.used_by_id, invite.used_at) == (winner.id, clock.now())
    [told] = await _rows(sessions, OutboxMessage, OutboxMessage.kind == OutboxKind.TEXT)
    assert (told.chat_id, told.payload["template"]) == (ALEX, "invite_used")
    assert told.payload["context"] == {"person": winner.name, "role": "manager"}


async def test_one_person_opening_the_link_twice_at_once_joins_once(
    sessions: SessionFactory, clock: ManualClock, admin: Staff
) -> None:
    token = await _invite(sessions, admin, clock)
    results = await asyncio.gather(*(_accept(sessions, token, 6000, clock) for _ in range(2)))
    assert all(r.ok for r in results)
    assert sorted(r.joined for r in results) == [False, True]
    assert len(await _rows(sessions, Staff, Staff.telegram_id == 6000)) == 1


async def test_unknown_expired_used_and_already_staff_links_are_refused(
    sessions: SessionFactory, clock: ManualClock, admin: Staff
) -> None:
    token = await _invite(sessions, admin, clock, Role.SUPERVISOR)
    assert TOKEN_SHAPE.match(token) and len(token) <= 64
    assert (await _accept(sessions, "x" * 32, 6000, clock)).refusal is InviteRefusal.UNKNOWN
    # Anna is staff already: the link does not change her role and stays usable
    anna = await _accept(sessions, token, 1001, clock)
    assert anna.refusal is InviteRefusal.ALREADY_STAFF and anna.staff is not None
    assert anna.staff.role == Role.MANAGER
    joined = await _accept(sessions, token, 6000, clock)
    assert joined.ok and joined.staff is not None and joined.staff.role == Role.SUPERVISOR
    assert (await _accept(sessions, token, 6001, clock)).refusal is InviteRefusal.USED
    again = await _accept(sessions, token, 6000, clock)  # the link opened again by its user
    assert again.ok and not again.joined

    late = await _invite(sessions, admin, clock)
    clock.advance(TTL)
    assert (await _accept(sessions, late, 6001, clock)).refusal is InviteRefusal.EXPIRED
    assert await _rows(sessions, Staff, Staff.telegram_id == 6001) == []


async def test_a_deactivated_person_comes_back_by_a_new_link_with_its_role(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        await set_skills(session, staff["boris"].id, ["vip"], admin, clock.now())
        assert (await deactivate_staff(session, staff["boris"].id, admin, clock.now())).ok
    token = await _invite(sessions, admin, clock, Role.SUPERVISOR)
    back = await _accept(sessions, token, 1002, clock, "Boris B.")
    assert back.ok and back.staff is not None
    assert (back.staff.id, back.staff.role, back.staff.is_active, back.staff.on_duty) == (
        staff["boris"].id,
        Role.SUPERVISOR,
        True,
        True,
    )
    assert (back.staff.name, back.staff.skills) == ("Boris B.", ["vip"])


async def test_only_an_active_admin_invites_and_only_managers_or_supervisors(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        with pytest.raises(PermissionError):
            await create_invite(session, staff["sveta"], Role.MANAGER, clock.now(), TTL)
        with pytest.raises(ValueError):
            await create_invite(session, admin, Role.ADMIN, clock.now(), TTL)
    assert await _rows(sessions, Invite) == []


async def test_deactivation_returns_open_leads_to_the_pool_in_one_go(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    anna, boris = staff["anna"], staff["boris"]
    ids = [await _lead(sessions, clock, f"+7900123456{n}") for n in range(3)]
    async with sessions() as session:
        for lead_id in ids[:2]:
            assert (await take_lead(session, lead_id, anna, clock.now())).ok
        session.add(
            Task(
                lead_id=ids[1],
                kind="callback",
                assignee_id=anna.id,
                due_at=clock.now() + TTL,
                created_at=clock.now(),
            )
        )
        await session.commit()
    clock.advance(timedelta(minutes=5))
    async with sessions() as session:
        result = await deactivate_staff(session, anna.id, admin, clock.now(), -100123)
    assert result.ok and result.returned == tuple(ids[:2])
    async with sessions() as session:
        gone = await session.get(Staff, anna.id)
        leads = [await session.get(Lead, lead_id) for lead_id in ids]
    assert gone is not None and not gone.is_active and not gone.on_duty
    assert [(lead.status, lead.owner_id) for lead in leads if lead] == [(LeadStatus.NEW, None)] * 3
    events = await _rows(sessions, LeadEvent, LeadEvent.kind == "returned_to_pool")
    assert sorted(e.lead_id for e in events) == ids[:2]
    assert {(e.actor_id, e.data["from"]) for e in events} == {(admin.id, anna.id)}
    assert await _rows(sessions, Task, Task.done_at.is_(None)) == []
    rows = await _rows(sessions, OutboxMessage, OutboxMessage.created_at == clock.now())
    assert sorted((r.kind, r.lead_id, r.chat_id) for r in rows if r.kind != OutboxKind.TEXT) == [
        (OutboxKind.CARD, ids[0], -100123),
        (OutboxKind.CARD, ids[1], -100123),
        (OutboxKind.CARD_REFRESH, ids[0], None),
        (OutboxKind.CARD_REFRESH, ids[1], None),
    ]
    [told] = [r for r in rows if r.kind == OutboxKind.TEXT]
    assert (told.chat_id, told.payload["template"]) == (anna.telegram_id, "staff_deactivated")
    assert told.payload["context"] == {"by": "Alex", "lead_ids": ids[:2]}

    async with sessions() as session:  # a second admin confirming late changes nothing
        late = await deactivate_staff(session, anna.id, admin, clock.now())
        assert late.refusal is StaffRefusal.NOT_FOUND
        assert (await take_lead(session, ids[0], boris, clock.now())).ok


async def test_without_a_team_chat_the_pool_is_the_managers_on_duty(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    lead_id = await _lead(sessions, clock, "+79001234567")
    async with sessions() as session:
        await take_lead(session, lead_id, staff["anna"], clock.now())
        await set_duty(session, staff["boris"], False, clock.now())
        await add_staff(session, 1005, Role.MANAGER, "Carl", clock.now())
        clock.advance(timedelta(minutes=1))
        await deactivate_staff(session, staff["anna"].id, admin, clock.now())
    cards = await _rows(
        sessions,
        OutboxMessage,
        OutboxMessage.kind == OutboxKind.CARD,
        OutboxMessage.created_at == clock.now(),
    )
    assert [card.chat_id for card in cards] == [1005]  # Carl; Boris is off duty, Anna is gone


async def test_admins_cannot_remove_themselves_and_others_cannot_act_as_admins(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    now = clock.now()
    async with sessions() as session:
        assert (await deactivate_staff(session, admin.id, admin, now)).refusal is StaffRefusal.SELF
        assert (await set_role(session, admin.id, Role.MANAGER, admin, now)).refusal is (
            StaffRefusal.SELF
        )
        same = await set_role(session, admin.id, Role.ADMIN, admin, now)
        assert same.ok and not same.changed
        sveta = staff["sveta"]
        for attempt in (
            deactivate_staff(session, staff["anna"].id, sveta, now),
            set_role(session, staff["anna"].id, Role.ADMIN, sveta, now),
            set_capacity(session, staff["anna"].id, 3, sveta, now),
        ):
            assert (await attempt).refusal is StaffRefusal.NOT_ADMIN
        assert (await set_role(session, 999, Role.ADMIN, admin, now)).refusal is (
            StaffRefusal.NOT_FOUND
        )
        promoted = await set_role(session, sveta.id, Role.ADMIN, admin, now)
        assert promoted.ok and promoted.changed
    async with sessions() as session:
        count = await session.scalar(select(func.count()).where(Staff.role == Role.ADMIN))
    assert count == 2


async def test_team_counts_open_leads_and_leads_taken_since_local_midnight(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    anna, boris = staff["anna"], staff["boris"]
    # 05.01 09:00 UTC is 12:00 in Moscow; Boris takes one today, Anna one "yesterday"
    clock.set(clock.now() - timedelta(hours=13))  # 04.01 23:00 Moscow
    first = await _lead(sessions, clock, "+79001230001")
    async with sessions() as session:
        await take_lead(session, first, anna, clock.now())
    clock.advance(timedelta(hours=13))
    for phone in ("+79001230002", "+79001230003"):
        lead_id = await _lead(sessions, clock, phone)
        async with sessions() as session:
            await take_lead(session, lead_id, boris if phone.endswith("2") else anna, clock.now())
    async with sessions() as session:
        await set_capacity(session, anna.id, 2, admin, clock.now())
        await set_skills(session, anna.id, ["senior"], admin, clock.now())
        await set_duty(session, boris, False, clock.now())
        team = await team_overview(session, clock.now(), ZONE)
    assert [
        (m.name, m.on_duty, m.open_leads, m.capacity, m.full, m.taken_today, m.skills) for m in team
    ] == [
        ("Anna", True, 2, 2, True, 1, ("senior",)),
        ("Boris", False, 1, None, False, 1, ()),
    ]
    assert local_midnight(clock.now(), ZONE).isoformat() == "2026-01-04T21:00:00+00:00"


async def test_a_new_lead_offered_to_the_deactivated_person_is_open_to_everyone_again(
    sessions: SessionFactory, clock: ManualClock, admin: Staff, staff: dict[str, Staff]
) -> None:
    lead_id = await _lead(sessions, clock, "+79001234567")
    async with sessions() as session:
        await session.execute(
            update(Lead)
            .where(Lead.id == lead_id)
            .values(offered_to_id=staff["anna"].id, offered_at=clock.now())
        )
        await session.commit()
        result = await deactivate_staff(session, staff["anna"].id, admin, clock.now())
    assert result.ok and result.returned == ()  # not hers yet: her message lists none
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and (lead.status, lead.offered_to_id) == (LeadStatus.NEW, None)
        assert (await take_lead(session, lead_id, staff["boris"], clock.now())).ok
    [event] = await _rows(sessions, LeadEvent, LeadEvent.kind == "returned_to_pool")
    assert event.lead_id == lead_id


async def test_staff_remove_from_the_command_line_returns_open_leads_like_deactivation(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    lead_id = await _lead(sessions, clock, "+79005550001")
    async with sessions() as session:
        assert (await take_lead(session, lead_id, staff["anna"], clock.now())).ok
    async with sessions() as session:
        removed = await remove_staff(session, staff["anna"].telegram_id, clock.now())
        again = await remove_staff(session, staff["anna"].telegram_id, clock.now())
    assert removed is not None and not removed.is_active and again is not None
    [lead] = await _rows(sessions, Lead, Lead.id == lead_id)
    assert (lead.status, lead.owner_id) == (LeadStatus.NEW, None)
    returned = await _rows(sessions, LeadEvent, LeadEvent.kind == "returned_to_pool")
    assert [(e.lead_id, e.actor_id) for e in returned] == [(lead_id, None)]  # once, by nobody
    told = await _rows(
        sessions,
        OutboxMessage,
        OutboxMessage.chat_id == staff["anna"].telegram_id,
        OutboxMessage.kind == OutboxKind.TEXT,
    )
    assert [row.payload["template"] for row in told] == ["staff_deactivated"]
    boris_cards = await _rows(
        sessions,
        OutboxMessage,
        OutboxMessage.staff_id == staff["boris"].id,
        OutboxMessage.kind == OutboxKind.CARD,
    )
    # the intake's card and the pool's: the notifier sends the second only to a chat that has
    # no copy yet (Boris's first card is redrawn in place by the refresh)
    assert len(boris_cards) == 2
