"""Staff: the Telegram users who work leads, and what each may do."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.hook_events import HookEvent
from bot.common.lifecycle import WORKING
from bot.common.outbox import card_refresh, enqueue, text_message
from bot.common.webhooks import Happened, announce, lead_json, person, wanted
from bot.config import AppConfig, default_config
from bot.routing.rules import LeadFacts, deliver_waiting, route_new_leads
from bot.sla.lead_timers import lead_alert
from storage.models import Lead, LeadEvent, LeadStatus, Role, Staff, Task

log = logging.getLogger("leadbot.staff")


async def active_staff(session: AsyncSession, telegram_id: int) -> Staff | None:
    """The staff member behind a Telegram user, re-read on every update: a removed person
    loses their buttons at once."""
    return await session.scalar(
        select(Staff).where(Staff.telegram_id == telegram_id, Staff.is_active.is_(True))
    )


async def add_staff(
    session: AsyncSession,
    telegram_id: int,
    role: Role,
    name: str,
    now: datetime,
    extension: str | None = None,
) -> Staff:
    """Add (or re-activate and update) a staff member; they start active and on duty. An
    `extension` (their internal number on the PBX) is kept when none is given."""
    staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    if staff is None:
        staff = Staff(telegram_id=telegram_id, created_at=now, name=name, role=role)
        session.add(staff)
    staff.name = name
    staff.role = role
    staff.is_active = True
    staff.on_duty = True
    if extension is not None:
        staff.extension = extension.strip() or None
    await session.commit()
    return staff


async def list_staff(session: AsyncSession) -> list[Staff]:
    return list((await session.scalars(select(Staff).order_by(Staff.id))).all())


async def remove_staff(
    session: AsyncSession,
    telegram_id: int,
    now: datetime,
    leads_chat_id: int | None = None,
    config: AppConfig | None = None,
) -> Staff | None:
    """`leadbot staff remove`: deactivate, never delete (the history keeps naming who did
    what), exactly as an admin's Deactivate does: open leads back to the pool, person told."""
    staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    if staff is None:
        return None
    if staff.is_active:
        await _deactivate(session, staff, None, now, leads_chat_id, config)
    return staff


async def ensure_admins(session: AsyncSession, telegram_ids: list[int], now: datetime) -> None:
    """ADMIN_IDS are admins on every start; names are filled in when they first write."""
    for telegram_id in telegram_ids:
        staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
        if staff is None:
            session.add(
                Staff(
                    telegram_id=telegram_id,
                    name=f"admin {telegram_id}",
                    role=Role.ADMIN,
                    created_at=now,
                )
            )
        elif staff.role != Role.ADMIN or not staff.is_active:
            staff.role = Role.ADMIN
            staff.is_active = True
    await session.commit()


async def remember_language(session: AsyncSession, staff: Staff, language: str | None) -> None:
    """Cards follow the language of the person's Telegram app."""
    code = staff_language(language)
    if staff.language != code:
        staff.language = code
        await session.commit()


def staff_language(code: str | None) -> str | None:
    """The language of a person's Telegram app as leadbot speaks it: "ru", "en" or unknown."""
    return next((c for c in ("ru", "en") if code and code.startswith(c)), None)


# --- an admin's changes to a person (/staff) ------------------------------------------------

MAX_SKILLS = 10
MAX_SKILL_LENGTH = 32
MAX_CAPACITY = 500
_SKILL = re.compile(r"^[\w-]+$")  # letters of any alphabet, digits, "_" and "-"
_SKILL_SEPARATORS = re.compile(r"[,;\n]")


class StaffRefusal(enum.StrEnum):
    """Why an admin's change to a person changed nothing (alert template `staff_refusal`)."""

    NOT_ADMIN = "not_admin"  # the presser is no longer an active admin
    NOT_FOUND = "not_found"  # no such person, or deactivated meanwhile
    SELF = "self"  # an admin may neither deactivate nor demote themself: an admin always stays


@dataclass(frozen=True)
class StaffResult:
    staff: Staff | None
    refusal: StaffRefusal | None = None
    changed: bool = True  # False: it already was so (a second press)
    returned: tuple[int, ...] = ()  # leads a deactivation sent back to the pool

    @property
    def ok(self) -> bool:
        return self.refusal is None


