"""A manager's answer to a client, on the database side: queued with its place in the lead's
history in one commit; delivered, it ends the client's wait and tells the manager; refused,
it is recorded and the manager told why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.common.outbox import client_answer
from bot.config import AppConfig
from bot.intake.client_chat import (
    client_wrote,
    queue_reply,
    reply_delivered,
    reply_not_delivered,
)
from bot.leads.actions import take_lead
from storage.db import SessionFactory
from storage.models import (
    ANSWER_TASK,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    Staff,
    Task,
)

KATE = 7001


async def _waiting_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, anna: Staff
) -> int:
    """Kate wrote, Anna took the lead, Kate wrote again: her message waits for an answer."""
    async with sessions() as session:
        result = await client_wrote(session, KATE, "Kate", "Hi", clock.now(), config, None)
        assert (await take_lead(session, result.lead_id, anna, clock.now(), config)).ok
        await client_wrote(session, KATE, "Kate", "Hello?", clock.now(), config, None)
    return result.lead_id


async def _rows(sessions: SessionFactory, kind: OutboxKind) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(found.all())


async def _answer_task(sessions: SessionFactory) -> Task:
    async with sessions() as session:
        task = await session.scalar(select(Task).where(Task.kind == ANSWER_TASK))
    assert task is not None
    return task


def test_an_answer_is_a_text_or_a_copy() -> None:
    now = ManualClock().now()
    with pytest.raises(ValueError, match="either a text or a copy"):
        client_answer(1, KATE, 1, 1001, 1, now)
    with pytest.raises(ValueError, match="either a text or a copy"):
        client_answer(1, KATE, 1, 1001, 1, now, html="x", copy_from=(1001, 5))


async def test_the_answer_is_recorded_and_queued_and_the_wait_ends_only_when_delivered(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    lead_id = await _waiting_lead(sessions, clock, config, anna)
    async with sessions() as session:
        event_id = await queue_reply(
            session, lead_id, anna, KATE, "Yes, <b>we do</b>", clock.now(), locale="en"
        )
    [row] = await _rows(sessions, OutboxKind.CLIENT_ANSWER)
    assert (row.lead_id, row.chat_id, row.staff_id) == (lead_id, KATE, anna.id)
    assert row.payload == {
        "html": "💬 Anna: Yes, &lt;b&gt;we do&lt;/b&gt;",
        "manager_chat_id": anna.telegram_id,
        "event_id": event_id,
    }
    async with sessions() as session:
        event = await session.get(LeadEvent, event_id)
    assert event is not None and event.kind == "replied"
    assert event.data == {"text": "Yes, <b>we do</b>"}
    assert (await _answer_task(sessions)).done_at is None  # queued is not delivered

    delivered_at = clock.advance(timedelta(minutes=3))
    async with sessions() as session:
        await reply_delivered(session, row, delivered_at, config)
        await session.commit()
    done_at = (await _answer_task(sessions)).done_at
    assert done_at is not None and done_at.replace(tzinfo=None) == delivered_at.replace(tzinfo=None)
    told = (await _rows(sessions, OutboxKind.TEXT))[-1]  # after Kate's "got in touch again"
    assert (told.chat_id, told.staff_id) == (anna.telegram_id, anna.id)
    assert told.payload == {"template": "reply_sent", "context": {"lead_id": lead_id}}


async def test_a_copied_answer_refused_because_the_client_blocked_the_bot(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    lead_id = await _waiting_lead(sessions, clock, config, anna)
    async with sessions() as session:
        await queue_reply(
            session,
            lead_id,
            anna,
            KATE,
            "📷 photo: the blue one",
            clock.now(),
            locale="en",
            copy_from=(anna.telegram_id, 42),
        )
    [row] = await _rows(sessions, OutboxKind.CLIENT_ANSWER)
    assert row.payload["from_chat_id"] == anna.telegram_id and row.payload["message_id"] == 42
    assert "html" not in row.payload
    async with sessions() as session:
        await reply_not_delivered(session, row, True, "Forbidden: bot was blocked", clock.now())
        await session.commit()
        blocked = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "client_blocked"))
    assert blocked is not None and blocked.data == {"text": "📷 photo: the blue one"}
    assert blocked.actor_id == anna.id
    told = (await _rows(sessions, OutboxKind.TEXT))[-1]  # after Kate's "got in touch again"
    assert told.payload == {"template": "reply_blocked", "context": {"lead_id": lead_id}}
    assert (await _answer_task(sessions)).done_at is None  # she still waits: call her


async def test_an_answer_refused_for_another_reason_tells_the_manager_why(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    lead_id = await _waiting_lead(sessions, clock, config, anna)
    async with sessions() as session:
        await queue_reply(session, lead_id, anna, KATE, "Hi", clock.now(), locale="ru")
    [row] = await _rows(sessions, OutboxKind.CLIENT_ANSWER)
    async with sessions() as session:
        await reply_not_delivered(session, row, False, "Bad Request: chat not found", clock.now())
        await session.commit()
        failed = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "delivery_failed"))
    assert failed is not None
    assert failed.data == {"chat_id": KATE, "error": "Bad Request: chat not found"}
    told = (await _rows(sessions, OutboxKind.TEXT))[-1]  # after Kate's "got in touch again"
    assert told.payload == {
        "template": "reply_failed",
        "context": {"lead_id": lead_id, "reason": "Bad Request: chat not found"},
    }
