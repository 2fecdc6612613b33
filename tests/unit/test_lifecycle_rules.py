"""The lead's pure state machine (bot/common/lifecycle.py): `next_status` over the whole
Action × status matrix (checked against a table written out here, not derived from `RULES`) and
`may_act` for every action and every kind of actor. The same rules on a real database are in
tests/core/test_lifecycle.py.
"""

from __future__ import annotations

import pytest

from bot.common.lifecycle import STALE_STATUSES, Action, may_act, next_status
from storage.models import LeadStatus, Role

NEW = LeadStatus.NEW
IN_WORK = LeadStatus.IN_WORK
CALL_BACK = LeadStatus.CALL_BACK
CONVERTED = LeadStatus.CONVERTED
REFUSED = LeadStatus.REFUSED
JUNK = LeadStatus.JUNK

# ----------------------------------------------------------------------------------------------
# The state machine, as a table: where each action takes a lead (with an owner) from each status.
# None: the machine forbids the action in that status.

COLUMNS = (NEW, IN_WORK, CALL_BACK, CONVERTED, REFUSED, JUNK)
TRANSITIONS: dict[Action, tuple[LeadStatus | None, ...]] = {
    #                          new      in_work    callback   converted refused  junk
    Action.TAKE: (IN_WORK, None, None, None, None, None),
    Action.SCHEDULE_CALL_BACK: (None, CALL_BACK, CALL_BACK, None, None, None),
    Action.CALL_BACK_DONE: (None, None, IN_WORK, None, None, None),
    Action.QUALIFY: (None, IN_WORK, CALL_BACK, None, None, None),
    Action.CONVERT: (None, CONVERTED, CONVERTED, None, None, None),
    Action.REFUSE: (None, REFUSED, REFUSED, None, None, None),
    Action.JUNK: (JUNK, JUNK, JUNK, None, None, None),
    Action.REOPEN: (None, None, None, IN_WORK, IN_WORK, IN_WORK),
    Action.REASSIGN: (IN_WORK, IN_WORK, CALL_BACK, None, None, None),
}

ALLOWED = [
    (action, status, target)
    for action, row in TRANSITIONS.items()
    for status, target in zip(COLUMNS, row, strict=True)
    if target is not None
]
FORBIDDEN = [
    (action, status)
    for action, row in TRANSITIONS.items()
    for status, target in zip(COLUMNS, row, strict=True)
    if target is None
]


def test_the_expected_table_covers_every_action_and_every_status() -> None:
    assert set(TRANSITIONS) == set(Action)
    assert set(COLUMNS) == set(LeadStatus) and len(COLUMNS) == len(LeadStatus)
    assert len(ALLOWED) == 19 and len(FORBIDDEN) == len(Action) * len(LeadStatus) - 19


@pytest.mark.parametrize(
    ("action", "status", "target"), ALLOWED, ids=[f"{a}-from-{s}" for a, s, _ in ALLOWED]
)
def test_allowed_transition_leads_to_its_target(
    action: Action, status: LeadStatus, target: LeadStatus
) -> None:
    assert next_status(action, status, has_owner=True) == target


@pytest.mark.parametrize("has_owner", [True, False], ids=["owned", "unowned"])
@pytest.mark.parametrize(
    ("action", "status"), FORBIDDEN, ids=[f"{a}-from-{s}" for a, s in FORBIDDEN]
)
def test_forbidden_transition_is_none_whoever_owns_the_lead(
    action: Action, status: LeadStatus, has_owner: bool
) -> None:
    assert next_status(action, status, has_owner) is None


@pytest.mark.parametrize("status", [CONVERTED, REFUSED, JUNK])
def test_reopen_goes_to_work_when_the_lead_has_an_owner(status: LeadStatus) -> None:
    assert next_status(Action.REOPEN, status, has_owner=True) == IN_WORK


@pytest.mark.parametrize("status", [CONVERTED, REFUSED, JUNK])
def test_reopen_goes_back_to_new_when_nobody_owns_the_lead(status: LeadStatus) -> None:
    assert next_status(Action.REOPEN, status, has_owner=False) == NEW


@pytest.mark.parametrize("has_owner", [True, False], ids=["owned", "unowned"])
def test_reassigning_a_new_lead_puts_it_in_work_and_an_open_one_keeps_its_status(
    has_owner: bool,
) -> None:
    assert next_status(Action.REASSIGN, NEW, has_owner) == IN_WORK
    assert next_status(Action.REASSIGN, IN_WORK, has_owner) == IN_WORK
    assert next_status(Action.REASSIGN, CALL_BACK, has_owner) == CALL_BACK


