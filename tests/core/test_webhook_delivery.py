"""Webhooks delivered to a real HTTP receiver on 127.0.0.1: every event arrives, in order per
lead, signed, with the same Idempotency-Key on every retry; a receiver failing half the time
or restarting still gets everything; after 24 hours of failing an event is given up on and the
admins are told. The clock is moved to each retry (nothing waits for a back-off)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, select

from bot.adapters.webhooks.sender import WebhookSender
from bot.common.clock import ManualClock
from bot.common.deliveries import retry_failed, webhook_backlog
from bot.common.lifecycle import Action
from bot.config import AppConfig, OutboundSecrets, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.call_backs import schedule_call_back
from bot.team.staff import add_staff
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import (
    HookDelivery,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Role,
    Staff,
)
from tests.webhook_stands import SECRET, Receiver, drain, webhooks_delivered


def _config(receiver: Receiver, events: list[str] | None = None) -> AppConfig:
    hook = {"name": "crm", "url": receiver.url, "events": events or ["*"], "secret_env": "S"}
    return load_app_config(overrides={"webhooks": [hook]})


def _sender(sessions: SessionFactory, config: AppConfig, clock: ManualClock) -> WebhookSender:
    return WebhookSender(sessions, config, OutboundSecrets({"crm": SecretStr(SECRET)}), clock)


@pytest.fixture
async def receiver(clock: ManualClock) -> AsyncIterator[Receiver]:
    stand = Receiver(clock)
    await stand.start()
    yield stand
    await stand.stop()


async def _working_day(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff], config: AppConfig
) -> list[int]:
    """Three leads, each with a few changes: 13 events in all."""
    phones = ["+79001110001", "+79001110002", "+79001110003"]
    async with sessions() as session:
        results = await intake_leads(
            session,
            [LeadInput(source="tilda", phone=p) for p in phones],
            clock.now(),
            config=config,
        )
    ids = [r.lead_id for r in results]
    for lead_id, who in zip(ids, ("anna", "boris", "anna"), strict=True):
        clock.advance(timedelta(seconds=20))
        async with sessions() as session:
            assert (await take_lead(session, lead_id, staff[who], clock.now(), config)).ok
    async with sessions() as session:
        later = clock.now() + timedelta(hours=3)
        assert (
            await schedule_call_back(session, ids[0], staff["anna"], later, clock.now(), config)
        ).ok
    async with sessions() as session:
        junked = await close_lead(
            session, ids[1], staff["boris"], Action.JUNK, "spam", None, clock.now(), config
        )
        assert junked.ok
    return ids


async def _rows(sessions: SessionFactory) -> list[HookDelivery]:
    async with sessions() as session:
        return list(await session.scalars(select(HookDelivery).order_by(HookDelivery.id)))


def _check_everything_arrived_once_in_order(receiver: Receiver, rows: list[HookDelivery]) -> None:
    accepted = [r.payload["id"] for r in receiver.accepted]
    assert sorted(accepted) == sorted(row.event_id for row in rows)  # each exactly once
    per_lead: dict[int, list[str]] = defaultdict(list)
    for request in receiver.accepted:
        per_lead[request.payload["lead"]["id"]].append(request.payload["id"])
    for lead_id, arrived in per_lead.items():
        assert arrived == [row.event_id for row in rows if row.lead_id == lead_id]
    assert all(request.signed for request in receiver.requests)
    # a retry carries the same key as the first try, and it is the event's id
    assert all(r.idempotency_key == r.payload["id"] for r in receiver.requests)
    assert all(row.state == OutboxState.SENT for row in rows)


async def test_a_receiver_failing_every_other_request_gets_each_event_within_a_minute(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    receiver: Receiver,
) -> None:
    receiver.fails = lambda n: n % 2 == 1
    config = _config(receiver)
    await _working_day(sessions, clock, staff, config)
    sender = _sender(sessions, config, clock)
    try:
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    rows = await _rows(sessions)
    assert len(rows) == 13
    _check_everything_arrived_once_in_order(receiver, rows)
    tries: dict[str, list[Any]] = defaultdict(list)
    for request in receiver.requests:
        tries[request.payload["id"]].append(request)
    assert sum(len(t) > 1 for t in tries.values()) >= 4  # it really did fail half the time
    for row in rows:
        attempts = tries[row.event_id]
        # delivered within a minute of its first try; the first retry within 5 s of it
        assert attempts[-1].at - attempts[0].at <= timedelta(minutes=1)
        if len(attempts) > 1:
            assert attempts[1].at - attempts[0].at <= timedelta(seconds=5)


async def test_a_receiver_that_restarts_and_fails_half_the_time_still_gets_everything(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    receiver: Receiver,
) -> None:
    chance = random.Random(15)
    receiver.fails = lambda n: chance.random() < 0.5
    config = _config(receiver)
    await _working_day(sessions, clock, staff, config)
    sender = _sender(sessions, config, clock)
    try:
        assert await sender.deliver_due() == 3  # the first event of each lead goes out
        await receiver.stop()  # the receiver restarts: three minutes of refused connections
        for _ in range(6):
            clock.advance(timedelta(seconds=30))
            await sender.deliver_due()
        await receiver.start()
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    rows = await _rows(sessions)
    _check_everything_arrived_once_in_order(receiver, rows)
    assert any(row.attempts >= 3 for row in rows)  # some waited out the restart


async def test_after_24_hours_an_event_fails_the_admins_are_told_and_it_can_be_sent_again(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    receiver: Receiver,
) -> None:
    receiver.fails = lambda n: True
    config = _config(receiver)
    async with sessions() as session:
        alex = await add_staff(session, 1004, Role.ADMIN, "Alex", clock.now())
    started = clock.now()
    async with sessions() as session:
        [lead] = await intake_leads(
            session, [LeadInput(source="tilda", phone="+79001110001")], started, config=config
        )
    async with sessions() as session:
        assert (await take_lead(session, lead.lead_id, staff["anna"], started, config)).ok
    sender = _sender(sessions, config, clock)
    try:
        await drain(sender, sessions, clock)
        rows = await _rows(sessions)
        assert [row.state for row in rows] == [OutboxState.FAILED] * 3
        # tried after 2, 3, 4.5 ... s, the waits growing to 10 min: the 158th try is the first
        # at or after 24 h (2 x (1.5^15 - 1) / 0.5 = 1747.575 s, then 142 waits of 600 s)
        first, taken, moved = rows
        assert first.attempts == 158
        assert first.done_at is not None
        assert abs((first.done_at - started).total_seconds() - 86947.575) < 0.01
        assert "HTTP 503" in (first.last_error or "")
        # the rows behind it were not held back by a failure: each got its try, past its
        # own 24 hours, and failed at once
        assert (taken.attempts, moved.attempts) == (1, 1)
        async with sessions() as session:
            told = list(
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.TEXT)
                )
            )
            backlog = await webhook_backlog(session, clock.now(), ["crm"])
        # one message for the three failures of the hour, to the admin only
        assert [(m.chat_id, m.payload["template"]) for m in told] == [
            (alex.telegram_id, "webhook_failed")
        ]
        assert told[0].payload["context"] == {
            "target": "crm",
            "event": "lead.created",
            "lead_id": lead.lead_id,
            "error": "HTTP 503 Service Unavailable",
            "failed": 1,
        }
        assert [(b.target, b.pending, b.failed, b.oldest_pending_age) for b in backlog] == [
            ("crm", 0, 3, None)
        ]

        receiver.fails = lambda n: False  # fixed: the operator sends them again
        before = len(receiver.requests)
        async with sessions() as session:
            assert await retry_failed(session, clock.now(), config, "crm") == 3
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    again = receiver.requests[before:]
    assert [r.event for r in again] == ["lead.created", "lead.taken", "lead.status_changed"]
    assert [r.payload["id"] for r in again] == [row.event_id for row in rows]
    assert all(r.status == 200 and r.signed for r in again)


async def test_two_instances_on_postgresql_deliver_each_event_once_in_order(
    database_url: str,
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    receiver: Receiver,
) -> None:
    """Two `leadbot run` on one database, each with its own connection pool, both running
    their sender loop: SKIP LOCKED and the lease give each row to one of them, and a lead's
    next event waits until the other instance has delivered the one before."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process: there are no two instances to compare")
    receiver.latency = 0.002
    config = _config(receiver)
    async with sessions() as session:
        results = await intake_leads(
            session,
            [LeadInput(source="tilda", phone=f"+7900111{n:04d}") for n in range(40)],
            clock.now(),
            config=config,
        )
    for result in results:  # three events a lead: created, taken, status_changed
        async with sessions() as session:
            assert (await take_lead(session, result.lead_id, staff["anna"], clock.now(), config)).ok
    engines = [create_engine(database_url), create_engine(database_url)]
    senders = [
        WebhookSender(
            session_factory(engine),
            config,
            OutboundSecrets({"crm": SecretStr(SECRET)}),
            clock,
            max_in_flight=8,
        )
        for engine in engines
    ]
    sent_by: list[list[int]] = [[], []]
    for sender, sent in zip(senders, sent_by, strict=True):
        attempt = sender._attempt

        async def counted(row: HookDelivery, attempt: Any = attempt, sent: Any = sent) -> Any:
            sent.append(row.id)
            return await attempt(row)

        sender._attempt = counted  # type: ignore[method-assign]
    loops = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        await webhooks_delivered(sessions)
    finally:
        for sender in senders:
            await sender.stop()
        await asyncio.gather(*loops, return_exceptions=True)
        for engine in engines:
            await engine.dispose()
    rows = await _rows(sessions)
    assert len(rows) == 120
    _check_everything_arrived_once_in_order(receiver, rows)
    assert len(receiver.requests) == 120  # no row was sent twice
    assert all(sent_by) and sorted(sent_by[0] + sent_by[1]) == [row.id for row in rows]


