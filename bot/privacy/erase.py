"""A person's data removed on request (`leadbot erase --phone ... | --email ... |
--telegram-id ...`).

Who: the contacts with that phone, e-mail or Telegram id, the contacts merged with them, and
their leads (those contacts' leads, and any lead with that phone or e-mail).

What, in one transaction:
- the contacts' name, phone, e-mail, Telegram id are blanked, and the leads' name, phone,
  e-mail, message, closing comment and extra fields (form fields, deal answers, the builder's
  raw payload); a lead keeps what the reports count (status, source, campaign, amount, dates,
  who worked it);
- every row tied to those leads, in any table with a `lead_id` (events, tasks, calls, outbox
  messages, alert copies, and tables added later), loses its personal keys (`text`, `phone`,
  `name`...) and every value that holds the person's name, phone, e-mail or Telegram id; a
  message still waiting to be sent that carried them, or that would go to the person, is not
  sent; a webhook delivery of theirs already sent (or given up on) is deleted, one still waiting
  goes out with the lead's personal fields blank and the event's data empty;
- everywhere else (another lead's message, a list sent to a manager), the person's phone,
  e-mail and Telegram id are replaced by ***; in the outbox, their name too (a name alone is
  not searched for in other people's leads: it may be someone else's);
- their e-mail letters lose subject, body, addresses and attachment (a reply still queued is not
  sent); their call recordings' rows are deleted, so no button fetches their voice from the
  PBX any more (the PBX keeps its file: erase it there);
- each lead gets an `erased` event saying who erased it (the operator) and when, and its card
  copies in Telegram are redrawn without the data.

What stays out of reach: messages already in staff chats in Telegram other than the cards
(relayed client messages, copies), what was sent to other systems, backups, logs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    LargeBinary,
    String,
    Table,
    and_,
    cast,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy import Text as TextType
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import normalise_email, normalise_phone
from bot.common.deliveries import scrub_deliveries
from bot.common.outbox import card_refresh, enqueue
from bot.privacy.scrub import Traces
from bot.sequences.stops import StopReason, stop_lead_sequences
from storage.models import (
    Base,
    CallRecording,
    Contact,
    EmailLetter,
    HookDelivery,
    Lead,
    LeadEvent,
    LetterDirection,
    LetterOutcome,
    OutboxMessage,
    OutboxState,
)

log = logging.getLogger("leadbot.privacy")

ERASED_EVENT = "erased"
HELD = "erased on request: not sent"
# staff's own data (their names may be a client's too): never searched
STAFF_TABLES = frozenset({"staff", "invites", "alembic_version"})
# tables tied to leads that are scrubbed by their own rule, not by the generic one
OWN_SCRUB = frozenset({"leads", "webhook_deliveries"})
# the contact and lead columns that are the person: blanked whatever they hold
CONTACT_BLANKS = {"name": None, "phone": None, "email": None, "telegram_id": None, "name_key": None}
LEAD_BLANKS = {
    "name": None,
    "phone": None,
    "email": None,
    "message": None,
    "close_comment": None,
    "extra": {},
}


class NobodyToErase(LookupError):
    """No contact or lead has the phone, e-mail or Telegram id given."""


@dataclass(frozen=True)
class Person:
    contact_ids: tuple[int, ...]
    lead_ids: tuple[int, ...]
    traces: Traces


@dataclass
class Erased:
    """What was changed: rows per table, and messages held back (not sent)."""

    rows: dict[str, int] = field(default_factory=dict)
    held: int = 0

    def count(self, table: str, rows: int = 1) -> None:
        if rows:
            self.rows[table] = self.rows.get(table, 0) + rows


async def find_person(
    session: AsyncSession,
    *,
    phone: str | None = None,
    email: str | None = None,
    telegram_id: int | None = None,
    region: str = "RU",
) -> Person:
    """The person's contacts and leads. A phone or e-mail that cannot be read raises
    InvalidContactField; nobody found raises NobodyToErase."""
    phone = normalise_phone(phone, region) if phone else None
    email = normalise_email(email) if email else None
    if phone is None and email is None and telegram_id is None:
        raise ValueError("a phone, an e-mail or a Telegram id is needed")
    matches: list[ColumnElement[bool]] = []
    if phone is not None:
        matches.append(Contact.phone == phone)
    if email is not None:
        matches.append(Contact.email == email)
    if telegram_id is not None:
        matches.append(Contact.telegram_id == telegram_id)
    contact_ids = set((await session.scalars(select(Contact.id).where(or_(*matches)))).all())
    contact_ids = await _with_merged(session, contact_ids)
    lead_matches: list[ColumnElement[bool]] = []
    if contact_ids:
        lead_matches.append(Lead.contact_id.in_(contact_ids))
    if phone is not None:
        lead_matches.append(Lead.phone == phone)
    if email is not None:
        lead_matches.append(Lead.email == email)
    lead_ids: set[int] = set()
    if lead_matches:
        lead_ids = set((await session.scalars(select(Lead.id).where(or_(*lead_matches)))).all())
    if not contact_ids and not lead_ids:
        raise NobodyToErase
    contacts = (
        await session.execute(
            select(Contact.name, Contact.phone, Contact.email, Contact.telegram_id).where(
                Contact.id.in_(contact_ids)
            )
        )
    ).all()
    leads = (
        await session.execute(
            select(Lead.name, Lead.phone, Lead.email).where(Lead.id.in_(lead_ids))
        )
    ).all()
    traces = Traces.of(
        phones=[phone, *(c.phone for c in contacts), *(lead.phone for lead in leads)],
        emails=[email, *(c.email for c in contacts), *(lead.email for lead in leads)],
        names=[*(c.name for c in contacts), *(lead.name for lead in leads)],
        telegram_ids=[telegram_id, *(c.telegram_id for c in contacts)],
    )
    return Person(tuple(sorted(contact_ids)), tuple(sorted(lead_ids)), traces)


async def _with_merged(session: AsyncSession, contact_ids: set[int]) -> set[int]:
    """The contacts and every contact merged into them or they into (the same person, as a
    supervisor said when merging)."""
    found = set(contact_ids)
    frontier = set(contact_ids)
    while frontier:
        rows = await session.execute(
            select(Contact.id, Contact.merged_into_id).where(
                or_(Contact.id.in_(frontier), Contact.merged_into_id.in_(frontier))
            )
        )
        linked = {i for row in rows for i in row if i is not None}
        frontier = linked - found
        found |= linked
    return found


async def erase_person(session: AsyncSession, person: Person, by: str, now: datetime) -> Erased:
    """Remove the person's data (see the module's docstring); `by` names the operator. Commits."""
    erased = Erased()
    traces = person.traces
    if person.contact_ids:
        await session.execute(
            update(Contact)
            .where(Contact.id.in_(person.contact_ids))
            .values(**CONTACT_BLANKS, sequences_stopped_at=now)  # no follow-up ever again
        )
        erased.count("contacts", len(person.contact_ids))
    await stop_lead_sequences(session, person.lead_ids, StopReason.ERASED, now)
    await _blank_leads(session, person, erased)
    erased.count(HookDelivery.__tablename__, await scrub_deliveries(session, person.lead_ids))
    await _forget_letters_and_recordings(session, person, erased)
    for table in _tables():
        if "lead_id" in table.c and table.name not in OWN_SCRUB and person.lead_ids:
            await _scrub_linked(session, table, person, erased)
    for table in _tables():
        if table.name not in STAFF_TABLES:
            # a name is searched for only in the outbox: in others' leads it may be theirs
            searched = (
                traces if table.name == OutboxMessage.__tablename__ else traces.without_names()
            )
            await _redact_mentions(session, table, searched, erased)
    session.add_all(
        LeadEvent(lead_id=lead_id, kind=ERASED_EVENT, data={"by": by}, created_at=now)
        for lead_id in person.lead_ids
    )
    await enqueue(session, [card_refresh(lead_id, now) for lead_id in person.lead_ids])
    await session.commit()
    # ids and counts only: what was erased must not come back through the log
    log.info(
        "personal data erased by=%s contacts=%s leads=%s rows=%s held=%s",
        by,
        list(person.contact_ids),
        list(person.lead_ids),
        erased.rows,
        erased.held,
    )
    return erased


async def _forget_letters_and_recordings(
    session: AsyncSession, person: Person, erased: Erased
) -> None:
    """What the generic scrub cannot tell is theirs: a letter's words and a call's voice."""
    if not person.lead_ids:
        return
    theirs = EmailLetter.lead_id.in_(person.lead_ids)
    held = await session.execute(
        update(EmailLetter)
        .where(
            theirs,
            EmailLetter.direction == LetterDirection.OUT,
            EmailLetter.outcome == LetterOutcome.QUEUED,
        )
        .values(outcome=LetterOutcome.FAILED, last_error=HELD)
    )
    blanked = await session.execute(
        update(EmailLetter)
        .where(theirs)
        .values(subject=None, body=None, from_address=None, to_address=None, attachment=None)
    )
    erased.count(EmailLetter.__tablename__, blanked.rowcount)  # type: ignore[attr-defined]
    erased.held += held.rowcount  # type: ignore[attr-defined]
    gone = await session.execute(
        delete(CallRecording).where(CallRecording.lead_id.in_(person.lead_ids))
    )
    erased.count(CallRecording.__tablename__, gone.rowcount)  # type: ignore[attr-defined]


def _tables() -> Sequence[Table]:
    return Base.metadata.sorted_tables


async def _blank_leads(session: AsyncSession, person: Person, erased: Erased) -> None:
    """The leads' personal columns blanked; the rest searched like any other row of theirs.
    The version moves on, so the card's copies are redrawn."""
    table: Table = Lead.__table__  # type: ignore[assignment]
    rows = (await session.execute(select(table).where(table.c.id.in_(person.lead_ids)))).all()
    for row in rows:
        values = _scrubbed(table, row._mapping, person.traces, LEAD_BLANKS)
        values |= LEAD_BLANKS | {"version": row.version + 1}
        await session.execute(update(table).where(table.c.id == row.id).values(**values))
    erased.count("leads", len(rows))


