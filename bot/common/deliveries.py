"""The database side of outbound delivery (webhooks and the Bitrix24 hand-off): claiming due
rows in order per lead, settling attempts, back-off, giving up, and the counts an operator
reads. The adapter (bot/adapters/webhooks.py) does the HTTP; nothing here knows of it.

Order: a row is claimed only when no earlier row of the same lead and target is still pending,
so a receiver sees a lead's events in the order they happened (a failed row stops holding the
later ones back). Claims: on PostgreSQL `FOR UPDATE SKIP LOCKED` plus a lease, so two
instances never send one row at once and a crashed instance's rows are taken over when its
lease ends; SQLite serves one process, which keeps its claims in memory (`held`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.common.leases import claim_rows, release_rows
from bot.common.outbox import enqueue, text_message
from bot.config import AppConfig, WebhookDelivery
from storage.models import HookDelivery, OutboxState, Role, Staff

GROWTH = 1.5  # each wait half as long again as the one before
TELL_AGAIN_AFTER = timedelta(hours=1)  # the admins hear of a target's failures at most hourly
ERROR_LIMIT = 500


def retry_delay(attempts: int, rules: WebhookDelivery) -> timedelta:
    """The wait after the `attempts`-th failed attempt: first_retry (2 s), then half as long
    again each time, at most max_retry (10 min). With the defaults the retries come 2, 5, 9.5,
    16, 26, 42, 64 s after the first failure: a receiver failing every other request still has
    each event within a minute (six failures in a row take 42 s); the waits reach 10 minutes
    after 14 failures, half an hour in."""
    # the exponent stops growing long before a float would overflow a timedelta
    grown = rules.first_retry.total_seconds() * GROWTH ** min(max(0, attempts - 1), 64)
    return min(rules.max_retry, timedelta(seconds=grown))


def _due(now: datetime) -> list[object]:
    return [
        HookDelivery.state == OutboxState.PENDING,
        or_(HookDelivery.next_attempt_at.is_(None), HookDelivery.next_attempt_at <= now),
        or_(HookDelivery.claimed_until.is_(None), HookDelivery.claimed_until <= now),
    ]


def _first_of_its_lead() -> object:
    """No earlier row of the same lead and target is still pending (in flight counts)."""
    earlier = aliased(HookDelivery)
    return ~exists().where(
        earlier.lead_id == HookDelivery.lead_id,
        earlier.target == HookDelivery.target,
        earlier.state == OutboxState.PENDING,
        earlier.id < HookDelivery.id,
    )


async def claim_deliveries(
    session: AsyncSession,
    targets: Collection[str],
    now: datetime,
    limit: int,
    lease: timedelta,
    held: Collection[int] = (),
) -> list[HookDelivery]:
    """Up to `limit` due rows of `targets` (the configured ones: a removed webhook's rows wait
    for it), oldest first, each the first pending row of its lead; committed."""
    if not targets or limit <= 0:
        await session.commit()
        return []
    query = (
        select(HookDelivery)
        .where(*_due(now), HookDelivery.target.in_(list(targets)), _first_of_its_lead())
        .order_by(HookDelivery.id)
        .limit(limit)
    )
    return await claim_rows(session, HookDelivery, query, now, lease, held)


async def next_delivery_at(session: AsyncSession, targets: Collection[str]) -> datetime | None:
    """When the earliest row backing off may be tried again (the sender sleeps until then)."""
    if not targets:
        return None
    return await session.scalar(
        select(func.min(HookDelivery.next_attempt_at)).where(
            HookDelivery.state == OutboxState.PENDING,
            HookDelivery.next_attempt_at.is_not(None),
            HookDelivery.target.in_(list(targets)),
        )
    )


async def delivered(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    """The target took it (2xx, or the hand-off finished); the caller commits."""
    await session.execute(
        update(HookDelivery)
        .where(HookDelivery.id == delivery_id)
        .values(state=OutboxState.SENT, done_at=now, claimed_until=None, last_error=None)
    )


async def attempt_failed(
    session: AsyncSession,
    row: HookDelivery,
    error: str,
    now: datetime,
    config: AppConfig,
    permanent: bool = False,
) -> bool:
    """An attempt failed: try again after the back-off, or, past `give_up_at` (or when it can
    never succeed), fail the row and tell the admins. True when it was failed. The caller
    commits."""
    attempts = row.attempts + 1
    if permanent or now >= row.give_up_at:
        await _fail(session, row, attempts, error, now)
        return True
    delay = retry_delay(attempts, config.webhook_delivery)
    await session.execute(
        update(HookDelivery)
        .where(HookDelivery.id == row.id)
        .values(
            attempts=attempts,
            next_attempt_at=now + delay,
            claimed_until=None,
            last_error=error[:ERROR_LIMIT],
        )
    )
    return False


async def _fail(
    session: AsyncSession, row: HookDelivery, attempts: int, error: str, now: datetime
) -> None:
    # told before it is marked, so this row is not "an earlier failure" of its own target
    told_lately = await session.scalar(
        select(HookDelivery.id)
        .where(
            HookDelivery.target == row.target,
            HookDelivery.state == OutboxState.FAILED,
            HookDelivery.done_at > now - TELL_AGAIN_AFTER,
        )
        .limit(1)
    )
    await session.execute(
        update(HookDelivery)
        .where(HookDelivery.id == row.id)
        .values(
            state=OutboxState.FAILED,
            attempts=attempts,
            done_at=now,
            claimed_until=None,
            last_error=error[:ERROR_LIMIT],
        )
    )
    if told_lately is None:
        await _tell_admins(session, row, error, now)


async def _tell_admins(session: AsyncSession, row: HookDelivery, error: str, now: datetime) -> None:
    """Every active admin gets one message (the outbox, in this transaction): which target,
    which event of which lead, why, and how many of the target's rows have failed. Later
    failures of the same target within the hour add to the count, not to their messages."""
    failed = await session.scalar(
        select(func.count())
        .select_from(HookDelivery)
        .where(HookDelivery.target == row.target, HookDelivery.state == OutboxState.FAILED)
    )
    admins = await session.scalars(
        select(Staff).where(Staff.is_active.is_(True), Staff.role == Role.ADMIN)
    )
    context = {
        "target": row.target,
        "event": row.event,
        "lead_id": row.lead_id,
        "error": error[:200],
        "failed": int(failed or 0),
    }
    await enqueue(
        session,
        [
            text_message(row.lead_id, admin.telegram_id, admin.id, "webhook_failed", context, now)
            for admin in admins
        ],
    )


async def due_again_now(session: AsyncSession, target: str, now: datetime) -> int:
    """The target answered again after failing: its rows backing off are due now, not at the
    end of a back-off grown to minutes. How many."""
    result = await session.execute(
        update(HookDelivery)
        .where(
            HookDelivery.target == target,
            HookDelivery.state == OutboxState.PENDING,
            HookDelivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_deliveries(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give claimed rows back so any instance may take them now (a sender stopping)."""
    await release_rows(session, HookDelivery, ids)


