"""Reasons only the system gives, in words: "stale (no activity for 7 days)"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.common.lifecycle import CLIENT_CANCELLED_REASON, STALE_REASON
from bot.common.render import labels
from bot.config import AppConfig


def idle_age(after: timedelta | None) -> dict[str, Any]:
    """`auto_close_after` for the words "no activity for 7 days": whole days, else hours."""
    if after is None:
        return {}
    if after >= timedelta(days=1) and after % timedelta(days=1) == timedelta():
        days = after.days
        return {"n": days, "unit": "day" if days == 1 else "days"}
    return {"n": max(1, round(after / timedelta(hours=1))), "unit": "hours"}


def system_reason_label(code: str | None, locale: str, config: AppConfig) -> str | None:
    """The card's label of a reason only the system gives ("stale (no activity for 7 days)");
    any other code is shown as it is."""
    if code == CLIENT_CANCELLED_REASON:
        return str(labels(locale)["events"][CLIENT_CANCELLED_REASON])
    if code != STALE_REASON:
        return code
    words = labels(locale)["stale"]
    age = idle_age(config.sla.auto_close_after)
    if not age:
        return str(words["reason_short"])
    return str(words["reason"]).format(age=str(words[age["unit"]]).format(n=age["n"]))