async def _scrub_linked(
    session: AsyncSession, table: Table, person: Person, erased: Erased
) -> None:
    """A table's rows tied to the person's leads, without any trace of them."""
    rows = (await session.execute(select(table).where(table.c.lead_id.in_(person.lead_ids)))).all()
    blanks = {"raw": {}} if "raw" in table.c else {}  # a PBX's payload: the call's every detail
    # a file the person sent (an e-mail's attachment, still on its way): dropped whole
    blanks |= {c.name: None for c in table.c if isinstance(c.type, LargeBinary) and c.nullable}
    for row in rows:
        current = row._mapping
        values = _scrubbed(table, current, person.traces, blanks) | blanks
        values = {k: v for k, v in values.items() if current[k] != v}
        if table.name == OutboxMessage.__tablename__:
            values |= _held(current, values, person.traces)
        if values:
            await session.execute(update(table).where(_key(table, current)).values(**values))
            erased.count(table.name)
            erased.held += values.get("last_error") == HELD


def _held(row: Any, changed: dict[str, Any], traces: Traces) -> dict[str, Any]:
    """A pending message that carried the person's data, or would go to them, is not sent."""
    if row["state"] != OutboxState.PENDING:
        return {}
    to_them = row["chat_id"] in traces.telegram_ids
    if not to_them and "payload" not in changed:
        return {}  # e.g. a card, drawn from the lead as it is when sent: nothing of theirs
    return {"state": OutboxState.FAILED, "last_error": HELD}


