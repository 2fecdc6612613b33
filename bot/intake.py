"""Intake: a request from any channel becomes a lead, or joins its contact's open lead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts import InvalidContactField, normalise_email, normalise_phone
from bot.outbox import card_message, card_refresh, text_message
from bot.routing import Recipient, card_recipients
from storage.models import OPEN_STATUSES, Contact, Lead, LeadEvent, LeadStatus, Staff

TEXT_FIELDS = ("name", "phone", "email", "message", "source", "service", "external_id")
DEFAULT_SOURCE = "web_form"
_MAX_SOURCE = 64
_MAX_EXTERNAL_ID = 128


class IntakeError(ValueError):
    """The request cannot become a lead; `field` names what to fix."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LeadInput:
    source: str
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None  # lower-case
    message: str | None = None
    service: str | None = None
    external_id: str | None = None
    telegram_id: int | None = None
    utm: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    lead_id: int
    status: LeadStatus
    duplicate_of: int | None
    created: bool


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeError(f"{key} must be a string", key)
    text = str(value).strip()
    return text or None


def parse_lead_input(raw: Mapping[str, Any], phone_region: str) -> LeadInput:
    """Check and normalise what a form or an API client sent."""
    values = {key: _text(raw, key) for key in TEXT_FIELDS}
    phone = email = None
    try:
        if values["phone"]:
            phone = normalise_phone(values["phone"], phone_region)
        if values["email"]:
            email = normalise_email(values["email"])
    except InvalidContactField as exc:
        raise IntakeError(str(exc), exc.field) from exc
    if not (phone or email or values["message"]):
        raise IntakeError("a lead needs a phone, an e-mail or a message", "phone")
    source = (values["source"] or DEFAULT_SOURCE).lower()
    if len(source) > _MAX_SOURCE:
        raise IntakeError(f"source is longer than {_MAX_SOURCE} characters", "source")
    external_id = values["external_id"]
    if external_id and len(external_id) > _MAX_EXTERNAL_ID:
        raise IntakeError(
            f"external_id is longer than {_MAX_EXTERNAL_ID} characters", "external_id"
        )
    utm = {key: value for key, value in raw.items() if key.startswith("utm_")}
    extra = {key: value for key, value in raw.items() if key not in TEXT_FIELDS and key not in utm}
    return LeadInput(
        source=source, name=values["name"], phone=phone, email=email,
        message=values["message"], service=values["service"], external_id=external_id,
        utm=utm, extra=extra,
    )  # fmt: skip


@dataclass
class _Known:
    """What the batch knows already: rows loaded up front plus rows it has just created."""

    by_external_id: dict[tuple[str, str], Lead]
    contact_by_phone: dict[str, Contact]
    contact_by_email: dict[str, Contact]
    contact_by_telegram: dict[int, Contact]
    open_lead: dict[int, Lead]  # contact id -> its newest open lead
    has_leads: set[int]  # contact ids that have any lead
    new_open_lead: dict[int, Lead] = field(default_factory=dict)  # id(contact) -> lead, in batch
    new_has_leads: set[int] = field(default_factory=set)  # id(contact), in batch


async def _load_known(session: AsyncSession, inputs: Sequence[LeadInput]) -> _Known:
    external = {item.external_id for item in inputs if item.external_id}
    phones = {item.phone for item in inputs if item.phone}
    emails = {item.email for item in inputs if item.email}
    telegram_ids = {item.telegram_id for item in inputs if item.telegram_id}
    by_external_id: dict[tuple[str, str], Lead] = {}
    if external:
        for lead in await session.scalars(select(Lead).where(Lead.external_id.in_(external))):
            by_external_id[(lead.source, lead.external_id or "")] = lead
    contacts: list[Contact] = []
    matchers = []
    if phones:
        matchers.append(Contact.phone.in_(phones))
    if emails:
        matchers.append(Contact.email.in_(emails))
    if telegram_ids:
        matchers.append(Contact.telegram_id.in_(telegram_ids))
    if matchers:
        contacts = list(
            (
                await session.scalars(
                    select(Contact)
                    .where(or_(*matchers), Contact.merged_into_id.is_(None))
                    .order_by(Contact.id)
                )
            ).all()
        )
    known = _Known(by_external_id, {}, {}, {}, {}, set())
    for contact in contacts:
        if contact.phone:
            known.contact_by_phone.setdefault(contact.phone, contact)
        if contact.email:
            known.contact_by_email.setdefault(contact.email, contact)
        if contact.telegram_id:
            known.contact_by_telegram.setdefault(contact.telegram_id, contact)
    if contacts:
        leads = await session.scalars(
            select(Lead).where(Lead.contact_id.in_([c.id for c in contacts])).order_by(Lead.id)
        )
        for lead in leads:
            assert lead.contact_id is not None
            known.has_leads.add(lead.contact_id)
            if lead.status in OPEN_STATUSES:
                known.open_lead[lead.contact_id] = lead
    return known


