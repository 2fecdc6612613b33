"""One incoming letter, processed once: in ONE transaction its email_letters row (mailbox,
UIDVALIDITY, UID, Message-ID) is written first, then it becomes a lead through the intake path
every channel takes (bot/intake/store.py: contacts matched by e-mail, then by a phone number in
the text; routing, cards, webhooks, scoring), or joins its thread's lead and reaches the owner
as a client's Telegram message does, or is recorded as an auto-reply, a list letter or a
bounce. The row's unique keys make a second processing of the same letter (a restart before
the IMAP flag was set, a second instance reading the same mailbox) fail at its first INSERT,
before anything else is written: it is then only flagged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import InvalidContactField, normalise_email
from bot.config import AppConfig
from bot.email.bounces import record_bounce
from bot.email.files import files_lines, plan_files, send_files
from bot.email.kinds import LetterKind, letter_kind
from bot.email.letters import TEXT_LIMIT, IncomingLetter, parse_letter, storable_id
from bot.email.replies import IN, OUT
from bot.email.threads import references_header
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.sla.answer_wait import client_waits
from storage.models import EMAIL_SOURCE, EmailLetter

log = logging.getLogger("leadbot.email")

DONE_BEFORE = "done_before"  # not an outcome stored: the letter's row was there already
IGNORED = "ignored"


@dataclass(frozen=True)
class MailboxPlace:
    """Where a letter sits: the mailbox (user@host/folder), its UIDVALIDITY and the UID."""

    mailbox: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class LetterResult:
    outcome: str  # email_letters.outcome, or DONE_BEFORE
    lead_id: int | None = None


async def take_letter(
    session: AsyncSession,
    raw: bytes,
    place: MailboxPlace,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    complete: bool = True,
) -> LetterResult:
    """Process one letter's bytes, committing once; never raises for what the letter holds.
    Not `complete`: the bytes are the start of a letter too large to read whole (its files
    are only named)."""
    letter = parse_letter(raw)
    kind = letter_kind(letter)
    row = _incoming_row(letter, place, kind.value, now)
    row.in_reply_to = letter.in_reply_to
    row.thread_refs = references_header(list(letter.references))
    session.add(row)
    try:
        # first: a second instance taking the same letter waits here, then fails, before it
        # has written anything else
        await session.flush()
    except IntegrityError:
        await session.rollback()
        log.info("letter done before mailbox=%s uid=%s", place.mailbox, place.uid)
        return LetterResult(DONE_BEFORE)
    result = await _act(session, letter, kind, row, now, config, leads_chat_id, complete)
    row.outcome = result.outcome
    row.lead_id = result.lead_id
    await session.commit()
    if letter.problems:
        log.warning(
            "letter read in part uid=%s outcome=%s problems=%s",
            place.uid,
            result.outcome,
            "; ".join(letter.problems)[:500],
        )
    log.info("letter taken uid=%s outcome=%s lead=%s", place.uid, result.outcome, result.lead_id)
    return result


async def record_unprocessable(
    session: AsyncSession, raw: bytes, place: MailboxPlace, now: datetime, error: str
) -> LetterResult:
    """A letter whose processing failed for a reason of its own (a bug its content hits, not
    the database): recorded as `ignored` so it does not stop every letter after it, with why
    in the log. It stays in the mailbox for people to read. Commits."""
    await session.rollback()
    session.add(_incoming_row(parse_letter(raw), place, IGNORED, now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return LetterResult(DONE_BEFORE)
    log.error("letter ignored: it could not be processed uid=%s error=%s", place.uid, error[:300])
    return LetterResult(IGNORED)


def _incoming_row(
    letter: IncomingLetter, place: MailboxPlace, outcome: str, now: datetime
) -> EmailLetter:
    """The letter's email_letters row: where it lies, who sent it, what became of it."""
    return EmailLetter(
        direction=IN,
        message_id=letter.message_id or storable_id(_made_up_id(place)),
        mailbox=place.mailbox,
        uidvalidity=place.uidvalidity,
        uid=place.uid,
        subject=letter.subject,
        from_address=(letter.sender_address or "")[:320] or None,
        outcome=outcome,
        created_at=now,
    )


def _made_up_id(place: MailboxPlace) -> str:
    """A letter without a Message-ID is known by where it lies."""
    return f"{place.uidvalidity}.{place.uid}.{place.mailbox}@leadbot.invalid"


