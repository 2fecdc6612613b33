"""The lead's state machine: which action moves a lead from which status to which, and who
may take it. Plain rules, no database: bot/leads/actions.py turns them into conditional UPDATEs.

    new ──take──▶ in_work ──convert──▶ converted
     │              │  ▲
     │              │  └──call-back done── callback ◀─┐ reschedule
     │              ├──schedule call-back──▶ callback ─┘
     │              ├──qualify (fields filled in, status stays; also in callback)
     │              ├──refuse(reason)──▶ refused          (in_work or callback)
     └──junk(reason)┴────────────────▶ junk               (any open status)
    converted / refused / junk ──reopen (supervisor)──▶ in_work, or new if nobody owns it
    new / in_work / callback ──reassign (supervisor)──▶ another owner; new becomes in_work
    new / callback untouched for [sla] auto_close_after ──the system (no actor)──▶ junk, "stale"
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storage.models import OPEN_STATUSES, LeadStatus, Role

CLOSED_STATUSES = frozenset({LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK})
WORKING = frozenset({LeadStatus.IN_WORK, LeadStatus.CALL_BACK})


class Action(enum.StrEnum):
    TAKE = "take"
    SCHEDULE_CALL_BACK = "schedule_callback"  # also a reschedule, from callback
    CALL_BACK_DONE = "callback_done"
    QUALIFY = "qualify"  # fills in fields; the status stays
    CONVERT = "convert"
    REFUSE = "refuse"
    JUNK = "junk"
    REOPEN = "reopen"
    REASSIGN = "reassign"  # a supervisor gives an open lead to a manager


@dataclass(frozen=True)
class Rule:
    sources: frozenset[LeadStatus]
    target: LeadStatus | None  # None: the status stays as it is


RULES: dict[Action, Rule] = {
    Action.TAKE: Rule(frozenset({LeadStatus.NEW}), LeadStatus.IN_WORK),
    Action.SCHEDULE_CALL_BACK: Rule(WORKING, LeadStatus.CALL_BACK),
    Action.CALL_BACK_DONE: Rule(frozenset({LeadStatus.CALL_BACK}), LeadStatus.IN_WORK),
    Action.QUALIFY: Rule(WORKING, None),
    Action.CONVERT: Rule(WORKING, LeadStatus.CONVERTED),
    Action.REFUSE: Rule(WORKING, LeadStatus.REFUSED),
    Action.JUNK: Rule(frozenset(OPEN_STATUSES), LeadStatus.JUNK),
    Action.REOPEN: Rule(CLOSED_STATUSES, LeadStatus.IN_WORK),
    Action.REASSIGN: Rule(frozenset(OPEN_STATUSES), None),
}
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The daily auto-close (bot/sla/stale.py) junks leads left in these statuses: a junk transition
# the system makes with no actor (so may_act is not asked); supervisors may reopen them.
STALE_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.CALL_BACK})
STALE_REASON = "stale"  # close_reason of those leads; never in the pickers' reason lists
# close_reason of a request the client cancelled in the bot (bot/self_service): a refusal only
# the client gives, so never in the managers' picker either
CLIENT_CANCELLED_REASON = "client_cancelled"
CLOSED_EVENT = "closed"  # event of a close by the system, not by a person (data: reason, status)


def next_status(action: Action, status: LeadStatus, has_owner: bool) -> LeadStatus | None:
    """Where `action` takes a lead in `status`; None when the machine forbids it."""
    rule = RULES[action]
    if status not in rule.sources:
        return None
    if action is Action.REOPEN and not has_owner:
        return LeadStatus.NEW  # nobody to give it back to: it goes to the pool again
    if action is Action.REASSIGN and status == LeadStatus.NEW:
        return LeadStatus.IN_WORK  # assigned: the new owner works it from now
    return rule.target or status


def may_act(action: Action, role: Role, actor_id: int, owner_id: int | None) -> bool:
    """Supervisors and admins may do anything; a manager works the leads they own, takes
    unowned ones, may junk an unowned one, and never reopens or reassigns."""
    if role in SUPERVISING:
        return True
    if action in (Action.REOPEN, Action.REASSIGN):
        return False
    if action in (Action.TAKE, Action.JUNK) and owner_id is None:
        return True
    return owner_id == actor_id
