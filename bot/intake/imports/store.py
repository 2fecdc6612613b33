"""Writing one batch of matched rows: new contacts, new leads with their history, and what the
chosen policy does with the rows of people we knew. One multi-row INSERT per table (as
intake's store does), in the caller's transaction.

An imported lead is history, so nothing about it may fire: no outbox row (no card, no
message), no time limit (`alert_at` stays NULL: a lead from last year is not "not taken for a
year"), no offer, not waiting for anybody on duty. An open lead whose owner the file names
(an active member of staff) is in work with them; any other open lead is new, in the pool,
found by /leads → New. Its `updated_at` is the import's moment (open or closed), so auto-close
counts its idleness from the day it arrived here, not from its first life, and a system
reading the API's change feed (`sort=updated_at`) sees the imported leads, and the leads whose
empty fields an import filled, as changes. No webhook event is sent for an import: it is the
past of leads, not a change in their life (the API serves them).

The report's milestones are filled from what the file says, never invented: the owner of a
closed lead closed it (`closed_by_id`: their deals, refusals and junk); a first take is
recorded only when the file has its time (leadbot's export does), with that wait in working
hours, so the report's times to take are never made up of zeros. Without one, the lead counts
as taken in the funnel by having an owner, as any owned lead does."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.intake.duplicates import name_key
from bot.intake.imports.matching import KnownContact, Matched, NewContact, Verdict
from bot.intake.imports.rows import ImportRow
from bot.sla.working_hours import working_time_between
from storage.models import Contact, Lead, LeadEvent, LeadStatus

IMPORTED_EVENT = "imported"  # one per row applied: who imported it, from which file, the row
CLOSING_EVENTS = {
    LeadStatus.CONVERTED: "convert",
    LeadStatus.REFUSED: "refuse",
    LeadStatus.JUNK: "junk",
}


class Policy(enum.StrEnum):
    """What to do with a row of someone we knew before the import."""

    SKIP = "skip"  # nothing
    ATTACH = "attach"  # the row becomes an `imported` event on their lead; no new lead
    UPDATE = "update"  # their empty fields are filled from the row (and the event recorded)


@dataclass
class Counts:
    created: int = 0
    attached: int = 0
    updated: int = 0
    skipped: int = 0  # someone we knew, and the policy was to skip
    already: int = 0  # imported before
    rejected: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def read(self) -> int:
        return sum(getattr(self, name) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class ImportRun:
    """Who imports which file, when, and with what policy (the same for every batch)."""

    file_name: str
    policy: Policy
    importer_id: int | None  # staff id; None: the CLI
    now: datetime
    config: AppConfig


@dataclass
class _Writes:
    contacts: list[NewContact] = field(default_factory=list)
    leads: list[tuple[ImportRow, NewContact]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


async def write_batch(session: AsyncSession, matched: Sequence[Matched], run: ImportRun) -> Counts:
    """Write what the batch's rows make (the caller commits)."""
    counts = Counts()
    writes = _Writes()
    for item in matched:
        if item.verdict is Verdict.ALREADY:
            counts.already += 1
        elif item.verdict is Verdict.NEW:
            assert item.new is not None
            if item.new.id is None and item.new not in writes.contacts:
                writes.contacts.append(item.new)
            writes.leads.append((item.row, item.new))
            counts.created += 1
        elif run.policy is Policy.SKIP:
            counts.skipped += 1
        else:
            assert item.known is not None
            if await _duplicate(session, item.row, item.known, run, writes):
                counts.attached += run.policy is Policy.ATTACH
                counts.updated += run.policy is Policy.UPDATE
            else:
                counts.skipped += 1
    await _insert_contacts(session, writes.contacts, matched)
    await _insert_leads(session, writes, run)
    if writes.events:
        await session.execute(insert(LeadEvent.__table__), writes.events)
    return counts


def _event(
    kind: str,
    at: datetime,
    actor_id: int | None,
    data: dict[str, Any],
    key: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "actor_id": actor_id,
        "data": data,
        "created_at": at,
        "imported": True,
        "import_key": key,
    }


