"""Who gets a new lead: the distribution rules of the configuration, turned into offers.

A lead goes by the first rule it matches (source, service, a field's value, the amount), else
by the default policy: `claim` (the card to every on-duty manager whose skills fit, or to the
team chat; the first press wins), `round_robin` (the next manager in turn) or `least_loaded`
(the fewest open leads, below capacity). A returning client goes to the manager who served
them last when sticky routing is on. An offer to one manager that is not taken in time passes
to the next in turn (`pass_expired_offers`). When nobody fits, the lead waits and supervisors
are told; the first manager to come on duty gets it (`deliver_waiting`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import card_message, card_refresh, enqueue, text_message
from bot.config import AppConfig, RoutingRule
from bot.leads.actions import open_lead_counts
from bot.scoring.scores import scores_for
from storage.models import (
    Lead,
    LeadEvent,
    LeadStatus,
    Role,
    RoutingTurn,
    Staff,
)

DEFAULT_POOL = "default"


@dataclass(frozen=True)
class LeadFacts:
    """What the rules look at, for a lead just written (intake) or read back."""

    id: int
    source: str
    service: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    amount: Decimal | None = None
    contact_id: int | None = None
    is_repeat: bool = False
    score: int | None = None  # the lead score, read only when a rule asks for `min_score`

    @classmethod
    def of(cls, lead: Lead) -> LeadFacts:
        return cls(
            lead.id,
            lead.source,
            lead.service,
            lead.name,
            lead.phone,
            lead.email,
            lead.message,
            lead.extra or {},
            lead.amount,
            lead.contact_id,
            lead.is_repeat,
        )


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    staff_id: int | None


@dataclass
class Team:
    """The people who can be offered leads now, read once per batch."""

    on_duty: list[Staff]  # active on-duty managers, by id
    open_leads: dict[int, int]
    supervisors: list[Staff]
    turns: dict[str, int | None] = field(default_factory=dict)  # pool -> last staff id
    turns_changed: set[str] = field(default_factory=set)

    def fitting(self, skill: str | None) -> list[Staff]:
        """On duty, with the skill (if one is wanted) and below capacity."""
        return [
            person
            for person in self.on_duty
            if (skill is None or skill in (person.skills or []))
            and (person.capacity is None or self.open_leads.get(person.id, 0) < person.capacity)
        ]


async def load_team(session: AsyncSession, config: AppConfig) -> Team:
    active = list(
        (
            await session.scalars(select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.id))
        ).all()
    )
    on_duty = [s for s in active if s.role == Role.MANAGER and s.on_duty]
    policies = {config.routing.policy, *(rule.policy for rule in config.routing.rules)}
    # counting open leads scans them all: done only when a capacity or least_loaded needs it
    # (intake runs this for every batch)
    counts_matter = "least_loaded" in policies or any(s.capacity is not None for s in on_duty)
    turns = dict((await session.execute(select(RoutingTurn.pool, RoutingTurn.last_staff_id))).all())
    return Team(
        on_duty=on_duty,
        open_leads=await open_lead_counts(session, with_offers=True) if counts_matter else {},
        supervisors=[s for s in active if s.role in (Role.SUPERVISOR, Role.ADMIN)],
        turns=turns,
    )


def _amount(lead: LeadFacts) -> Decimal | None:
    raw = lead.amount if lead.amount is not None else (lead.extra or {}).get("amount")
    try:
        return Decimal(str(raw)) if raw is not None else None
    except InvalidOperation:
        return None


def _field_value(lead: LeadFacts, name: str) -> Any:
    if name in ("source", "service", "name", "phone", "email", "message"):
        return getattr(lead, name)
    return (lead.extra or {}).get(name)


def matches(rule: RoutingRule, lead: LeadFacts) -> bool:
    if rule.source is not None and lead.source != rule.source:
        return False
    if rule.service is not None and (lead.service or "").casefold() != rule.service.casefold():
        return False
    if rule.field is not None and str(_field_value(lead, rule.field) or "") != rule.equals:
        return False
    if rule.min_amount is not None:
        amount = _amount(lead)
        if amount is None or amount < rule.min_amount:
            return False
    if rule.min_score is not None and (lead.score is None or lead.score < rule.min_score):
        return False
    return True


async def scored(
    session: AsyncSession, leads: Sequence[LeadFacts], config: AppConfig
) -> list[LeadFacts]:
    """The leads with their scores, when a rule needs them (`min_score`); else as they are.
    The leads are read back (written in this transaction): the score reads all their factors."""
    if not any(rule.min_score is not None for rule in config.routing.rules):
        return list(leads)
    rows = await session.scalars(select(Lead).where(Lead.id.in_([lead.id for lead in leads])))
    scores = await scores_for(session, rows.all(), config)
    return [
        replace(lead, score=score.percent if (score := scores.get(lead.id)) else None)
        for lead in leads
    ]


def rule_for(lead: LeadFacts, rules: Iterable[RoutingRule]) -> RoutingRule | None:
    return next((rule for rule in rules if matches(rule, lead)), None)


def _next_in_turn(people: list[Staff], last: int | None) -> Staff:
    """The first person after `last` by id, wrapping around."""
    later = [person for person in people if last is None or person.id > last]
    return (later or people)[0]


@dataclass(frozen=True)
class Route:
    lead_id: int
    recipients: list[Recipient]
    offered_to: Staff | None = None  # one manager was offered the lead
    skill: str | None = None
    waiting: bool = False  # nobody fits now


def route(
    lead: LeadFacts,
    team: Team,
    config: AppConfig,
    leads_chat_id: int | None,
    last_owner: Staff | None = None,
) -> Route:
    """Where one new lead goes (updates the team's counts and turns in memory, so a batch of
    leads spreads as if they had come one by one)."""
    rule = rule_for(lead, config.routing.rules)
    policy = (rule.policy if rule and rule.policy else None) or config.routing.policy
    skill = rule.skill if rule else None
    pool = rule.name if rule else DEFAULT_POOL
    people = team.fitting(skill)
    if config.routing.sticky and last_owner is not None and last_owner in people:
        return _offer(lead, team, last_owner, skill)
    if policy == "claim":
        if leads_chat_id is not None and skill is None:
            return Route(lead.id, [Recipient(leads_chat_id, None)])
        if people:
            return Route(lead.id, [Recipient(p.telegram_id, p.id) for p in people], skill=skill)
        return Route(lead.id, [], skill=skill, waiting=True)
    if not people:
        return Route(lead.id, [], skill=skill, waiting=True)
    if policy == "least_loaded":
        chosen = min(people, key=lambda p: (team.open_leads.get(p.id, 0), p.id))
    else:
        chosen = _next_in_turn(people, team.turns.get(pool))
        team.turns[pool] = chosen.id
        team.turns_changed.add(pool)
    return _offer(lead, team, chosen, skill)


def _offer(lead: LeadFacts, team: Team, person: Staff, skill: str | None) -> Route:
    # an offer counts towards the load, so least_loaded spreads a burst
    team.open_leads[person.id] = team.open_leads.get(person.id, 0) + 1
    return Route(
        lead.id, [Recipient(person.telegram_id, person.id)], offered_to=person, skill=skill
    )


async def last_owners(session: AsyncSession, leads: Sequence[LeadFacts]) -> dict[int, Staff]:
    """For returning clients: who owned their most recent earlier lead (by lead id)."""
    contacts = {lead.contact_id for lead in leads if lead.contact_id is not None and lead.is_repeat}
    if not contacts:
        return {}
    rows = await session.execute(
        select(Lead.id, Lead.contact_id, Staff)
        .join(Staff, Staff.id == Lead.owner_id)
        .where(Lead.contact_id.in_(contacts))
        .order_by(Lead.id)
    )
    newest: dict[int, tuple[int, Staff]] = {}
    for lead_id, contact_id, staff in rows:
        newest[contact_id] = (lead_id, staff)
    found = {}
    for lead in leads:
        earlier = newest.get(lead.contact_id or 0)
        if earlier is not None and earlier[0] != lead.id:
            found[lead.id] = earlier[1]
    return found


async def route_new_leads(
    session: AsyncSession,
    leads: Sequence[LeadFacts],
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> list[dict[str, Any]]:
    """Decide and record where each lead goes; the outbox rows to send (in the caller's
    transaction)."""
    if not leads:
        return []
    team = await load_team(session, config)
    leads = await scored(session, leads, config)
    owners = await last_owners(session, leads) if config.routing.sticky else {}
    outbox: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    for lead in leads:
        decided = route(lead, team, config, leads_chat_id, owners.get(lead.id))
        outbox += [card_message(lead.id, r.chat_id, r.staff_id, now) for r in decided.recipients]
        offer = decided.offered_to
        offers.append(
            {
                "lead_id": lead.id,
                "offered_to_id": offer.id if offer else None,
                "offered_at": now if offer else None,
                "wanted_skill": decided.skill,
                "waiting_since": now if decided.waiting else None,
            }
        )
        if decided.waiting:  # supervisors are told, and get the card to act on it themselves
            for boss in team.supervisors:
                outbox += [
                    text_message(
                        lead.id,
                        boss.telegram_id,
                        boss.id,
                        "lead_waiting",
                        {"lead_id": lead.id, "skill": decided.skill},
                        now,
                    ),
                    card_message(lead.id, boss.telegram_id, boss.id, now),
                ]
    changed = [o for o in offers if o["offered_to_id"] or o["wanted_skill"] or o["waiting_since"]]
    for values in changed:
        lead_id = values.pop("lead_id")
        await session.execute(update(Lead).where(Lead.id == lead_id).values(**values))
    await _save_turns(session, team, now)
    return outbox


async def _save_turns(session: AsyncSession, team: Team, now: datetime) -> None:
    for pool in team.turns_changed:
        turn = await session.get(RoutingTurn, pool)
        if turn is None:
            session.add(RoutingTurn(pool=pool, last_staff_id=team.turns[pool], updated_at=now))
        else:
            turn.last_staff_id, turn.updated_at = team.turns[pool], now
    await session.flush()


async def pass_expired_offers(session: AsyncSession, now: datetime, config: AppConfig) -> list[int]:
    """Offers not taken within `offer_timeout` pass to the next fitting manager in turn; the
    first card is redrawn ("passed to Boris") and the next one gets a card. One transaction;
    the lead ids passed on."""
    expired = list(
        (
            await session.scalars(
                select(Lead)
                .where(
                    Lead.status == LeadStatus.NEW,
                    Lead.offered_to_id.is_not(None),
                    Lead.offered_at <= now - config.routing.offer_timeout,
                )
                .order_by(Lead.offered_at, Lead.id)
            )
        ).all()
    )
    if not expired:
        return []
    team = await load_team(session, config)
    passed: list[int] = []
    outbox: list[dict[str, Any]] = []
    for lead in expired:
        people = [p for p in team.fitting(lead.wanted_skill) if p.id != lead.offered_to_id]
        if not people:
            continue  # nobody else fits: the offer stays where it is (the overdue list shows it)
        before = lead.offered_to_id  # the UPDATE below refreshes `lead` in the session
        chosen = _next_in_turn(people, before)
        moved = await session.execute(
            update(Lead)
            .where(Lead.id == lead.id, Lead.status == LeadStatus.NEW, Lead.offered_to_id == before)
            .values(
                offered_to_id=chosen.id, offered_at=now, version=Lead.version + 1, updated_at=now
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue  # taken (or passed by another instance) meanwhile
        session.add(
            LeadEvent(
                lead_id=lead.id,
                kind="offer_passed",
                actor_id=None,
                data={"from": before, "to": chosen.id},
                created_at=now,
            )
        )
        outbox += [
            card_refresh(lead.id, now),
            card_message(lead.id, chosen.telegram_id, chosen.id, now),
        ]
        passed.append(lead.id)
    await enqueue(session, outbox)
    await session.commit()
    return passed


async def deliver_waiting(
    session: AsyncSession, now: datetime, config: AppConfig, leads_chat_id: int | None
) -> list[int]:
    """Leads that waited for somebody on duty are routed again (a manager came on duty)."""
    waiting = list(
        (
            await session.scalars(
                select(Lead)
                .where(Lead.status == LeadStatus.NEW, Lead.waiting_since.is_not(None))
                .order_by(Lead.waiting_since, Lead.id)
            )
        ).all()
    )
    if not waiting:
        return []
    await session.execute(
        update(Lead).where(Lead.id.in_([lead.id for lead in waiting])).values(waiting_since=None)
    )
    outbox = await route_new_leads(
        session, [LeadFacts.of(lead) for lead in waiting], now, config, leads_chat_id
    )
    from bot.common.outbox import enqueue

    await enqueue(session, outbox)
    ids = [lead.id for lead in waiting]
    still = select(Lead.id).where(Lead.id.in_(ids), Lead.waiting_since.is_not(None))
    left = set((await session.scalars(still)).all())
    await session.commit()
    return [lead_id for lead_id in ids if lead_id not in left]
