"""What each change announces to other systems: the events, in the order they happened, with
what they carry, written in the change's own transaction (nothing for a change refused or
rolled back, nothing at all when no webhook listens)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.common.deliveries import scrub_deliveries
from bot.common.lifecycle import Action
from bot.config import AppConfig, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import apply_action, close_lead, reopen_lead, take_lead
from bot.leads.call_backs import finish_call_back, schedule_call_back
from bot.leads.merge import merge_leads
from bot.leads.qualify import convert_lead
from bot.leads.reassign import reassign_lead
from bot.sla.stale import close_stale_leads
from bot.team.staff import deactivate_staff
from bot.telephony.calls import parse_call_event, record_call
from handlers.web.schemas.webhooks import WebhookEnvelope
from storage.db import SessionFactory
from storage.models import HookDelivery, Lead, LeadStatus, OutboxState, Role, Staff

HOOKS: dict[str, Any] = {
    "webhooks": [
        {"name": "crm", "url": "http://127.0.0.1:9/a", "events": ["*"], "secret_env": "A"},
        {
            "name": "sales",
            "url": "http://127.0.0.1:9/b",
            "events": ["lead.converted", "lead.closed"],
            "secret_env": "B",
        },
    ],
    "crm": {"bitrix24": {}},
}


@pytest.fixture
def hooked() -> AppConfig:
    return load_app_config(overrides=HOOKS)


async def _rows(sessions: SessionFactory, target: str = "crm") -> list[HookDelivery]:
    async with sessions() as session:
        found = await session.scalars(
            select(HookDelivery).where(HookDelivery.target == target).order_by(HookDelivery.id)
        )
        rows = list(found.all())
    for row in rows:  # every body is what the OpenAPI document's `webhooks` says
        WebhookEnvelope.model_validate(row.payload)
    return rows


def _events(rows: list[HookDelivery]) -> list[str]:
    return [row.event for row in rows]


async def _new_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, **fields: Any
) -> int:
    item = LeadInput(source=fields.pop("source", "tilda"), **fields)
    async with sessions() as session:
        [result] = await intake_leads(session, [item], clock.now(), config=config)
    return result.lead_id


async def test_a_deal_from_arrival_to_its_close_announces_each_change_in_order(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], hooked: AppConfig
) -> None:
    anna, sveta = staff["anna"], staff["sveta"]
    lead_id = await _new_lead(
        sessions, clock, hooked, name="Ivan Petrov", phone="+79001234567", service="Tour"
    )
    steps = [
        lambda s: take_lead(s, lead_id, anna, clock.now(), hooked),
        lambda s: schedule_call_back(
            s, lead_id, anna, clock.now() + timedelta(hours=2), clock.now(), hooked
        ),
        lambda s: finish_call_back(s, lead_id, anna, clock.now(), hooked),
        lambda s: convert_lead(s, lead_id, anna, {"amount": Decimal("15000")}, clock.now(), hooked),
        lambda s: reopen_lead(s, lead_id, sveta, clock.now(), hooked),
        lambda s: close_lead(
            s, lead_id, sveta, Action.JUNK, "spam", "<b>bot</b>", clock.now(), hooked
        ),
    ]
    for step in steps:
        clock.advance(timedelta(minutes=5))
        async with sessions() as session:
            assert (await step(session)).ok

    crm = await _rows(sessions)
    assert _events(crm) == [
        "lead.created",
        "lead.taken",
        "lead.status_changed",
        "lead.call_back_scheduled",
        "lead.status_changed",
        "lead.status_changed",
        "lead.converted",
        "lead.status_changed",
        "lead.reopened",
        "lead.status_changed",
        "lead.closed",
        "lead.status_changed",
    ]
    moves = [
        (r.payload["data"]["from"], r.payload["data"]["to"])
        for r in crm
        if r.event == "lead.status_changed"
    ]
    assert moves == [
        ("new", "in_work"),
        ("in_work", "callback"),
        ("callback", "in_work"),
        ("in_work", "converted"),
        ("converted", "in_work"),
        ("in_work", "junk"),
    ]
    created, taken = crm[0].payload, crm[1].payload
    assert created["lead"]["status"] == "new" and created["lead"]["owner"] is None
    assert created["lead"]["name"] == "Ivan Petrov" and created["actor"] is None
    assert taken["actor"] == {"telegram_id": 1001, "name": "Anna"}
    assert taken["lead"]["owner"] == {"telegram_id": 1001, "name": "Anna"}
    assert taken["lead"]["status"] == "in_work"
    assert taken["occurred_at"] == "2026-01-05T09:05:00+00:00"  # five minutes after it came
    converted = next(r for r in crm if r.event == "lead.converted").payload
    assert converted["data"] == {"fields": {"amount": "15000"}, "amount": "15000.00"}
    assert converted["lead"]["amount"] == "15000.00" and converted["lead"]["status"] == "converted"
    closed = crm[10].payload
    assert closed["data"] == {"status": "junk", "reason": "spam", "comment": "<b>bot</b>"}
    assert closed["actor"]["name"] == "Sveta"
    # each event has its own id; a body's id is its row's, the Idempotency-Key
    assert len({r.event_id for r in crm}) == len(crm)
    assert all(r.payload["id"] == r.event_id for r in crm)

    # the narrower webhook and the Bitrix24 hand-off get only what they asked for, with the
    # same event ids as everybody
    sales, bitrix24 = await _rows(sessions, "sales"), await _rows(sessions, "bitrix24")
    assert _events(sales) == ["lead.converted", "lead.closed"]
    assert _events(bitrix24) == ["lead.converted"]
    converted_id = next(r.event_id for r in crm if r.event == "lead.converted")
    assert sales[0].event_id == bitrix24[0].event_id == converted_id
    assert all(r.give_up_at == r.created_at + timedelta(hours=24) for r in crm)


async def test_a_refused_or_rolled_back_change_announces_nothing(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], hooked: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock, hooked, phone="+79001234567")
    async with sessions() as session:
        assert (await take_lead(session, lead_id, staff["anna"], clock.now(), hooked)).ok
    before = len(await _rows(sessions))
    async with sessions() as session:  # too late: Anna has it
        assert not (await take_lead(session, lead_id, staff["boris"], clock.now(), hooked)).ok

    async def breaks(lead: Lead) -> None:
        raise RuntimeError("the change fails half-way")

    with pytest.raises(RuntimeError):
        async with sessions() as session:
            await apply_action(
                session,
                lead_id,
                staff["anna"],
                Action.CONVERT,
                clock.now(),
                then=breaks,
                config=hooked,
            )
    assert len(await _rows(sessions)) == before
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None and lead.status == LeadStatus.IN_WORK


async def test_with_no_webhook_configured_no_change_writes_a_row(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock, config, phone="+79001234567")
    async with sessions() as session:
        assert (await take_lead(session, lead_id, staff["anna"], clock.now(), config)).ok
    async with sessions() as session:
        assert list(await session.scalars(select(HookDelivery))) == []


async def test_a_client_writing_again_and_a_missed_call_are_announced_after_the_lead(
    sessions: SessionFactory, clock: ManualClock, hooked: AppConfig
) -> None:
    lead_id = await _new_lead(sessions, clock, hooked, phone="+79001234567", message="hi")
    again = await _new_lead(sessions, clock, hooked, phone="+79001234567", message="<b>?</b>")
    assert again == lead_id
    call = parse_call_event(
        {
            "call_id": "c-1",
            "direction": "in",
            "status": "missed",
            "from": "+79005550011",
            "to": "+74950000000",
            "started_at": "2026-01-05T08:59:00Z",
        },
        "RU",
    )
    async with sessions() as session:
        result = await record_call(session, call, clock.now(), hooked)
    crm = await _rows(sessions)
    assert _events(crm) == ["lead.created", "message.received", "lead.created", "call.missed"]
    assert crm[1].payload["data"]["message"] == "<b>?</b>"
    assert crm[1].payload["lead"]["id"] == lead_id
    missed = crm[3].payload
    assert missed["lead"]["id"] == result.lead_id == crm[2].lead_id
    assert missed["lead"]["source"] == "call"
    assert missed["data"]["phone"] == "+79005550011" and missed["data"]["count"] == 1
    assert missed["data"]["started_at"] == "2026-01-05T08:59:00+00:00"


async def test_reassigning_returning_to_the_pool_merging_and_closing_as_stale(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], hooked: AppConfig
) -> None:
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    first = await _new_lead(sessions, clock, hooked, name="Ann", phone="+79001111111")
    second = await _new_lead(sessions, clock, hooked, name="Ann", phone="+79002222222")
    stale = await _new_lead(sessions, clock, hooked, name="Old", phone="+79003333333")
    async with sessions() as session:
        assert (await take_lead(session, first, anna, clock.now(), hooked)).ok
    async with sessions() as session:
        lead = await session.get(Lead, first)
        assert lead is not None
        given = await reassign_lead(
            session, first, sveta, boris.id, lead.version, clock.now(), hooked
        )
        assert given.ok
    async with sessions() as session:
        admin = Staff(telegram_id=1004, name="Alex", role=Role.ADMIN, created_at=clock.now())
        session.add(admin)
        await session.commit()
        assert (await deactivate_staff(session, boris.id, admin, clock.now(), None, hooked)).ok
    async with sessions() as session:
        assert (await merge_leads(session, second, first, sveta, clock.now(), hooked)).ok
    clock.advance(timedelta(days=8))
    async with sessions() as session:
        assert await close_stale_leads(session, clock.now(), hooked) == [first, stale]

    crm = [r for r in await _rows(sessions) if r.event != "lead.created"]
    said = [(r.lead_id, r.event, r.payload["data"]) for r in crm]
    anna_p, boris_p = {"telegram_id": 1001, "name": "Anna"}, {"telegram_id": 1002, "name": "Boris"}
    assert said == [
        (first, "lead.taken", {}),
        (first, "lead.status_changed", {"from": "new", "to": "in_work"}),
        (first, "lead.reassigned", {"from_owner": anna_p, "to_owner": boris_p}),
        (
            first,
            "lead.reassigned",
            {"from_owner": boris_p, "to_owner": None, "reason": "returned_to_pool"},
        ),
        (first, "lead.status_changed", {"from": "in_work", "to": "new"}),
        (second, "lead.closed", {"status": "junk", "reason": "duplicate", "merged_into": first}),
        (second, "lead.status_changed", {"from": "new", "to": "junk"}),
        (first, "lead.closed", {"status": "junk", "reason": "stale", "comment": None}),
        (first, "lead.status_changed", {"from": "new", "to": "junk"}),
        (stale, "lead.closed", {"status": "junk", "reason": "stale", "comment": None}),
        (stale, "lead.status_changed", {"from": "new", "to": "junk"}),
    ]
    assert crm[3].payload["actor"] == {"telegram_id": 1004, "name": "Alex"}
    assert crm[-1].payload["actor"] is None  # the system closed it
    assert crm[-1].payload["lead"]["close_reason"] == "stale"


async def test_erasing_a_person_leaves_no_trace_in_delivery_rows(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], hooked: AppConfig
) -> None:
    """For `leadbot erase`: what was delivered goes, what waits goes out without the person."""
    lead_id = await _new_lead(
        sessions, clock, hooked, name="Ivan Petrov", phone="+79001234567", message="call me"
    )
    again = await _new_lead(sessions, clock, hooked, phone="+79001234567", message="me again")
    assert again == lead_id
    async with sessions() as session:
        first = await session.scalar(select(HookDelivery).order_by(HookDelivery.id).limit(1))
        assert first is not None
        first.state = OutboxState.SENT
        await session.commit()
    async with sessions() as session:
        assert await scrub_deliveries(session, [lead_id]) == 2
        await session.commit()
    rows = await _rows(sessions)
    assert [row.event for row in rows] == ["message.received"]  # the delivered one is gone
    kept = (await _rows(sessions, "sales")) + rows
    text = str([row.payload for row in kept])
    for trace in ("Ivan", "+7900", "call me", "me again"):
        assert trace not in text
    assert rows[0].payload["lead"]["id"] == lead_id and rows[0].payload["data"] == {}