def _imported(row: ImportRow, run: ImportRun, outcome: str, **more: Any) -> dict[str, Any]:
    """The `imported` event's data: the file, the row as read, what became of it."""
    return {"file": run.file_name, "outcome": outcome, **more, **row.history()}


# --- people we knew ---------------------------------------------------------------------------


async def _duplicate(
    session: AsyncSession,
    row: ImportRow,
    known: KnownContact,
    run: ImportRun,
    writes: _Writes,
) -> bool:
    """Attach the row to the person's lead, or fill their empty fields from it; False when
    they have no lead to attach it to (a contact alone)."""
    lead = known.lead
    if run.policy is Policy.ATTACH:
        if lead is None:
            return False
        data = _imported(row, run, "attached")
        event = _event(IMPORTED_EVENT, run.now, run.importer_id, data, row.key)
        writes.events.append({**event, "lead_id": lead.id})
        return True
    filled = await _fill_contact(session, row, known)
    if lead is not None:
        filled += await _fill_lead(session, row, known, run.now)
        data = _imported(row, run, "updated", filled=sorted(set(filled)))
        event = _event(IMPORTED_EVENT, run.now, run.importer_id, data, row.key)
        writes.events.append({**event, "lead_id": lead.id})
    return True


async def _fill_contact(session: AsyncSession, row: ImportRow, known: KnownContact) -> list[str]:
    empty = {
        name: getattr(row, name)
        for name in ("name", "phone", "email")
        if getattr(known, name) is None and getattr(row, name) is not None
    }
    if not empty:
        return []
    if "name" in empty:
        empty["name_key"] = name_key(empty["name"])
    await session.execute(update(Contact).where(Contact.id == known.id).values(**empty))
    for name in ("name", "phone", "email"):  # a later row of the batch sees them filled
        if name in empty:
            setattr(known, name, empty[name])
    return [f"contact.{name}" for name in empty if name != "name_key"]


async def _fill_lead(
    session: AsyncSession, row: ImportRow, known: KnownContact, now: datetime
) -> list[str]:
    """The lead's empty fields from the row. Its version moves on, so the next change of the
    lead redraws its cards with them; no card is edited now (an import of 10,000 rows would
    be 10,000 edits of messages far up the chats)."""
    lead = known.lead
    assert lead is not None
    empty = {
        name: getattr(row, name)
        for name in ("name", "phone", "email", "message", "service", "amount")
        if getattr(lead, name) is None and getattr(row, name) is not None
    }
    if not empty:
        return []
    # `coalesce`: a manager who filled a field meanwhile keeps what they typed
    await session.execute(
        update(Lead)
        .where(Lead.id == lead.id)
        .values(
            version=Lead.version + 1,
            updated_at=now,
            **{name: func.coalesce(getattr(Lead, name), value) for name, value in empty.items()},
        )
    )
    for name, value in empty.items():
        setattr(lead, name, value)
    return list(empty)


# --- new people and leads ---------------------------------------------------------------------


async def _insert_contacts(
    session: AsyncSession, contacts: list[NewContact], matched: Sequence[Matched]
) -> None:
    if not contacts:
        return
    first_seen: dict[int, datetime] = {}
    for item in matched:  # a contact is as old as the first lead the file has of it
        if item.new is not None:
            first_seen.setdefault(id(item.new), item.row.created_at)
    rows = [
        {
            "name": person.name,
            "phone": person.phone,
            "email": person.email,
            "telegram_id": None,
            "name_key": name_key(person.name),
            "created_at": first_seen[id(person)],
        }
        for person in contacts
    ]
    statement = insert(Contact.__table__).returning(
        Contact.__table__.c.id, sort_by_parameter_order=True
    )
    ids = (await session.execute(statement, rows)).scalars()
    for person, contact_id in zip(contacts, ids, strict=True):
        person.id = contact_id


