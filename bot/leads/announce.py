"""What a lead's transition announces to other systems (bot/common/webhooks.py): its own event
(taken, converted, closed...) and, when the status moved, `lead.status_changed`. apply_action
writes them in the transition's transaction."""

from __future__ import annotations

from typing import Any

from bot.common.hook_events import HookEvent
from bot.common.lifecycle import Action
from bot.common.webhooks import Happened, lead_json, person, wanted
from bot.config import AppConfig
from storage.models import Lead, LeadStatus, Staff

_OWN_EVENT = {
    Action.TAKE: HookEvent.LEAD_TAKEN,
    Action.SCHEDULE_CALL_BACK: HookEvent.LEAD_CALL_BACK_SCHEDULED,
    Action.CONVERT: HookEvent.LEAD_CONVERTED,
    Action.REFUSE: HookEvent.LEAD_CLOSED,
    Action.JUNK: HookEvent.LEAD_CLOSED,
    Action.REOPEN: HookEvent.LEAD_REOPENED,
    Action.REASSIGN: HookEvent.LEAD_REASSIGNED,
}


def own_event(action: Action, kind: str) -> HookEvent | None:
    """The transition's own event. QUALIFY is also the rule a returned call goes by (kinds
    `missed_call_done` / `_retry`): only a qualification announces `lead.qualified`."""
    if action is Action.QUALIFY:
        return HookEvent.LEAD_QUALIFIED if kind == "qualified" else None
    return _OWN_EVENT.get(action)


def listened(config: AppConfig, action: Action, kind: str) -> bool:
    """Whether a target wants anything this transition may announce."""
    own = own_event(action, kind)
    return wanted(config, HookEvent.LEAD_STATUS_CHANGED, *([own] if own else []))


def _own_data(
    event: HookEvent,
    before: LeadStatus | None,
    lead: Lead,
    snapshot: dict[str, Any],
    data: dict[str, Any],
) -> dict[str, Any]:
    if event is HookEvent.LEAD_CLOSED:
        return {
            "status": str(lead.status),
            "reason": data.get("reason"),
            "comment": data.get("comment"),
        }
    if event is HookEvent.LEAD_REOPENED:
        return {"from": str(before) if before is not None else None}
    if event is HookEvent.LEAD_REASSIGNED:
        return {"from_owner": data.get("from_owner"), "to_owner": person(lead.owner)}
    if event is HookEvent.LEAD_CALL_BACK_SCHEDULED:
        return {"due_at": data.get("due_at")}
    if event is HookEvent.LEAD_QUALIFIED:
        return {"fields": data.get("fields", {})}
    if event is HookEvent.LEAD_CONVERTED:  # the amount as the lead holds it: "15000.00"
        return {"fields": data.get("fields", {}), "amount": snapshot["amount"]}
    return {}


def transition_events(
    action: Action,
    kind: str,
    before: LeadStatus | None,
    lead: Lead,
    actor: Staff,
    data: dict[str, Any],
    config: AppConfig,
) -> list[Happened]:
    """The transition's own event, then `lead.status_changed` when the status moved (`before`
    is the status the UPDATE changed). `data`: the history event's data, plus what only the
    caller knew (a reassignment's previous owner)."""
    snapshot = lead_json(lead, lead.owner, config.currency)
    who = person(actor)
    found: list[Happened] = []
    own = own_event(action, kind)
    if own is not None:
        own_data = _own_data(own, before, lead, snapshot, data)
        found.append(Happened(own, lead.id, snapshot, who, own_data))
    if before is not None and before != lead.status:
        moved = {"from": str(before), "to": str(lead.status)}
        found.append(Happened(HookEvent.LEAD_STATUS_CHANGED, lead.id, snapshot, who, moved))
    return found