@pytest.mark.parametrize("status", [IN_WORK, CALL_BACK])
@pytest.mark.parametrize("has_owner", [True, False], ids=["owned", "unowned"])
def test_qualify_keeps_the_status(status: LeadStatus, has_owner: bool) -> None:
    assert next_status(Action.QUALIFY, status, has_owner) == status


NOT_REOPEN = [(a, s, t) for a, s, t in ALLOWED if a is not Action.REOPEN]


@pytest.mark.parametrize(
    ("action", "status", "target"), NOT_REOPEN, ids=[f"{a}-from-{s}" for a, s, _ in NOT_REOPEN]
)
def test_only_reopen_depends_on_whether_the_lead_has_an_owner(
    action: Action, status: LeadStatus, target: LeadStatus
) -> None:
    assert next_status(action, status, has_owner=False) == target


# ----------------------------------------------------------------------------------------------
# Who may act: (role, actor id, owner id) situations × actions.

OWNER, OTHER = 1, 2
SITUATIONS: dict[str, tuple[Role, int, int | None]] = {
    "manager-owner": (Role.MANAGER, OWNER, OWNER),
    "manager-not-owner": (Role.MANAGER, OTHER, OWNER),
    "manager-unowned": (Role.MANAGER, OTHER, None),
    "supervisor-not-owner": (Role.SUPERVISOR, OTHER, OWNER),
    "supervisor-unowned": (Role.SUPERVISOR, OTHER, None),
    "admin-not-owner": (Role.ADMIN, OTHER, OWNER),
    "admin-unowned": (Role.ADMIN, OTHER, None),
}
Y, N = True, False
PERMISSIONS: dict[Action, tuple[bool, ...]] = {
    #                          manager            supervisor       admin
    #                          own  other unowned other unowned  other unowned
    Action.TAKE: (Y, N, Y, Y, Y, Y, Y),
    Action.SCHEDULE_CALL_BACK: (Y, N, N, Y, Y, Y, Y),
    Action.CALL_BACK_DONE: (Y, N, N, Y, Y, Y, Y),
    Action.QUALIFY: (Y, N, N, Y, Y, Y, Y),
    Action.CONVERT: (Y, N, N, Y, Y, Y, Y),
    Action.REFUSE: (Y, N, N, Y, Y, Y, Y),
    Action.JUNK: (Y, N, Y, Y, Y, Y, Y),
    Action.REOPEN: (N, N, N, Y, Y, Y, Y),
    Action.REASSIGN: (N, N, N, Y, Y, Y, Y),
}
PERMISSION_CASES = [
    (action, situation, allowed)
    for action, row in PERMISSIONS.items()
    for situation, allowed in zip(SITUATIONS, row, strict=True)
]


def test_the_permission_table_covers_every_action() -> None:
    assert set(PERMISSIONS) == set(Action)


@pytest.mark.parametrize(
    ("action", "situation", "allowed"),
    PERMISSION_CASES,
    ids=[f"{a}-{s}-{'yes' if y else 'no'}" for a, s, y in PERMISSION_CASES],
)
def test_may_act_follows_the_permission_table(
    action: Action, situation: str, allowed: bool
) -> None:
    role, actor_id, owner_id = SITUATIONS[situation]
    assert may_act(action, role, actor_id, owner_id) is allowed


@pytest.mark.parametrize("action", [Action.REOPEN, Action.REASSIGN])
@pytest.mark.parametrize("owner_id", [None, OWNER, OTHER], ids=["unowned", "own", "other"])
def test_a_manager_never_reopens_or_reassigns_whoever_owns_the_lead(
    action: Action, owner_id: int | None
) -> None:
    assert may_act(action, Role.MANAGER, OTHER, owner_id) is False


@pytest.mark.parametrize("action", [Action.TAKE, Action.JUNK])
def test_a_manager_may_take_or_junk_an_unowned_lead(action: Action) -> None:
    assert may_act(action, Role.MANAGER, OTHER, None) is True


def test_the_system_close_is_the_machines_junk_transition_from_new_and_call_back() -> None:
    assert STALE_STATUSES == {LeadStatus.NEW, LeadStatus.CALL_BACK}
    for status in STALE_STATUSES:
        assert next_status(Action.JUNK, status, has_owner=True) == LeadStatus.JUNK
        assert next_status(Action.JUNK, status, has_owner=False) == LeadStatus.JUNK