def _scrubbed(table: Table, row: Any, traces: Traces, skip: dict[str, Any]) -> dict[str, Any]:
    """New values for the row's text, JSON and id columns that hold a trace."""
    values: dict[str, Any] = {}
    for name, value in row.items():  # the row's columns (an insert sentinel is not one)
        column = table.c[name]
        if name in skip or value is None:
            continue
        if isinstance(column.type, JSON):
            values[name] = traces.scrub(value)
        elif isinstance(column.type, String) and traces.holds(value):
            values[name] = None if column.nullable else ""
        elif isinstance(column.type, BigInteger) and column.nullable and traces.holds(value):
            values[name] = None  # the person's Telegram id (a chat the message went to)
    return values


async def _redact_mentions(
    session: AsyncSession, table: Table, traces: Traces, erased: Erased
) -> None:
    """Rows anywhere that mention the person: a database search narrows them (LIKE), then each
    value is checked and redacted here."""
    patterns = traces.like_patterns()
    columns = [c for c in table.c if not c.key.startswith("_")]  # not the insert sentinel
    searched = [c for c in columns if isinstance(c.type, String | JSON)]
    if not patterns or not searched:
        return
    ids = [c for c in columns if isinstance(c.type, BigInteger) and c.nullable]
    mentions = [
        cast(c, TextType).ilike(f"%{_literal(p)}%", escape="!") for c in searched for p in patterns
    ]
    mentions += [c.in_(traces.telegram_ids) for c in ids if traces.telegram_ids]
    rows = (await session.execute(select(table).where(or_(*mentions)))).all()
    for row in rows:
        current = row._mapping
        values: dict[str, Any] = {}
        for column in searched:
            value = current[column.name]
            if isinstance(value, str):
                new = traces.redact(value)
            elif value is not None and isinstance(column.type, JSON):
                new = traces.redact_json(value)
            else:
                continue
            if new != value:
                values[column.name] = new
        for column in ids:
            if current[column.name] in traces.telegram_ids:
                values[column.name] = None
        if table.name == OutboxMessage.__tablename__ and current["chat_id"] in traces.telegram_ids:
            values |= _held(current, values, traces)
        if values:
            await session.execute(update(table).where(_key(table, current)).values(**values))
            erased.count(table.name)
            erased.held += values.get("last_error") == HELD


def _literal(text: str) -> str:
    """`text` for LIKE, matched as it is (PostgreSQL's LIKE would read a backslash, as in a
    JSON-escaped "\\u0418", as an escape)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _key(table: Table, row: Any) -> ColumnElement[bool]:
    return and_(*(column == row[column.name] for column in table.primary_key.columns))