class UnreadableAnswer(ValueError):
    """A typed skills list or capacity that cannot be saved; `problem` names the template
    branch that explains it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def read_skills(text: str) -> list[str]:
    """Service tags typed as "Senior, group tour": lower case, inner spaces as "_", each once,
    in the order typed. "-" (or nothing) clears the list."""
    if text.strip() in ("", "-"):
        return []
    skills: list[str] = []
    for part in _SKILL_SEPARATORS.split(text):
        tag = "_".join(part.strip().lower().split())
        if not tag:
            continue
        if len(tag) > MAX_SKILL_LENGTH:
            raise UnreadableAnswer("too_long")
        if not _SKILL.match(tag):
            raise UnreadableAnswer("characters")
        if tag not in skills:
            skills.append(tag)
    if len(skills) > MAX_SKILLS:
        raise UnreadableAnswer("too_many")
    return skills


def read_capacity(text: str) -> int | None:
    """The most open leads a manager may hold, 1-500; "-" means no limit (None)."""
    cleaned = text.strip()
    if cleaned == "-":
        return None
    if not cleaned.isdecimal() or not 1 <= int(cleaned) <= MAX_CAPACITY:
        raise UnreadableAnswer("range")
    return int(cleaned)


async def _target(session: AsyncSession, staff_id: int, actor: Staff) -> StaffResult:
    """The person an admin acts on, re-read now; refused unless `actor` is an active admin and
    the person is active staff."""
    if actor.role != Role.ADMIN or not actor.is_active:
        return StaffResult(None, StaffRefusal.NOT_ADMIN)
    target = await session.scalar(
        select(Staff).where(Staff.id == staff_id).execution_options(populate_existing=True)
    )
    if target is None or not target.is_active:
        return StaffResult(target, StaffRefusal.NOT_FOUND)
    return StaffResult(target)


async def set_role(
    session: AsyncSession, staff_id: int, role: Role, actor: Staff, now: datetime
) -> StaffResult:
    """An admin gives a person another role; the person is told. Their leads stay theirs."""
    found = await _target(session, staff_id, actor)
    if not found.ok or found.staff is None:
        return found
    target = found.staff
    if target.role == role:
        return StaffResult(target, changed=False)
    if target.id == actor.id:
        return StaffResult(target, StaffRefusal.SELF)
    target.role = role
    told = text_message(
        None,
        target.telegram_id,
        target.id,
        "staff_role_changed",
        {"role": role.value, "by": actor.name},
        now,
    )
    await enqueue(session, [told])
    await session.commit()
    log.info("role staff=%s role=%s by=%s", target.id, role.value, actor.id)
    return StaffResult(target)


async def set_skills(
    session: AsyncSession, staff_id: int, skills: Sequence[str], actor: Staff, now: datetime
) -> StaffResult:
    """The service tags the distribution rules match (from `read_skills`)."""
    found = await _target(session, staff_id, actor)
    if not found.ok or found.staff is None:
        return found
    found.staff.skills = list(skills)
    await session.commit()
    log.info("skills staff=%s skills=%s by=%s", staff_id, ",".join(skills), actor.id)
    return found


async def set_capacity(
    session: AsyncSession, staff_id: int, capacity: int | None, actor: Staff, now: datetime
) -> StaffResult:
    """The most open leads the person may hold (from `read_capacity`); None: no limit."""
    found = await _target(session, staff_id, actor)
    if not found.ok or found.staff is None:
        return found
    found.staff.capacity = capacity
    await session.commit()
    log.info("capacity staff=%s capacity=%s by=%s", staff_id, capacity, actor.id)
    return found


async def return_to_pool(
    session: AsyncSession,
    lead_ids: Sequence[int],
    now: datetime,
    leads_chat_id: int | None,
    config: AppConfig | None = None,
) -> None:
    """Leads that are new again go out by the distribution rules, as a new lead does.

    Chats that hold a card of a lead already see it change back in place (its card_refresh);
    the notifier never sends a lead's card to a chat twice, so new cards reach only people
    who had no copy."""
    if not lead_ids:
        return
    leads = await session.scalars(
        select(Lead).where(Lead.id.in_(lead_ids)).execution_options(populate_existing=True)
    )
    facts = [LeadFacts.of(lead) for lead in leads]
    rules = config or default_config()
    await enqueue(session, await route_new_leads(session, facts, now, rules, leads_chat_id))


async def deactivate_staff(
    session: AsyncSession,
    staff_id: int,
    actor: Staff,
    now: datetime,
    leads_chat_id: int | None = None,
    config: AppConfig | None = None,
) -> StaffResult:
    """An admin deactivates a person, in one transaction: they stop being staff (their buttons
    stop working with the next press) and go off duty; their leads in work or waiting for a
    call-back go back to the pool (new, no owner, a `returned_to_pool` event each, their open
    tasks closed, every card redrawn, cards for the pool), as do new leads offered to them
    alone; the person is told. History keeps
    their name. Of two admins confirming at once, one deactivates and the other is told the
    person is no longer active."""
    found = await _target(session, staff_id, actor)
    if not found.ok or found.staff is None:
        return found
    target = found.staff
    if target.id == actor.id:
        return StaffResult(target, StaffRefusal.SELF)
    return await _deactivate(session, target, actor, now, leads_chat_id, config)


async def _deactivate(
    session: AsyncSession,
    target: Staff,
    actor: Staff | None,
    now: datetime,
    leads_chat_id: int | None,
    config: AppConfig | None,
) -> StaffResult:
    """The change itself; `actor` None: done from the command line by the operator."""
    actor_id = actor.id if actor is not None else None
    claimed = await session.execute(
        update(Staff)
        .where(Staff.id == target.id, Staff.is_active.is_(True))
        .values(is_active=False, on_duty=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.commit()
        return StaffResult(target, StaffRefusal.NOT_FOUND)
    rules = config or default_config()
    listening = wanted(rules, HookEvent.LEAD_REASSIGNED, HookEvent.LEAD_STATUS_CHANGED)
    # a receiver hears the status each lead moved from: one UPDATE per source status then
    groups = [[status] for status in sorted(WORKING)] if listening else [sorted(WORKING)]
    before: dict[int, LeadStatus] = {}
    for group in groups:
        returned = await session.scalars(
            update(Lead)
            .where(Lead.owner_id == target.id, Lead.status.in_(group))
            .values(
                status=LeadStatus.NEW,
                owner_id=None,
                taken_at=None,
                offered_to_id=None,
                offered_at=None,
                updated_at=now,
                version=Lead.version + 1,
                **lead_alert(LeadStatus.NEW, False, now, rules),
            )
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        before |= {lead_id: LeadStatus(group[0]) for lead_id in returned.all()}
    lead_ids = sorted(before)
    # new leads offered to them alone (round robin) are open to everyone again too
    offered = await session.scalars(
        update(Lead)
        .where(Lead.offered_to_id == target.id, Lead.status == LeadStatus.NEW)
        .values(offered_to_id=None, offered_at=None, updated_at=now, version=Lead.version + 1)
        .returning(Lead.id)
        .execution_options(synchronize_session=False)
    )
    pool = sorted({*lead_ids, *offered.all()})
    for lead_id in pool:
        session.add(
            LeadEvent(
                lead_id=lead_id,
                kind="returned_to_pool",
                actor_id=actor_id,
                data={"from": target.id},
                created_at=now,
            )
        )
    await session.execute(
        update(Task)
        .where(
            Task.done_at.is_(None), or_(Task.lead_id.in_(lead_ids), Task.assignee_id == target.id)
        )
        .values(done_at=now)
    )
    await enqueue(session, [card_refresh(lead_id, now) for lead_id in pool])
    if listening and lead_ids:
        await _announce_returned(session, lead_ids, before, target, actor, now, rules)
    await return_to_pool(session, pool, now, leads_chat_id, config)
    by = actor.name if actor is not None else None
    told = text_message(
        None,
        target.telegram_id,
        target.id,
        "staff_deactivated",
        {"by": by, "lead_ids": lead_ids},
        now,
    )
    await enqueue(session, [told])
    await session.commit()
    log.info("deactivated staff=%s by=%s leads_returned=%s", target.id, actor_id, lead_ids)
    return StaffResult(target, returned=tuple(lead_ids))


async def _announce_returned(
    session: AsyncSession,
    lead_ids: list[int],
    before: dict[int, LeadStatus],
    target: Staff,
    actor: Staff | None,
    now: datetime,
    config: AppConfig,
) -> None:
    """The deactivated person's leads went back to the pool: each has no owner now
    (lead.reassigned, to nobody) and is new again (lead.status_changed)."""
    leads = await session.scalars(
        select(Lead)
        .where(Lead.id.in_(lead_ids))
        .order_by(Lead.id)
        .execution_options(populate_existing=True)
    )
    who, was = person(actor), person(target)
    happened: list[Happened] = []
    for lead in leads:
        snapshot = lead_json(lead, None, config.currency)
        moved = {"from": str(before[lead.id]), "to": str(lead.status)}
        happened += [
            Happened(
                HookEvent.LEAD_REASSIGNED,
                lead.id,
                snapshot,
                who,
                {"from_owner": was, "to_owner": None, "reason": "returned_to_pool"},
            ),
            Happened(HookEvent.LEAD_STATUS_CHANGED, lead.id, snapshot, who, moved),
        ]
    await announce(session, config, happened, now)


async def set_duty(
    session: AsyncSession,
    staff: Staff,
    on_duty: bool,
    now: datetime,
    config: AppConfig | None = None,
    leads_chat_id: int | None = None,
) -> bool:
    """On or off duty (/duty): off-duty managers get no new cards. A manager coming on duty
    gets, in the same transaction, the leads that waited for somebody on duty (when `config`
    is given: the distribution rules decide). Staff have no history table of their own, so the
    change is logged. False: it already was so."""
    if staff.on_duty == on_duty:
        return False
    await session.execute(update(Staff).where(Staff.id == staff.id).values(on_duty=on_duty))
    staff.on_duty = on_duty
    delivered: list[int] = []
    if on_duty and config is not None and staff.role == Role.MANAGER:
        delivered = await deliver_waiting(session, now, config, leads_chat_id)  # commits
    await session.commit()
    log.info(
        "duty staff=%s on_duty=%s at=%s waiting_delivered=%s",
        staff.id,
        on_duty,
        now.isoformat(),
        delivered,
    )
    return True