HOSTILE = {
    "name": '<script>alert("x")</script> & Ко° \u202eRTL 🎉 \\ "quoted"',
    "message": "line\nbreak\ttab " + "ж" * 10_000,
    "service": "[B]bold[/B] {{ jinja }} ${shell} ' OR 1=1 --",
}


async def test_hostile_strings_arrive_exactly_as_written_and_signed(
    sessions: SessionFactory, clock: ManualClock, receiver: Receiver
) -> None:
    config = _config(receiver, ["lead.created"])
    item = LeadInput(source="tilda", phone="+79001110001", email="a@b.example", **HOSTILE)
    async with sessions() as session:
        await intake_leads(session, [item], clock.now(), config=config)
    sender = _sender(sessions, config, clock)
    try:
        await drain(sender, sessions, clock)
    finally:
        await sender.close()
    [request] = receiver.requests
    assert request.status == 200 and request.signed
    assert {key: request.payload["lead"][key] for key in HOSTILE} == HOSTILE


async def test_a_removed_webhooks_events_wait_and_are_counted(
    sessions: SessionFactory, clock: ManualClock, receiver: Receiver
) -> None:
    config = _config(receiver, ["lead.created"])
    async with sessions() as session:
        await session.execute(
            insert(HookDelivery.__table__),
            [
                {
                    "target": "old",
                    "event_id": f"0000000{n}-0000-4000-8000-000000000000",
                    "event": "lead.created",
                    "lead_id": None,
                    "payload": {},
                    "state": OutboxState.PENDING,
                    "attempts": 0,
                    "give_up_at": clock.now() + timedelta(hours=24),
                    "created_at": clock.now() - timedelta(minutes=n),
                }
                for n in (1, 7)
            ],
        )
        await session.commit()
    sender = _sender(sessions, config, clock)
    try:
        assert await sender.deliver_due() == 0  # nobody to send them to
    finally:
        await sender.close()
    async with sessions() as session:
        backlog = await webhook_backlog(session, clock.now(), ["crm"])
    assert [(b.target, b.pending, b.failed, b.oldest_pending_age) for b in backlog] == [
        ("crm", 0, 0, None),
        ("old", 2, 0, timedelta(minutes=7)),
    ]
    assert receiver.requests == []