async def forget_delivered(session: AsyncSession, before: datetime) -> int:
    """Delivered rows older than `before` are deleted (their payloads hold personal data);
    failed rows stay until retried. How many."""
    result = await session.execute(
        delete(HookDelivery).where(
            HookDelivery.state == OutboxState.SENT, HookDelivery.done_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class WebhookBacklog:
    """One target's delivery state: rows waiting (pending), rows given up on (failed), and how
    long the oldest waiting row has waited (None: nothing waits)."""

    target: str
    pending: int
    failed: int
    oldest_pending_age: timedelta | None


async def webhook_backlog(
    session: AsyncSession, now: datetime, targets: Collection[str] = ()
) -> list[WebhookBacklog]:
    """Pending and failed counts and the oldest pending row's age, per target: every target
    in `targets` (zeros included) and every target that has such rows (a removed webhook's
    rows too). For `leadbot webhooks` and /metrics; one GROUP BY over the state index."""
    found = await session.execute(
        select(
            HookDelivery.target,
            HookDelivery.state,
            func.count(),
            func.min(HookDelivery.created_at),
        )
        .where(HookDelivery.state.in_([OutboxState.PENDING, OutboxState.FAILED]))
        .group_by(HookDelivery.target, HookDelivery.state)
    )
    counts: dict[str, dict[str, tuple[int, datetime | None]]] = {name: {} for name in targets}
    for target, state, count, oldest in found:
        counts.setdefault(target, {})[str(state)] = (int(count), oldest)
    backlog = []
    for target in sorted(counts):
        pending, oldest = counts[target].get(OutboxState.PENDING.value, (0, None))
        failed, _ = counts[target].get(OutboxState.FAILED.value, (0, None))
        age = max(now - oldest, timedelta()) if oldest is not None else None
        backlog.append(WebhookBacklog(target, pending, failed, age))
    return backlog


async def retry_failed(
    session: AsyncSession, now: datetime, config: AppConfig, target: str | None = None
) -> int:
    """Failed rows (of one target, or all) are pending again, with a fresh `give_up_after`
    from now; committed. They go after the rows delivered meanwhile: a receiver orders a
    lead's events by `occurred_at` or the lead's `version`, not by arrival. How many."""
    which = [HookDelivery.target == target] if target is not None else []
    result = await session.execute(
        update(HookDelivery)
        .where(HookDelivery.state == OutboxState.FAILED, *which)
        .values(
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=None,
            claimed_until=None,
            give_up_at=now + config.webhook_delivery.give_up_after,
            done_at=None,
        )
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


PERSONAL = ("name", "phone", "email", "message", "service", "external_id", "utm")


async def scrub_deliveries(session: AsyncSession, lead_ids: Collection[int]) -> int:
    """A person's data erased on request: the delivery rows of their leads keep no trace of
    them. Rows already delivered or failed are deleted; rows still pending go out with the
    lead's personal fields blank and the event's own data emptied. The caller commits (in the
    erasure's transaction). How many rows were touched."""
    if not lead_ids:
        return 0
    rows = list(
        await session.scalars(select(HookDelivery).where(HookDelivery.lead_id.in_(list(lead_ids))))
    )
    for row in rows:
        if row.state != OutboxState.PENDING:
            await session.delete(row)
            continue
        payload = dict(row.payload)
        if isinstance(payload.get("lead"), dict):
            lead = dict(payload["lead"])
            lead.update({key: None for key in PERSONAL if key != "utm"}, utm={})
            payload["lead"] = lead
        payload["data"] = {}
        row.payload = payload
    await session.flush()
    return len(rows)
