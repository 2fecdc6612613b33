"""What each read row is to the database, a batch at a time: imported before (its key is
recorded), someone we already know (a contact with that phone, in any format, or e-mail, from
before this import), or new.

Rows of one file that share a phone or e-mail are one person with several leads (a CRM lists
each of a client's leads on its own row): the first makes the contact, the next ones are new
leads of it, never "duplicates" of the file itself. So a contact this import made is told
apart from one that was there before it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intake.imports.rows import ImportRow
from storage.models import OPEN_STATUSES, Contact, Lead, LeadEvent, LeadStatus


class Verdict(enum.StrEnum):
    NEW = "new"  # becomes a lead (of a new contact, or of one this file made)
    DUPLICATE = "duplicate"  # someone we knew before: the chosen policy decides
    ALREADY = "already"  # imported before (by its key): nothing happens


@dataclass
class TargetLead:
    """The lead a duplicate row is attached to, or whose empty fields it fills: the
    contact's newest open lead, else its newest."""

    id: int
    status: LeadStatus
    name: str | None
    phone: str | None
    email: str | None
    message: str | None
    service: str | None
    amount: Decimal | None


@dataclass
class KnownContact:
    id: int
    name: str | None
    phone: str | None
    email: str | None
    lead: TargetLead | None = None


@dataclass(eq=False, slots=True)
class NewContact:
    """A person this import brings: its id once inserted; `leads` made for it so far."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    id: int | None = None
    leads: int = 0


@dataclass(frozen=True)
class Matched:
    row: ImportRow
    verdict: Verdict
    known: KnownContact | None = None  # DUPLICATE: who
    new: NewContact | None = None  # NEW: whose lead it is


@dataclass
class Matcher:
    """Remembers, across the batches of one import, the keys it met and the people it
    made, so a repeat later in the file is judged against the rows before it."""

    keys: set[bytes] = field(default_factory=set)  # 16 bytes of each key: a third of its text
    by_phone: dict[str, NewContact] = field(default_factory=dict)
    by_email: dict[str, NewContact] = field(default_factory=dict)

    async def match(self, session: AsyncSession, rows: Sequence[ImportRow]) -> list[Matched]:
        imported = await _imported_keys(session, [row.key for row in rows])
        known = await _known_contacts(session, rows, self._made_ids(rows))
        found: list[Matched] = []
        for row in rows:
            short = bytes.fromhex(row.key[:32])
            if row.key in imported or short in self.keys:
                found.append(Matched(row, Verdict.ALREADY))
                continue
            self.keys.add(short)
            mine = self._mine(row)
            if mine is None:
                contact = _known_for(row, known)
                if contact is not None:
                    found.append(Matched(row, Verdict.DUPLICATE, known=contact))
                    continue
                mine = NewContact()
            self._remember(mine, row)
            mine.leads += 1
            found.append(Matched(row, Verdict.NEW, new=mine))
        return found

    def _made_ids(self, rows: Sequence[ImportRow]) -> set[int]:
        """The contacts this import made that the batch's phones and e-mails may find."""
        people = [self.by_phone.get(row.phone or "") for row in rows]
        people += [self.by_email.get(row.email or "") for row in rows]
        return {person.id for person in people if person is not None and person.id is not None}

    def _mine(self, row: ImportRow) -> NewContact | None:
        if row.phone and row.phone in self.by_phone:
            return self.by_phone[row.phone]
        if row.email and row.email in self.by_email:
            return self.by_email[row.email]
        return None

    def _remember(self, person: NewContact, row: ImportRow) -> None:
        for name in ("name", "phone", "email"):
            if getattr(person, name) is None:
                setattr(person, name, getattr(row, name))
        if row.phone:
            self.by_phone.setdefault(row.phone, person)
        if row.email:
            self.by_email.setdefault(row.email, person)


async def _imported_keys(session: AsyncSession, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    found = await session.scalars(
        select(LeadEvent.import_key).where(LeadEvent.import_key.in_(keys))
    )
    return set(found)


@dataclass
class _Known:
    by_phone: dict[str, KnownContact] = field(default_factory=dict)
    by_email: dict[str, KnownContact] = field(default_factory=dict)


async def _known_contacts(
    session: AsyncSession, rows: Sequence[ImportRow], made: set[int]
) -> _Known:
    """The contacts from before this import with the batch's phones or e-mails, each with
    the lead a duplicate would go to."""
    known = _Known()
    matchers = []
    if phones := {row.phone for row in rows if row.phone}:
        matchers.append(Contact.phone.in_(phones))
    if emails := {row.email for row in rows if row.email}:
        matchers.append(Contact.email.in_(emails))
    if not matchers:
        return known
    found = await session.execute(
        select(Contact.id, Contact.name, Contact.phone, Contact.email)
        .where(or_(*matchers), Contact.merged_into_id.is_(None))
        .order_by(Contact.id)
    )
    contacts = {
        row.id: KnownContact(row.id, row.name, row.phone, row.email)
        for row in found
        if row.id not in made
    }
    if not contacts:
        return known
    leads = await session.execute(
        select(
            Lead.id,
            Lead.contact_id,
            Lead.status,
            Lead.name,
            Lead.phone,
            Lead.email,
            Lead.message,
            Lead.service,
            Lead.amount,
        )
        .where(Lead.contact_id.in_(list(contacts)))
        .order_by(Lead.id)
    )
    for lead_id, contact_id, status, *fields in leads:
        contact = contacts[contact_id]
        target = TargetLead(lead_id, LeadStatus(status), *fields)
        # rows come oldest first: the newest open lead wins, else the newest of all
        held = contact.lead
        if held is None or status in OPEN_STATUSES or held.status not in OPEN_STATUSES:
            contact.lead = target
    for contact in contacts.values():  # the oldest contact of a phone wins, as intake's
        if contact.phone:
            known.by_phone.setdefault(contact.phone, contact)
        if contact.email:
            known.by_email.setdefault(contact.email, contact)
    return known


def _known_for(row: ImportRow, known: _Known) -> KnownContact | None:
    if row.phone and row.phone in known.by_phone:
        return known.by_phone[row.phone]
    if row.email and row.email in known.by_email:
        return known.by_email[row.email]
    return None