async def _insert_leads(session: AsyncSession, writes: _Writes, run: ImportRun) -> None:
    if not writes.leads:
        return
    in_batch: dict[int, int] = {}
    for _, person in writes.leads:
        in_batch[id(person)] = in_batch.get(id(person), 0) + 1
    # the leads of each person before this batch's: `leads` counts every one matched so far
    earlier = {id(person): person.leads - in_batch[id(person)] for _, person in writes.leads}
    rows = []
    for row, person in writes.leads:
        assert person.id is not None
        rows.append(_lead_row(row, person.id, earlier[id(person)] > 0, run))
        earlier[id(person)] += 1
    statement = insert(Lead.__table__).returning(Lead.__table__.c.id, sort_by_parameter_order=True)
    ids = list((await session.execute(statement, rows)).scalars())
    for (row, _), lead_id in zip(writes.leads, ids, strict=True):
        for event in _history(row, run):
            writes.events.append({**event, "lead_id": lead_id})


def _lead_row(row: ImportRow, contact_id: int, is_repeat: bool, run: ImportRun) -> dict[str, Any]:
    config = run.config
    owner = row.owner
    closed = row.closed is not None
    # an open lead is someone's work only while they are here to do it
    owner_id = owner.id if owner is not None and (closed or owner.active) else None
    status = row.closed or (LeadStatus.IN_WORK if owner_id is not None else LeadStatus.NEW)
    took = owner_id is not None and row.taken_at is not None
    hours, zone = config.working_hours, config.zone
    return {
        "contact_id": contact_id,
        "source": row.source,
        "external_id": None,  # the file's id is in the `imported` event: a form may reuse it
        "status": status,
        "owner_id": owner_id,
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "message": row.message,
        "service": row.service,
        "amount": row.amount,
        "utm": row.utm,
        "extra": {"title": row.title} if row.title and row.title != row.message else {},
        "is_repeat": is_repeat,
        "version": 1,
        "alert_at": None,
        "alert_level": 0,
        "alert_since": None,
        "contacted_at": row.contacted_at,
        "close_reason": row.reason if closed else None,
        "close_comment": row.words if closed else None,
        "created_at": row.created_at,
        "updated_at": run.now,
        "taken_at": row.taken_at if took else None,
        "closed_at": row.closed_at,
        "first_owner_id": owner_id if took else None,
        "first_taken_at": row.taken_at if took else None,
        "first_take_work_s": (
            working_time_between(row.created_at, row.taken_at, hours, zone).total_seconds()
            if took and row.taken_at is not None
            else None
        ),
        "first_contact_work_s": (
            working_time_between(row.created_at, row.contacted_at, hours, zone).total_seconds()
            if row.contacted_at is not None
            else None
        ),
        "closed_by_id": owner_id if closed else None,
        "qualified_at": None,
    }


def _history(row: ImportRow, run: ImportRun) -> list[dict[str, Any]]:
    """The lead's events: its arrival, its first take and its end as the file dates them,
    then the import itself (now, by whoever imported it, holding the row's key)."""
    owner = row.owner.id if row.owner is not None else None
    arrival = {
        key: value
        for key, value in {
            "source": row.source,
            "name": row.name,
            "phone": row.phone,
            "email": row.email,
            "message": row.message,
            "service": row.service,
        }.items()
        if value is not None
    }
    events = [_event("created", row.created_at, None, arrival)]
    if row.taken_at is not None and owner is not None:
        events.append(_event("taken", row.taken_at, owner, {}))
    if row.closed is not None and row.closed_at is not None:
        data: dict[str, Any] = {}
        if row.reason:
            data["reason"] = row.reason
        if row.words:
            data["comment"] = row.words
        if row.amount is not None and row.closed is LeadStatus.CONVERTED:
            data["amount"] = str(row.amount)
        events.append(_event(CLOSING_EVENTS[row.closed], row.closed_at, owner, data))
    events.append(
        _event(IMPORTED_EVENT, run.now, run.importer_id, _imported(row, run, "created"), row.key)
    )
    return events
