"""A client's messages one after another (bot/intake/client_pace.py): at most
`[client_chat] max_per_minute` reach the lead, a flooding client is told once per flood, and
after hours they hear once per closed spell when the team opens. Pure: the bookkeeping is the
dialogue data the handler stores as given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import load_app_config
from bot.intake.client_pace import (
    RECENT,
    SLOWED,
    START_TAG,
    TOLD_UNTIL,
    acknowledge_client_message,
    admit_client_message,
)

CONFIG = load_app_config(overrides={"client_chat": {"max_per_minute": 3}})
TUESDAY_NOON = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, open
TUESDAY_NIGHT = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 23:00 in Moscow, closed
WEDNESDAY_OPENING = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def _send(data: dict[str, Any], now: datetime) -> tuple[bool, bool]:
    """One message: (passed on, told to slow down); the data kept as the handler keeps it."""
    admission = admit_client_message(data, now, CONFIG)
    data.update(admission.updates)
    if admission.passed_on:
        data.update(acknowledge_client_message(data, now, False, CONFIG).updates)
    return admission.passed_on, admission.slow_down


def test_a_flood_is_cut_at_the_limit_and_the_client_is_told_once_per_flood() -> None:
    data: dict[str, Any] = {}
    sent = [_send(data, TUESDAY_NOON + timedelta(seconds=n)) for n in range(6)]
    assert sent == [(True, False)] * 3 + [(False, True), (False, False), (False, False)]
    assert data[SLOWED] is True
    # a minute after the first ones the window has room again, and the flood is over
    assert _send(data, TUESDAY_NOON + timedelta(seconds=63)) == (True, False)
    assert data[SLOWED] is False
    assert len(data[RECENT]) == 1  # the older ones fell out of the minute
    # a new flood is told again
    sent = [_send(data, TUESDAY_NOON + timedelta(seconds=64 + n)) for n in range(3)]
    assert sent == [(True, False), (True, False), (False, True)]


def test_the_campaign_tag_rides_on_the_first_delivered_message_only() -> None:
    data: dict[str, Any] = {START_TAG: "vk_ads"}
    admission = admit_client_message(data, TUESDAY_NOON, CONFIG)
    assert admission.tag == "vk_ads"
    assert START_TAG not in admission.updates  # kept until the message is delivered
    told = acknowledge_client_message(data, TUESDAY_NOON, True, CONFIG)
    assert told.updates[START_TAG] is None
    data.update(admission.updates | told.updates)
    assert admit_client_message(data, TUESDAY_NOON, CONFIG).tag is None


def test_after_hours_the_client_hears_the_opening_once_per_night() -> None:
    data: dict[str, Any] = {}
    first = acknowledge_client_message(data, TUESDAY_NIGHT, True, CONFIG)
    assert first.opens_at == WEDNESDAY_OPENING
    assert first.received is False  # the opening says more than "received"
    data.update(first.updates)
    assert data[TOLD_UNTIL] == WEDNESDAY_OPENING.isoformat()
    later = acknowledge_client_message(data, TUESDAY_NIGHT + timedelta(hours=1), True, CONFIG)
    assert (later.opens_at, later.received) == (None, True)  # told already tonight
    next_night = TUESDAY_NIGHT + timedelta(days=1)
    assert acknowledge_client_message(data, next_night, False, CONFIG).opens_at is not None


def test_in_working_hours_only_a_new_request_is_acknowledged() -> None:
    assert acknowledge_client_message({}, TUESDAY_NOON, True, CONFIG).received is True
    assert acknowledge_client_message({}, TUESDAY_NOON, False, CONFIG).received is False