async def _act(
    session: AsyncSession,
    letter: IncomingLetter,
    kind: LetterKind,
    row: EmailLetter,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    complete: bool,
) -> LetterResult:
    if kind is LetterKind.BOUNCE:
        if letter.original_message_id:
            diagnostic = letter.diagnostic or letter.text[:300] or "delivery failed"
            await record_bounce(session, letter.original_message_id, diagnostic, now, config)
        return LetterResult(kind.value)
    if kind is not LetterKind.PERSON:
        return LetterResult(kind.value)
    if letter.message_id and await _ours(session, letter.message_id):
        # one of our own answers came back (the team address in its Cc or Bcc): not a client
        log.info("letter ignored: it is our own (uid=%s)", row.uid)
        return LetterResult(IGNORED)
    address = _address(letter.sender_address)
    said = any(char.isalnum() for char in f"{letter.subject or ''}{letter.text}")
    if address is None and not said and not letter.attachments:
        # nobody to answer and nothing to read (garbage, an empty letter): no lead
        log.warning("letter ignored: no sender address and nothing in it (uid=%s)", row.uid)
        return LetterResult(IGNORED)
    thread_lead = await thread_lead_of(session, letter)
    item = LeadInput(
        source=EMAIL_SOURCE,
        name=letter.sender_name,
        phone=_phone_in(f"{letter.subject or ''}\n{letter.text}", config.phone_region),
        email=address,
        # a reply in its thread needs no "Re: subject" over it
        message=_lead_text(letter, with_subject=thread_lead is None, sizes=complete),
        thread_lead_id=thread_lead,
        answerable=address is not None,
    )
    [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
    await client_waits(session, result.lead_id, now, config)  # the `answer` limit starts
    await session.flush()
    plan = plan_files(letter.attachments, config.email, complete)
    await send_files(session, row.id, result.lead_id, plan, now, complete)
    return LetterResult("lead" if result.created else "joined", result.lead_id)


async def thread_lead_of(session: AsyncSession, letter: IncomingLetter) -> int | None:
    """The lead of the nearest letter of ours (read or sent) this one answers, if any."""
    ids = letter.thread_ids()
    if not ids:
        return None
    found = await session.execute(
        select(EmailLetter.message_id, EmailLetter.lead_id).where(
            EmailLetter.message_id.in_(ids), EmailLetter.lead_id.is_not(None)
        )
    )
    leads = {message_id: lead_id for message_id, lead_id in found}
    return next((leads[ref] for ref in ids if ref in leads), None)


async def _ours(session: AsyncSession, message_id: str) -> bool:
    found = await session.scalar(
        select(EmailLetter.id).where(
            EmailLetter.direction == OUT, EmailLetter.message_id == message_id
        )
    )
    return found is not None


def _address(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except InvalidContactField:
        return None


def _phone_in(text: str, region: str) -> str | None:
    """The first phone number written in the letter, E.164; None when there is none."""
    try:
        for match in phonenumbers.PhoneNumberMatcher(text[:TEXT_LIMIT], region):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    except Exception:  # the matcher on hostile text: a phone is a bonus, not a need
        return None
    return None


def _lead_text(letter: IncomingLetter, with_subject: bool = True, sizes: bool = True) -> str | None:
    """What the lead's message holds: the subject, the new words, the files' names."""
    parts = []
    if with_subject and letter.subject:
        parts.append(letter.subject)
    if letter.text:
        parts.append(letter.text)
    if letter.attachments:
        parts.append(files_lines(letter.attachments, sizes))
    text = "\n\n".join(parts)
    return text or None


async def mailbox_known(session: AsyncSession, mailbox: str) -> bool:
    """Whether leadbot has read this mailbox before (under any UIDVALIDITY)."""
    found = await session.scalar(
        select(EmailLetter.id).where(EmailLetter.mailbox == mailbox).limit(1)
    )
    return found is not None


async def set_aside(session: AsyncSession, places: list[MailboxPlace], now: datetime) -> None:
    """Letters that were in the mailbox long before leadbot first read it ([email]
    first_start_back): recorded as `ignored` without being read, so years of old mail never
    become leads and are never looked at again. Commits."""
    rows = [
        {
            "direction": IN,
            "message_id": storable_id(_made_up_id(place)),
            "mailbox": place.mailbox,
            "uidvalidity": place.uidvalidity,
            "uid": place.uid,
            "outcome": IGNORED,
            "created_at": now,
        }
        for place in places
    ]
    for start in range(0, len(rows), 500):
        await session.execute(insert(EmailLetter.__table__), rows[start : start + 500])
    await session.commit()
    log.info("letters from before leadbot set aside: %d", len(rows))


async def last_uid(session: AsyncSession, mailbox: str, uidvalidity: int) -> int:
    """The highest UID recorded for this mailbox and UIDVALIDITY (0: none)."""
    found = await session.scalar(
        select(func.max(EmailLetter.uid)).where(
            EmailLetter.mailbox == mailbox, EmailLetter.uidvalidity == uidvalidity
        )
    )
    return int(found or 0)


async def recorded_uids(
    session: AsyncSession, mailbox: str, uidvalidity: int, uids: list[int]
) -> set[int]:
    """Which of these UIDs were processed already (only their flag may be missing)."""
    done: set[int] = set()
    for start in range(0, len(uids), 500):
        found = await session.scalars(
            select(EmailLetter.uid).where(
                EmailLetter.mailbox == mailbox,
                EmailLetter.uidvalidity == uidvalidity,
                EmailLetter.uid.in_(uids[start : start + 500]),
            )
        )
        done.update(int(uid) for uid in found if uid is not None)
    return done
