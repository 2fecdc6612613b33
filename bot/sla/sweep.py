"""The time-limit sweep: reminders and escalations that are due are claimed, recorded and
queued, each step once, even with two instances sweeping one database.

A lead or task row with `alert_at <= now` is due for the step `step_at(kind, alert_level)`.
Claiming it clears `alert_at` and bumps `alert_level` in one statement (SQLite: UPDATE ...
RETURNING; PostgreSQL: the same with FOR NO KEY UPDATE SKIP LOCKED on the chosen rows), so of
two sweeps exactly one gets each row; the next step's time is written, the event and the outbox
rows added, and everything committed together: a restart neither loses nor repeats a step.
Only due rows are read (indexed `alert_at`): the cost grows with what is due, not the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import alert_message, enqueue
from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import Step, alert_time, step_at
from bot.sla.lead_timers import lead_alert_kind
from storage.models import OPEN_STATUSES, Lead, LeadEvent, LeadStatus, Role, Staff, Task

EVENT_OF_STEP = {Step.REMIND: "reminded", Step.ESCALATE: "escalated"}
SUPERVISING = (Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True)
class FiredAlert:
    lead_id: int
    task_id: int | None
    kind: AlertKind
    step: Step
    level: int  # steps fired so far, this one included (a Snooze press must match it)
    recipients: tuple[int, ...]  # chat ids


@dataclass(frozen=True)
class _Claimed:
    """One due row, as claimed: its limit, the step that fires, where its steps count from."""

    lead_id: int
    task_id: int | None
    kind: AlertKind
    level: int  # after the claim
    start: datetime
    assignee_id: int | None = None


# The other conditions are written as expressions no index serves, so that the planner ranges
# over alert_at (what is due) instead of scanning every open lead by status (SQLite chose the
# status index otherwise: the cost grew with the open leads, not with what is due).
LEAD_OPEN = func.coalesce(Lead.status, "").in_(OPEN_STATUSES)
TASK_OPEN = func.coalesce(Task.done_at, None).is_(None)


def due_ids(
    table: Table, still_open: ColumnElement[bool], now: datetime, limit: int
) -> Select[Any]:
    """Ids of up to `limit` open rows of `table` whose step is due at `now`, earliest first:
    what a sweep claims (bench/sweep.py prints its plan)."""
    due = select(table.c.id).where(table.c.alert_at <= now, still_open)
    return due.order_by(table.c.alert_at).limit(limit)


async def _claim_due(
    session: AsyncSession,
    table: Table,
    still_open: ColumnElement[bool],
    now: datetime,
    limit: int,
    returning: Sequence[ColumnElement[Any]],
) -> Result[Any]:
    """Clear `alert_at` and count the step on the due rows, returning `returning` of each."""
    due = due_ids(table, still_open, now, limit)
    if session.bind.dialect.name != "sqlite":  # SQLite: one writer, the UPDATE is the claim
        # NO KEY UPDATE: a row only share-locked by a foreign-key check (a card or event being
        # written for the lead) is still claimed now, not skipped until the next sweep
        due = due.with_for_update(skip_locked=True, key_share=True)
    return await session.execute(
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(alert_at=None, alert_level=table.c.alert_level + 1)
        .returning(*returning)
    )


async def _claim_leads(session: AsyncSession, now: datetime, limit: int) -> list[_Claimed]:
    table = Lead.__table__
    claimed = await _claim_due(
        session,
        table,
        LEAD_OPEN,
        now,
        limit,
        [
            table.c.id,
            table.c.status,
            table.c.contacted_at,
            table.c.alert_level,
            table.c.alert_since,
        ],
    )
    found = []
    for lead_id, status, contacted_at, level, since in claimed:
        kind = lead_alert_kind(status, contacted_at is not None)
        if kind is not None and since is not None:
            found.append(_Claimed(lead_id, None, kind, level, since))
    return found


async def _claim_tasks(session: AsyncSession, now: datetime, limit: int) -> list[_Claimed]:
    table = Task.__table__
    claimed = await _claim_due(
        session,
        table,
        TASK_OPEN,
        now,
        limit,
        [
            table.c.id,
            table.c.lead_id,
            table.c.kind,
            table.c.alert_level,
            table.c.due_at,
            table.c.assignee_id,
        ],
    )
    found = []
    for task_id, lead_id, kind, level, due_at, assignee_id in claimed:
        if kind in AlertKind.__members__.values():
            found.append(_Claimed(lead_id, task_id, AlertKind(kind), level, due_at, assignee_id))
    return found


async def _write_next(
    session: AsyncSession, rows: Sequence[_Claimed], config: AppConfig, tasks: bool
) -> None:
    """The next step's time of each claimed row (None when its last step fired)."""
    params = [
        {
            "b_id": row.task_id if tasks else row.lead_id,
            "b_at": alert_time(row.kind, row.start, row.level, config),
        }
        for row in rows
    ]
    params = [p for p in params if p["b_at"] is not None]
    if not params:
        return
    table = Task.__table__ if tasks else Lead.__table__
    await session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(alert_at=bindparam("b_at")),
        params,
    )


