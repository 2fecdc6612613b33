"""Storing a batch of intake requests in one transaction: leads, their history, their cards.

Requests are planned in plain Python first (who is who, which request opens a lead and which
joins one), then written with one multi-row INSERT per table. The ORM's unit of work costs
more per row than the whole write, and intake is the one path that must take bursts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.common.hook_events import HookEvent
from bot.common.outbox import card_refresh, enqueue, text_message
from bot.common.webhooks import Happened, announce, lead_json, wanted
from bot.config import AppConfig, default_config
from bot.intake.duplicates import flag_possible_duplicates, name_key
from bot.intake.input import IntakeResult, LeadInput
from bot.routing.rules import LeadFacts, route_new_leads
from bot.sla.lead_timers import lead_alert
from storage.models import OPEN_STATUSES, Contact, Lead, LeadEvent, LeadStatus, Staff

_CONTACT_FIELDS = ("name", "phone", "email", "telegram_id")


@dataclass(eq=False)
class _Contact:
    id: int | None  # None until the batch inserts it
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    telegram_id: int | None = None
    learnt: bool = False  # an existing contact got a field it lacked
    origin: str | None = None  # a new contact's first source (contacts.first_origin)

    def learn(self, item: LeadInput) -> None:
        """A returning person may bring what we did not know yet; never overwrite what we know."""
        for name in _CONTACT_FIELDS:
            if getattr(self, name) is None and getattr(item, name) is not None:
                setattr(self, name, getattr(item, name))
                self.learnt = self.id is not None


@dataclass(eq=False)
class _Lead:
    """A lead the batch touches: an open one loaded from the database, or one it opens."""

    id: int | None
    status: LeadStatus
    owner_id: int | None = None
    row: dict[str, Any] | None = None  # the columns of a lead this batch opens
    contact: _Contact | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    appended: list[LeadInput] = field(default_factory=list)  # requests joining an open lead


@dataclass
class _Batch:
    """What the batch knows: rows loaded up front plus rows it is about to create."""

    by_external_id: dict[tuple[str, str], _Lead] = field(default_factory=dict)
    by_phone: dict[str, _Contact] = field(default_factory=dict)
    by_email: dict[str, _Contact] = field(default_factory=dict)
    by_telegram: dict[int, _Contact] = field(default_factory=dict)
    open_lead: dict[int, _Lead] = field(default_factory=dict)  # id(contact) -> open lead
    thread_lead: dict[int, _Lead] = field(default_factory=dict)  # open leads replies name
    had_leads: set[int] = field(default_factory=set)  # id(contact) of people we have seen
    loaded: list[_Contact] = field(default_factory=list)  # people we knew before the batch
    new_contacts: list[_Contact] = field(default_factory=list)
    new_leads: list[_Lead] = field(default_factory=list)

    def remember(self, contact: _Contact) -> None:
        if contact.phone:
            self.by_phone.setdefault(contact.phone, contact)
        if contact.email:
            self.by_email.setdefault(contact.email, contact)
        if contact.telegram_id:
            self.by_telegram.setdefault(contact.telegram_id, contact)

    def match(self, item: LeadInput) -> _Contact | None:
        if item.telegram_id and item.telegram_id in self.by_telegram:
            return self.by_telegram[item.telegram_id]
        if item.phone and item.phone in self.by_phone:
            return self.by_phone[item.phone]
        if item.email and item.email in self.by_email:
            return self.by_email[item.email]
        return None


async def _load(session: AsyncSession, inputs: Sequence[LeadInput]) -> _Batch:
    batch = _Batch()
    external = {item.external_id for item in inputs if item.external_id}
    if external:
        rows = await session.execute(
            select(Lead.id, Lead.source, Lead.external_id, Lead.status).where(
                Lead.external_id.in_(external)
            )
        )
        for lead_id, source, external_id, status in rows:
            batch.by_external_id[(source, external_id)] = _Lead(lead_id, LeadStatus(status))
    if threads := {item.thread_lead_id for item in inputs if item.thread_lead_id}:
        rows = await session.execute(
            select(Lead.id, Lead.status, Lead.owner_id).where(
                Lead.id.in_(threads), Lead.status.in_(OPEN_STATUSES)
            )
        )
        for lead_id, status, owner_id in rows:
            batch.thread_lead[lead_id] = _Lead(lead_id, LeadStatus(status), owner_id)
    matchers = []
    if phones := {item.phone for item in inputs if item.phone}:
        matchers.append(Contact.phone.in_(phones))
    if emails := {item.email for item in inputs if item.email}:
        matchers.append(Contact.email.in_(emails))
    if telegram_ids := {item.telegram_id for item in inputs if item.telegram_id}:
        matchers.append(Contact.telegram_id.in_(telegram_ids))
    if not matchers:
        return batch
    found = await session.execute(
        select(Contact.id, Contact.name, Contact.phone, Contact.email, Contact.telegram_id)
        .where(or_(*matchers), Contact.merged_into_id.is_(None))
        .order_by(Contact.id)
    )
    contacts = {row.id: _Contact(*row) for row in found}
    batch.loaded = list(contacts.values())
    for contact in batch.loaded:
        batch.remember(contact)
    if contacts:
        leads = await session.execute(
            select(Lead.id, Lead.contact_id, Lead.status, Lead.owner_id)
            .where(Lead.contact_id.in_(list(contacts)))
            .order_by(Lead.id)
        )
        for lead_id, contact_id, status, owner_id in leads:
            contact = contacts[contact_id]
            batch.had_leads.add(id(contact))
            if status in OPEN_STATUSES:  # the newest open lead wins: rows come oldest first
                batch.open_lead[id(contact)] = _Lead(lead_id, LeadStatus(status), owner_id)
    return batch


def _request_data(item: LeadInput) -> dict[str, Any]:
    data = {
        "source": item.source,
        "name": item.name,
        "phone": item.phone,
        "email": item.email,
        "message": item.message,
        "service": item.service,
        "external_id": item.external_id,
    }
    return {key: value for key, value in data.items() if value is not None}


def _event(kind: str, item: LeadInput, now: datetime) -> dict[str, Any]:
    return {"kind": kind, "actor_id": None, "data": _request_data(item), "created_at": now}


def _open(
    batch: _Batch, contact: _Contact, item: LeadInput, now: datetime, config: AppConfig
) -> _Lead:
    row = {
        "source": item.source,
        "external_id": item.external_id,
        "status": LeadStatus.NEW,
        "owner_id": None,
        "name": item.name,
        "phone": item.phone,
        "email": item.email,
        "message": item.message,
        "service": item.service,
        "utm": item.utm,
        "extra": item.extra,
        "is_repeat": id(contact) in batch.had_leads,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **lead_alert(LeadStatus.NEW, False, now, config),  # "not taken" starts now
    }
    lead = _Lead(None, LeadStatus.NEW, row=row, contact=contact)
    lead.events.append(_event("created", item, now))
    batch.new_leads.append(lead)
    batch.open_lead[id(contact)] = lead
    batch.had_leads.add(id(contact))
    return lead


def _join(lead: _Lead, item: LeadInput, now: datetime) -> None:
    lead.events.append(_event("repeat_request", item, now))
    if lead.row is None:
        lead.appended.append(item)
        return
    # a lead opened earlier in this batch: its card is not out yet and will show all of this
    lead.row["version"] += 1
    for name in ("name", "phone", "email"):
        lead.row[name] = lead.row[name] or getattr(item, name)


async def intake_leads(
    session: AsyncSession,
    inputs: Sequence[LeadInput],
    now: datetime,
    leads_chat_id: int | None = None,
    config: AppConfig | None = None,
    commit: bool = True,
) -> list[IntakeResult]:
    """Store a batch of requests in one transaction, with their events and notifications
    (`commit=False`: the caller adds to the transaction and commits it).

    Requests are taken in order, so a second request from the same person in the same batch
    joins the lead the first one opened.
    """
    config = config or default_config()
    batch = await _load(session, inputs)
    outcomes: list[tuple[_Lead, bool, bool]] = []  # lead, created, appended
    for item in inputs:
        key = (item.source, item.external_id or "")
        if item.external_id and key in batch.by_external_id:
            outcomes.append((batch.by_external_id[key], False, False))
            continue
        thread = batch.thread_lead.get(item.thread_lead_id or 0)
        if thread is not None:  # a reply in the lead's own thread: that lead hears it
            _join(thread, item, now)
            outcomes.append((thread, False, True))
            continue
        contact = batch.match(item)
        if contact is None:
            contact = _Contact(None, origin=item.source)
            batch.new_contacts.append(contact)
        contact.learn(item)
        batch.remember(contact)
        open_lead = batch.open_lead.get(id(contact))
        if open_lead is not None:
            _join(open_lead, item, now)
            outcomes.append((open_lead, False, True))
            continue
        lead = _open(batch, contact, item, now, config)
        if item.external_id:
            batch.by_external_id[key] = lead
        outcomes.append((lead, True, False))
    await _write(session, batch, outcomes, now, leads_chat_id, config)
    results = [
        IntakeResult(
            lead_id=lead.id or 0,
            status=lead.status,
            duplicate_of=lead.id if appended else None,
            created=created,
        )
        for lead, created, appended in outcomes
    ]
    if commit:
        await session.commit()
    return results


async def _insert_returning_ids(
    session: AsyncSession, model: type[Contact] | type[Lead], rows: list[dict[str, Any]]
) -> list[int]:
    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list((await session.execute(statement, rows)).scalars())


async def _write(
    session: AsyncSession,
    batch: _Batch,
    outcomes: list[tuple[_Lead, bool, bool]],
    now: datetime,
    leads_chat_id: int | None,
    config: AppConfig,
) -> None:
    if batch.new_contacts:
        rows = [
            {
                "name": c.name,
                "phone": c.phone,
                "email": c.email,
                "telegram_id": c.telegram_id,
                "name_key": name_key(c.name),
                "created_at": now,
                "first_origin": c.origin,
            }
            for c in batch.new_contacts
        ]
        for contact, contact_id in zip(
            batch.new_contacts, await _insert_returning_ids(session, Contact, rows), strict=True
        ):
            contact.id = contact_id
    for contact in batch.loaded:
        if contact.learnt:
            await _save_learnt(session, contact)
    outbox: list[dict[str, Any]] = []
    if batch.new_leads:
        rows = []
        for lead in batch.new_leads:
            assert lead.row is not None and lead.contact is not None
            rows.append({**lead.row, "contact_id": lead.contact.id})
        for lead, lead_id in zip(
            batch.new_leads, await _insert_returning_ids(session, Lead, rows), strict=True
        ):
            lead.id = lead_id
        # people seen for the first time may be someone we know under a mistyped phone
        fresh = {id(contact) for contact in batch.new_contacts}
        firsts = [_facts(lead) for lead in batch.new_leads if id(lead.contact) in fresh]
        await flag_possible_duplicates(
            session, [(f.id, f.contact_id or 0, f.name, f.phone) for f in firsts]
        )
        facts = [_facts(lead) for lead in batch.new_leads]
        outbox += await route_new_leads(session, facts, now, config, leads_chat_id)
    touched = {id(lead): lead for lead, _, _ in outcomes}.values()
    events = [{**event, "lead_id": lead.id} for lead in touched for event in lead.events]
    if events:
        await session.execute(insert(LeadEvent.__table__), events)
    for lead in touched:
        if lead.appended:
            outbox += await _append_to_open_lead(session, lead, now)
    await enqueue(session, outbox)
    if wanted(config, HookEvent.LEAD_CREATED, HookEvent.MESSAGE_RECEIVED):
        await announce(session, config, await _happened(session, batch, touched, config), now)


async def _happened(
    session: AsyncSession, batch: _Batch, touched: Iterable[_Lead], config: AppConfig
) -> list[Happened]:
    """What the batch announces: each new lead (lead.created), then each request that joined
    an open lead (message.received), lead by lead in the order they came."""
    earlier = [lead.id for lead in touched if lead.row is None and lead.id is not None]
    loaded = await session.scalars(
        select(Lead)
        .where(Lead.id.in_(earlier))
        .options(joinedload(Lead.owner))
        .execution_options(populate_existing=True)
    )
    snapshots = {lead.id: lead_json(lead, lead.owner, config.currency) for lead in loaded}
    for lead in batch.new_leads:
        assert lead.id is not None and lead.row is not None and lead.contact is not None
        row = SimpleNamespace(
            **{"amount": None, **lead.row}, id=lead.id, contact_id=lead.contact.id
        )
        snapshots[lead.id] = lead_json(row, None, config.currency)
    happened = []
    for lead in touched:
        assert lead.id is not None
        for event in lead.events:
            kind = HookEvent.LEAD_CREATED if event["kind"] == "created" else None
            data: dict[str, Any] = {}
            if event["kind"] == "repeat_request":
                kind, data = HookEvent.MESSAGE_RECEIVED, dict(event["data"])
            if kind is not None:
                happened.append(Happened(kind, lead.id, snapshots.get(lead.id), None, data))
    return happened


def _facts(lead: _Lead) -> LeadFacts:
    assert lead.id is not None and lead.row is not None and lead.contact is not None
    row = lead.row
    return LeadFacts(
        lead.id,
        row["source"],
        row["service"],
        row["name"],
        row["phone"],
        row["email"],
        row["message"],
        row["extra"] or {},
        None,
        lead.contact.id,
        row["is_repeat"],
    )


async def _save_learnt(session: AsyncSession, contact: _Contact) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(
            name=contact.name,
            phone=contact.phone,
            email=contact.email,
            telegram_id=contact.telegram_id,
            name_key=name_key(contact.name),
        )
    )


async def _append_to_open_lead(
    session: AsyncSession, lead: _Lead, now: datetime
) -> list[dict[str, Any]]:
    """People wrote again while their lead is open: it changes (so its cards are redrawn) and
    its owner hears of each request."""
    assert lead.id is not None
    learnt = {
        name: func.coalesce(getattr(Lead, name), value)
        for name in ("name", "phone", "email")
        if (value := next((v for i in lead.appended if (v := getattr(i, name))), None))
    }
    await session.execute(
        update(Lead)
        .where(Lead.id == lead.id)
        .values(version=Lead.version + len(lead.appended), updated_at=now, **learnt)
    )
    notes = [card_refresh(lead.id, now)]
    if lead.owner_id is None:
        return notes
    owner = await session.get(Staff, lead.owner_id)
    if owner is None or not owner.is_active:
        return notes
    for item in lead.appended:
        context = {"lead_id": lead.id, "message": item.message, "source": item.source}
        notes.append(
            text_message(
                lead.id,
                owner.telegram_id,
                owner.id,
                "lead_appended",
                context,
                now,
                reply=item.telegram_id is not None or item.answerable,
            )
        )
    return notes
