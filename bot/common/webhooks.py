"""Outbound webhooks, the write side: what an event carries, and its delivery rows, written in
the transaction of the change it announces (one row per target that wants it).

Every body has the same envelope:

    {"id": "<uuid: the Idempotency-Key>", "event": "lead.taken",
     "occurred_at": "2026-01-05T09:00:00+00:00",
     "lead": {...the lead as it is after the change...} | null,
     "actor": {"telegram_id": 1001, "name": "Anna"} | null,   (null: the system, a client)
     "data": {...what this event adds...}}

The adapter (bot/adapters/webhooks.py) POSTs it signed with `signature`; the DB side of
delivery (claims, retries, counts) is bot/common/deliveries.py.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.hook_events import HookEvent
from bot.common.money import amount_text
from bot.config import BITRIX24_TARGET, AppConfig
from storage.db import note_outbox_written
from storage.models import HookDelivery, OutboxState, Staff

SIGNATURE_HEADER = "X-Leadbot-Signature"
TIMESTAMP_HEADER = "X-Leadbot-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Leadbot-Event"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the receiver recomputes it from the
    raw body and the timestamp header (README, "Checking a signature")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def delivery_targets(config: AppConfig) -> list[str]:
    """Every configured target's name: the webhooks, and `bitrix24` when the hand-off is on."""
    names = [hook.name for hook in config.webhooks]
    return [*names, BITRIX24_TARGET] if config.crm.bitrix24 is not None else names


def targets_of(config: AppConfig, event: HookEvent) -> list[str]:
    """The targets that take `event`: the webhooks subscribed to it, and the Bitrix24 hand-off
    for a conversion."""
    names = [hook.name for hook in config.webhooks if hook.wants(event)]
    if event is HookEvent.LEAD_CONVERTED and config.crm.bitrix24 is not None:
        names.append(BITRIX24_TARGET)
    return names


def wanted(config: AppConfig, *events: HookEvent) -> bool:
    """Whether anything listens to any of `events` (so nothing is read to build them when
    nobody does: with no webhooks configured, no change pays for them)."""
    return any(targets_of(config, event) for event in events)


def person(staff: Staff | None) -> dict[str, Any] | None:
    """A member of staff as receivers see them: their Telegram id and name."""
    if staff is None or staff.id is None:  # the system acting on a client's word (a stand-in)
        return None
    return {"telegram_id": staff.telegram_id, "name": staff.name}


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def lead_json(lead: Any, owner: Staff | None, currency: str) -> dict[str, Any]:
    """The lead as receivers see it. `lead` is a Lead, or anything with its attributes (intake
    builds it from the row it inserts)."""
    return {
        "id": lead.id,
        "status": str(lead.status),
        "source": lead.source,
        "external_id": lead.external_id,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "service": lead.service,
        "message": lead.message,
        "amount": amount_text(lead.amount),
        "currency": currency,
        "owner": person(owner),
        "contact_id": lead.contact_id,
        "utm": dict(lead.utm or {}),
        "is_repeat": bool(lead.is_repeat),
        "close_reason": getattr(lead, "close_reason", None),
        "created_at": _moment(lead.created_at),
        "updated_at": _moment(lead.updated_at),
        "closed_at": _moment(getattr(lead, "closed_at", None)),
        "version": lead.version,
    }


@dataclass(frozen=True)
class Happened:
    """One event about one lead (or none), as the change that caused it describes it."""

    event: HookEvent
    lead_id: int | None
    lead: dict[str, Any] | None  # lead_json, as the change left it
    actor: dict[str, Any] | None = None  # person(...); None: the system or a client
    data: dict[str, Any] = field(default_factory=dict)


def delivery_rows(
    config: AppConfig, happened: Iterable[Happened], now: datetime
) -> list[dict[str, Any]]:
    """Delivery rows for the targets that want each event: one event id (the Idempotency-Key)
    shared by its rows, the same body for each."""
    rows: list[dict[str, Any]] = []
    give_up_at = now + config.webhook_delivery.give_up_after
    for item in happened:
        targets = targets_of(config, item.event)
        if not targets:
            continue
        event_id = str(uuid.uuid4())
        body = {
            "id": event_id,
            "event": item.event.value,
            "occurred_at": now.isoformat(),
            "lead": item.lead,
            "actor": item.actor,
            "data": item.data,
        }
        rows += [
            {
                "target": target,
                "event_id": event_id,
                "event": item.event.value,
                "lead_id": item.lead_id,
                "payload": body,
                "state": OutboxState.PENDING,
                "attempts": 0,
                "next_attempt_at": None,
                "claimed_until": None,
                "give_up_at": give_up_at,
                "last_error": None,
                "created_at": now,
                "done_at": None,
            }
            for target in targets
        ]
    return rows


async def announce(
    session: AsyncSession, config: AppConfig, happened: Sequence[Happened], now: datetime
) -> None:
    """Write the events' delivery rows in the caller's transaction; its commit wakes the
    senders (as an outbox write does). Events nobody wants write nothing."""
    rows = delivery_rows(config, happened, now)
    if not rows:
        return
    await session.execute(insert(HookDelivery.__table__), rows)
    note_outbox_written(session)