@dataclass(frozen=True)
class _People:
    staff: dict[int, Staff]
    supervisors: list[Staff]
    on_duty: list[Staff]


async def _people(session: AsyncSession) -> _People:
    active = list(
        (
            await session.scalars(select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.id))
        ).all()
    )
    return _People(
        staff={person.id: person for person in active},
        supervisors=[p for p in active if p.role in SUPERVISING],
        on_duty=[p for p in active if p.role == Role.MANAGER and p.on_duty],
    )


def _pool(lead: Lead, people: _People, leads_chat_id: int | None) -> list[tuple[int, int | None]]:
    """Who may take a new lead, as its card went out (bot/routing/rules.py): the manager it is
    offered to, else the team chat, else the managers on duty (with the wanted skill)."""
    offered = people.staff.get(lead.offered_to_id or 0)
    if offered is not None:
        return [(offered.telegram_id, offered.id)]
    if leads_chat_id is not None and lead.wanted_skill is None:
        return [(leads_chat_id, None)]
    skill = lead.wanted_skill
    return [
        (p.telegram_id, p.id) for p in people.on_duty if skill is None or skill in (p.skills or [])
    ]


def recipients(
    row: _Claimed, step: Step, lead: Lead, people: _People, leads_chat_id: int | None
) -> list[tuple[int, int | None]]:
    """(chat id, staff id) of whoever gets this step: supervisors for an escalation; for a
    reminder the pool while the lead is not taken, else its owner (or the task's assignee)."""
    if step is Step.ESCALATE:
        return [(p.telegram_id, p.id) for p in people.supervisors]
    if row.kind is not AlertKind.NOT_TAKEN:
        for person_id in (lead.owner_id, row.assignee_id):
            person = people.staff.get(person_id or 0)
            if person is not None:
                return [(person.telegram_id, person.id)]
    return _pool(lead, people, leads_chat_id)


async def fire_due_alerts(
    session: AsyncSession,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    limit: int = 500,
) -> list[FiredAlert]:
    """Fire every reminder and escalation due at `now` (up to `limit` leads and `limit`
    tasks): one transaction with the claims, the next steps, the events and the alerts."""
    leads = await _claim_leads(session, now, limit)
    tasks = await _claim_tasks(session, now, limit)
    if not leads and not tasks:
        await session.commit()
        return []
    await _write_next(session, leads, config, tasks=False)
    await _write_next(session, tasks, config, tasks=True)
    lead_ids = list({row.lead_id for row in (*leads, *tasks)})
    by_id = {
        lead.id: lead
        for lead in (await session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))).all()
    }
    people = await _people(session)
    fired: list[FiredAlert] = []
    outbox: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in (*leads, *tasks):
        lead = by_id.get(row.lead_id)
        step = step_at(row.kind, row.level - 1, config)
        if lead is None or step is None or lead.status not in OPEN_STATUSES:
            continue  # a task of a closed lead: its steps are spent without a word
        if row.kind is AlertKind.NOT_TAKEN and lead.status != LeadStatus.NEW:
            continue
        chats = recipients(row, step, lead, people, leads_chat_id)
        alert = FiredAlert(
            lead.id, row.task_id, row.kind, step, row.level, tuple(chat for chat, _ in chats)
        )
        fired.append(alert)
        events.append(
            {
                "lead_id": lead.id,
                "kind": EVENT_OF_STEP[step],
                "actor_id": None,
                "data": _event_data(alert),
                "created_at": now,
            }
        )
        payload = {
            "kind": row.kind.value,
            "step": step.value,
            "level": row.level,
            "task_id": row.task_id,
            # the real wait: from where the limit started (a lead's alert_since, a task's
            # due_at) to now, which working hours, snoozes and slow sweeps make longer than
            # the configured step
            "waited": max(0, int((now - row.start).total_seconds() // 60)),
        }
        outbox += [alert_message(lead.id, chat, staff_id, payload, now) for chat, staff_id in chats]
    if events:  # one multi-row INSERT each: the cost of a sweep is its due rows, little else
        await session.execute(insert(LeadEvent.__table__), events)
    await enqueue(session, outbox)
    await session.commit()
    return fired


def _event_data(alert: FiredAlert) -> dict[str, Any]:
    return {
        "kind": alert.kind.value,
        "step": alert.step.value,
        "level": alert.level,
        "task_id": alert.task_id,
        "recipients": list(alert.recipients),
    }