def _match_contact(known: _Known, item: LeadInput) -> Contact | None:
    if item.telegram_id and item.telegram_id in known.contact_by_telegram:
        return known.contact_by_telegram[item.telegram_id]
    if item.phone and item.phone in known.contact_by_phone:
        return known.contact_by_phone[item.phone]
    if item.email and item.email in known.contact_by_email:
        return known.contact_by_email[item.email]
    return None


def _remember_contact(known: _Known, contact: Contact) -> None:
    if contact.phone:
        known.contact_by_phone.setdefault(contact.phone, contact)
    if contact.email:
        known.contact_by_email.setdefault(contact.email, contact)
    if contact.telegram_id:
        known.contact_by_telegram.setdefault(contact.telegram_id, contact)


def _fill_contact(contact: Contact, item: LeadInput) -> None:
    """A returning person may bring what we did not know yet; never overwrite what we know."""
    contact.name = contact.name or item.name
    contact.phone = contact.phone or item.phone
    contact.email = contact.email or item.email
    contact.telegram_id = contact.telegram_id or item.telegram_id


def _request_data(item: LeadInput) -> dict[str, Any]:
    data = {
        "source": item.source, "name": item.name, "phone": item.phone, "email": item.email,
        "message": item.message, "service": item.service, "external_id": item.external_id,
    }  # fmt: skip
    return {key: value for key, value in data.items() if value is not None}


def _open_lead_of(known: _Known, contact: Contact) -> Lead | None:
    if id(contact) in known.new_open_lead:
        return known.new_open_lead[id(contact)]
    return known.open_lead.get(contact.id) if contact.id is not None else None


def _had_leads(known: _Known, contact: Contact) -> bool:
    return id(contact) in known.new_has_leads or (
        contact.id is not None and contact.id in known.has_leads
    )


async def intake_leads(
    session: AsyncSession,
    inputs: Sequence[LeadInput],
    now: datetime,
    leads_chat_id: int | None = None,
) -> list[IntakeResult]:
    """Store a batch of requests in one transaction, with their events and notifications.

    Requests are taken in order, so a second request from the same person in the same batch
    joins the lead the first one opened.
    """
    known = await _load_known(session, inputs)
    recipients: list[Recipient] | None = None
    owners: dict[int, Staff] = {}
    outcomes: list[tuple[Lead, bool, bool]] = []  # lead, created, appended
    for item in inputs:
        key = (item.source, item.external_id or "")
        if item.external_id and key in known.by_external_id:
            outcomes.append((known.by_external_id[key], False, False))
            continue
        contact = _match_contact(known, item)
        if contact is None:
            contact = Contact(created_at=now)
            session.add(contact)
        _fill_contact(contact, item)
        _remember_contact(known, contact)
        open_lead = _open_lead_of(known, contact)
        if open_lead is not None:
            await _append_request(session, open_lead, item, now, owners)
            outcomes.append((open_lead, False, True))
            continue
        lead = Lead(
            contact=contact, source=item.source, external_id=item.external_id,
            status=LeadStatus.NEW, name=item.name, phone=item.phone, email=item.email,
            message=item.message, service=item.service, utm=item.utm, extra=item.extra,
            is_repeat=_had_leads(known, contact), version=1, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(lead)
        session.add(LeadEvent(lead=lead, kind="created", data=_request_data(item), created_at=now))
        if recipients is None:
            recipients = await card_recipients(session, leads_chat_id)
        for recipient in recipients:
            session.add(card_message(lead, recipient.chat_id, recipient.staff_id, now))
        known.new_open_lead[id(contact)] = lead
        known.new_has_leads.add(id(contact))
        if item.external_id:
            known.by_external_id[key] = lead
        outcomes.append((lead, True, False))
    await session.flush()
    results = [
        IntakeResult(
            lead_id=lead.id,
            status=LeadStatus(lead.status),
            duplicate_of=lead.id if appended else None,
            created=created,
        )
        for lead, created, appended in outcomes
    ]
    await session.commit()
    return results


async def _append_request(
    session: AsyncSession, lead: Lead, item: LeadInput, now: datetime, owners: dict[int, Staff]
) -> None:
    """A person with an open lead wrote again: the request joins that lead and its owner hears."""
    session.add(LeadEvent(lead=lead, kind="repeat_request", data=_request_data(item),
                          created_at=now))  # fmt: skip
    lead.version += 1
    lead.updated_at = now
    lead.phone = lead.phone or item.phone
    lead.email = lead.email or item.email
    lead.name = lead.name or item.name
    session.add(card_refresh(lead, now))
    if lead.owner_id is None:
        return
    owner = owners.get(lead.owner_id) or await session.get(Staff, lead.owner_id)
    if owner is None or not owner.is_active:
        return
    owners[owner.id] = owner
    context = {"lead_id": lead.id, "message": item.message, "source": item.source}
    session.add(text_message(lead, owner.telegram_id, owner.id, "lead_appended", context, now))
