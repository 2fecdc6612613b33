"""A manager's answer to a client who wrote by e-mail: where it goes, and queueing it.

Which channel: a lead whose client wrote by e-mail is answered by e-mail, in the thread of
their last letter. A client reachable both ways (they wrote to the bot and by e-mail) is
answered where they wrote last, as a manager expects: the lead's latest request
(`created` / `repeat_request`) from Telegram or from e-mail decides (requests from forms or
calls say nothing of either).

A photo, document, voice message or video as the answer goes as the letter's attachment (its
caption as the text): the letter keeps the Telegram file's id, and the mail sender fetches the
file (getFile, through the one Bot API path) when it sends. A sticker does not go by e-mail;
a file over ATTACHMENT_LIMIT is refused before anything is queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.email.threads import (
    address_of,
    bare_id,
    new_message_id,
    one_line,
    references_header,
    reply_subject,
    thread_references,
)
from bot.intake.client_chat import MESSAGE_LIMIT, reply_target
from bot.leads.actions import ActionResult, Refusal
from storage.db import note_outbox_written
from storage.models import (
    EMAIL_SOURCE,
    TELEGRAM_SOURCE,
    EmailLetter,
    Lead,
    LeadEvent,
    LetterDirection,
    LetterOutcome,
    Staff,
)

IN, OUT = LetterDirection.IN, LetterDirection.OUT
QUEUED, SENT = LetterOutcome.QUEUED, LetterOutcome.SENT
BOUNCED, FAILED = LetterOutcome.BOUNCED, LetterOutcome.FAILED
# incoming letters that were the client writing (not an auto-reply, a list, a bounce)
CLIENT_WROTE = ("lead", "joined")
REQUESTS = ("created", "repeat_request")
# what a mail server takes in one letter, with base64's third more: 10 MiB is accepted by the
# common ones (many refuse 25 MB); Telegram lets a bot fetch up to 20 MB
ATTACHMENT_LIMIT = 10 * 1024 * 1024
BODY_LIMIT = 20_000  # characters; a Telegram message has at most 4096
REQUESTS_READ = 50  # the lead's latest requests looked at to tell where the client wrote last


@dataclass(frozen=True)
class Attachment:
    """A Telegram file the manager answered with: fetched when the letter is sent."""

    file_id: str
    name: str  # the file name the client sees
    type: str  # its MIME type, e.g. image/jpeg
    size: int | None = None  # bytes, as Telegram said

    def payload(self) -> dict[str, object]:
        return {"file_id": self.file_id, "name": self.name, "type": self.type, "size": self.size}


def _token(value: str) -> str:
    return "".join(one_line(value).split()).strip("<>").replace("<", "").replace(">", "") or "-"


@dataclass(frozen=True)
class AnswerTarget:
    """Where a manager's answer goes: the client's Telegram chat, or by e-mail in the thread
    of `letter` (the client's last letter) to `address`; or `result` says why nowhere."""

    result: ActionResult
    chat_id: int | None = None
    letter: EmailLetter | None = None
    address: str | None = None

    @property
    def by_email(self) -> bool:
        return self.letter is not None


async def last_letter_in(session: AsyncSession, lead_id: int) -> EmailLetter | None:
    """The client's last letter on this lead (what an answer replies to)."""
    return await session.scalar(
        select(EmailLetter)
        .where(
            EmailLetter.lead_id == lead_id,
            EmailLetter.direction == IN,
            EmailLetter.outcome.in_(CLIENT_WROTE),
        )
        .order_by(EmailLetter.id.desc())
        .limit(1)
    )


async def _wrote_last_in_telegram(session: AsyncSession, lead_id: int) -> bool:
    """Whether the client's latest request on the lead came from Telegram rather than e-mail
    (requests from forms or calls say nothing of either)."""
    found = await session.scalars(
        select(LeadEvent)
        .where(LeadEvent.lead_id == lead_id, LeadEvent.kind.in_(REQUESTS))
        .order_by(LeadEvent.id.desc())
        .limit(REQUESTS_READ)
    )
    for event in found:
        source = (event.data or {}).get("source")
        if source in (TELEGRAM_SOURCE, EMAIL_SOURCE):
            return source == TELEGRAM_SOURCE
    return False


async def answer_target(session: AsyncSession, lead_id: int, actor: Staff) -> AnswerTarget:
    """May `actor` answer the client of this lead (reply_target's rule: its owner or a
    supervisor, the lead still open), and where: Telegram, or e-mail (module docstring)."""
    target = await reply_target(session, lead_id, actor)
    lead = target.result.lead
    if lead is None or target.result.refusal not in (None, Refusal.NOT_ALLOWED):
        return AnswerTarget(target.result)  # not theirs, closed, gone: the same refusal
    letter = await last_letter_in(session, lead_id)
    address = address_of(letter.from_address) if letter is not None else None
    if letter is None or address is None:
        return AnswerTarget(target.result, chat_id=target.chat_id)  # Telegram, or nowhere
    if target.chat_id is not None and await _wrote_last_in_telegram(session, lead_id):
        return AnswerTarget(target.result, chat_id=target.chat_id)
    return AnswerTarget(ActionResult(lead), letter=letter, address=address)


async def queue_email_reply(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    replying_to: EmailLetter,
    address: str,
    text: str,
    sender: str,
    now: datetime,
    *,
    attachment: Attachment | None = None,
    shown: str | None = None,
) -> EmailLetter:
    """A manager's answer by e-mail: the lead's history records it (`replied`, as a Telegram
    answer) and the outgoing letter is queued (an `email_letters` row, outcome "queued"), in one
    transaction; its Message-ID is made now, so a letter sent again after a crash carries the
    same one. The mail sender sends it after the commit, which wakes it. `sender` is SMTP_FROM;
    `text` is the body (a file's caption, or nothing), `shown` what the history says when it
    is not the text (a file's mark and caption). The letter."""
    session.add(
        LeadEvent(
            lead_id=lead_id,
            kind="replied",
            actor_id=actor.id,
            data={"text": (shown or text)[:MESSAGE_LIMIT], "email": address},
            created_at=now,
        )
    )
    # an answer is a step of the work: the lead is not stalled (the card does not change)
    await session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=now))
    # as the intake recorded it (bare); a malformed one is kept as one clean token
    theirs = bare_id(replying_to.message_id) or _token(replying_to.message_id)
    letter = EmailLetter(
        lead_id=lead_id,
        direction=OUT,
        message_id=new_message_id(sender),
        in_reply_to=theirs,
        thread_refs=references_header(thread_references(replying_to.thread_refs, theirs)),
        subject=reply_subject(replying_to.subject),
        from_address=one_line(sender, 320),
        to_address=address,
        outcome=QUEUED,
        created_at=now,
        body=text[:BODY_LIMIT],
        staff_id=actor.id,
        attempts=0,
        attachment=attachment.payload() if attachment is not None else None,
    )
    session.add(letter)
    note_outbox_written(session)  # the commit wakes the senders, the mail sender among them
    await session.commit()
    return letter
