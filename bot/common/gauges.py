"""The database's state as /metrics shows it, read when scraped: the outbox (pending, the oldest
pending row's age, failed) by kind, open leads by status, webhooks' deliveries pending and
failed (and the oldest pending one's age) by webhook.

Each is one GROUP BY on an index's leading column (`outbox.state`, `leads.status`), over the
rows that are pending, failed or open: a scrape costs what is in flight, not the history.
The reading is async (the database), a collector's `collect()` is not: the exposition reads
the state first (`read_state`), hands it to the collector, then renders.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.deliveries import WebhookBacklog, webhook_backlog
from storage.models import OPEN_STATUSES, Lead, OutboxKind, OutboxMessage, OutboxState


@dataclass(frozen=True)
class DatabaseState:
    up: bool = False  # False: the database did not answer; nothing below was read
    outbox_pending: dict[str, int] = field(default_factory=dict)
    outbox_oldest_age: dict[str, float] = field(default_factory=dict)  # seconds
    outbox_failed: dict[str, int] = field(default_factory=dict)
    open_leads: dict[str, int] = field(default_factory=dict)
    webhooks: list[WebhookBacklog] = field(default_factory=list)


async def read_state(
    session: AsyncSession, now: datetime, webhooks: Collection[str] = ()
) -> DatabaseState:
    """The state now. Every kind, open status and configured webhook (`webhooks`: their names,
    and "bitrix24" when the hand-off is on) is present (0 when none), so a series does not
    vanish when its queue empties."""
    pending = {kind.value: 0 for kind in OutboxKind}
    oldest = {kind.value: 0.0 for kind in OutboxKind}
    rows = await session.execute(
        select(OutboxMessage.kind, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.state == OutboxState.PENDING)
        .group_by(OutboxMessage.kind)
    )
    for kind, count, first in rows:
        pending[kind] = count
        oldest[kind] = max(0.0, (now - first).total_seconds()) if first is not None else 0.0
    failed = {kind.value: 0 for kind in OutboxKind}
    rows = await session.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.state == OutboxState.FAILED)
        .group_by(OutboxMessage.kind)
    )
    failed |= {kind: count for kind, count in rows}
    open_leads = {status.value: 0 for status in OPEN_STATUSES}
    rows = await session.execute(
        select(Lead.status, func.count())
        .where(Lead.status.in_(OPEN_STATUSES))
        .group_by(Lead.status)
    )
    open_leads |= {status: count for status, count in rows}
    return DatabaseState(
        up=True,
        outbox_pending=pending,
        outbox_oldest_age=oldest,
        outbox_failed=failed,
        open_leads=open_leads,
        webhooks=await webhook_backlog(session, now, webhooks),
    )


class StateCollector(Collector):
    """Yields the last state read (`state`); the exposition sets it just before rendering."""

    def __init__(self) -> None:
        self.state = DatabaseState()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families(DatabaseState())

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._families(self.state)

    def _families(self, state: DatabaseState) -> list[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "leadbot_database_up",
            "1 when the database answered this scrape's queries; 0: the gauges below are absent",
            value=1 if state.up else 0,
        )
        families = [up]
        if not state.up:
            return families
        families += [
            _by(
                "leadbot_outbox_pending",
                "Outbox rows (messages to Telegram) waiting to be sent, by kind",
                "kind",
                state.outbox_pending,
            ),
            _by(
                "leadbot_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending outbox row, by kind (0: none pending)",
                "kind",
                state.outbox_oldest_age,
            ),
            _by(
                "leadbot_outbox_failed",
                "Outbox rows given up on (Telegram refused them for good), by kind",
                "kind",
                state.outbox_failed,
            ),
            _by("leadbot_open_leads", "Open leads, by status", "status", state.open_leads),
            _by(
                "leadbot_webhooks_pending",
                "Webhook deliveries not yet accepted by their receiver, by webhook",
                "webhook",
                {row.target: row.pending for row in state.webhooks},
            ),
            _by(
                "leadbot_webhooks_oldest_pending_age_seconds",
                "Age of the oldest pending webhook delivery, by webhook (0: none pending)",
                "webhook",
                {
                    row.target: row.oldest_pending_age.total_seconds()
                    if row.oldest_pending_age is not None
                    else 0.0
                    for row in state.webhooks
                },
            ),
            _by(
                "leadbot_webhooks_failed",
                "Webhook deliveries given up on (after 24 hours of retries), by webhook",
                "webhook",
                {row.target: row.failed for row in state.webhooks},
            ),
        ]
        return families


def _by(name: str, help_text: str, label: str, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family
