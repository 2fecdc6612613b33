"""A client's messages, one after another: flood control, and what the client is told back (when
the team opens, after hours; that a new request arrived). Pure: the bookkeeping lives in the
client's dialogue data (the FSM keys below), which the handler stores as given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import AppConfig
from bot.sla.working_hours import after_hours_notice

# FSM data keys (stored with the dialogue: never renamed)
RECENT = "recent"  # ISO times of the messages passed on in the last minute
SLOWED = "slowed"  # told to slow down during this flood
START_TAG = "start_tag"  # the deep link's campaign, until the first message takes it
TOLD_UNTIL = "after_hours_told_until"  # the opening an after-hours client was told of


FLOOD_WINDOW = timedelta(minutes=1)


def admit_message(recent: list[str], now: datetime, limit: int) -> tuple[bool, list[str]]:
    """Flood control for one client: at most `limit` messages a minute are passed on. Takes
    and returns the times of the recent ones (ISO strings: they live in the FSM data)."""
    kept = [at for at in recent if now - datetime.fromisoformat(at) < FLOOD_WINDOW]
    if len(kept) >= limit:
        return False, kept
    return True, [*kept, now.isoformat()]


@dataclass(frozen=True)
class Admission:
    """Whether a message is passed on to the lead, and the bookkeeping to store."""

    passed_on: bool
    slow_down: bool  # tell the client to slow down (once per flood)
    tag: str | None  # the deep link's campaign the message carries
    updates: dict[str, Any] = field(default_factory=dict)


def admit_client_message(data: Mapping[str, Any], now: datetime, config: AppConfig) -> Admission:
    """At most `[client_chat] max_per_minute` messages a minute reach the lead; a flooding
    client is told once per flood, not once per message."""
    admitted, recent = admit_message(
        list(data.get(RECENT, [])), now, config.client_chat.max_per_minute
    )
    if not admitted:
        told = bool(data.get(SLOWED))
        return Admission(False, not told, None, {RECENT: recent, SLOWED: True})
    return Admission(True, False, data.get(START_TAG), {RECENT: recent})


@dataclass(frozen=True)
class Acknowledgement:
    """What the client hears after a message reached the lead, and the bookkeeping to store."""

    opens_at: datetime | None  # after hours: when the team opens (once per closed spell)
    received: bool  # the first message of a new request is acknowledged, not every one
    updates: dict[str, Any] = field(default_factory=dict)


def acknowledge_client_message(
    data: Mapping[str, Any], now: datetime, opened_request: bool, config: AppConfig
) -> Acknowledgement:
    # delivered: the flood is over and the campaign tag is spent (kept until now, so a
    # message that failed to arrive does not lose it)
    delivered: dict[str, Any] = {SLOWED: False, START_TAG: None}
    opening = after_hours_notice(now, data.get(TOLD_UNTIL), config.working_hours, config.zone)
    if opening is not None:
        return Acknowledgement(opening, False, {**delivered, TOLD_UNTIL: opening.isoformat()})
    return Acknowledgement(None, opened_request, delivered)
