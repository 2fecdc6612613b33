"""Clients who write to the bot: each message becomes a lead (or joins the client's open one),
and a manager's answer goes back to them. The Telegram side is handlers/client.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import InvalidContactField, normalise_phone
from bot.common.lifecycle import CLOSED_STATUSES, SUPERVISING, Action
from bot.common.outbox import client_answer, copied_message, enqueue, text_message
from bot.common.render import render
from bot.config import AppConfig
from bot.intake.input import IntakeResult, LeadInput
from bot.intake.sequence_answers import follow_up_answered
from bot.intake.store import intake_leads
from bot.leads.actions import ActionResult, Refusal, load_lead, why_refused
from bot.sequences.stops import StopReason, person_said_stop
from bot.sla.answer_wait import client_answered, client_waits
from storage.models import (
    TELEGRAM_SOURCE,
    Contact,
    Lead,
    LeadCard,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    RelayedMessage,
    Staff,
)

MESSAGE_LIMIT = 4000
NAME_LIMIT = 200
# Telegram's own rule for a deep-link payload: up to 64 of A-Z a-z 0-9 _ -
START_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _name(name: str | None) -> str | None:
    """The client's Telegram name, as the lead's name."""
    return (name or "")[:NAME_LIMIT] or None


def start_tag(payload: str | None) -> str | None:
    """The campaign in `t.me/<bot>?start=<tag>`; anything else is ignored, not an error."""
    return payload if payload and START_TAG.match(payload) else None


async def client_wrote(
    session: AsyncSession,
    telegram_id: int,
    name: str | None,
    text: str,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    tag: str | None = None,
) -> IntakeResult:
    """A message from a client: their open lead hears it (its owner is told), or it opens a
    new lead, with the campaign they came from."""
    item = LeadInput(
        source=TELEGRAM_SOURCE,
        name=_name(name),
        message=text[:MESSAGE_LIMIT],
        telegram_id=telegram_id,
        utm={"start": tag} if tag else {},
    )
    # an answer to a follow-up reopens its lead first: the message joins it ([[sequences]])
    await follow_up_answered(session, telegram_id, now, config, leads_chat_id)
    [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
    await client_waits(session, result.lead_id, now, config)
    await session.commit()
    return result


# what stands for a photo, a voice message... in the lead's text (the thing itself is copied)
MEDIA_MARKS = {
    "photo": "📷 photo",
    "document": "📎 document",
    "voice": "🎤 voice message",
    "video_note": "📹 video message",
    "video": "🎬 video",
    "audio": "🎵 audio",
    "sticker": "🙂 sticker",
    "animation": "🎞 GIF",
}


@dataclass(frozen=True)
class ClientMedia:
    """A photo, document, voice or video note the client sent: copied, never downloaded."""

    kind: str  # a key of MEDIA_MARKS
    chat_id: int  # the client's chat, where the original stays
    message_id: int
    caption: str | None = None


def media_text(kind: str, caption: str | None) -> str:
    mark = MEDIA_MARKS.get(kind, "📎")
    return f"{mark}: {caption}" if caption else mark


async def client_sent_media(
    session: AsyncSession,
    telegram_id: int,
    name: str | None,
    media: ClientMedia,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    tag: str | None = None,
) -> IntakeResult:
    """A photo, document, voice or video note from a client: it joins or opens their lead like
    a text, and the thing itself is copied to whoever gets the lead's news — its owner, or the
    chats its card goes to while nobody owns it. One transaction."""
    item = LeadInput(
        source=TELEGRAM_SOURCE,
        name=_name(name),
        message=media_text(media.kind, media.caption)[:MESSAGE_LIMIT],
        telegram_id=telegram_id,
        utm={"start": tag} if tag else {},
    )
    # an answer to a follow-up reopens its lead first: the message joins it ([[sequences]])
    await follow_up_answered(session, telegram_id, now, config, leads_chat_id)
    [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
    await client_waits(session, result.lead_id, now, config)
    chats = await news_chats(session, result.lead_id)
    await enqueue(
        session,
        [
            copied_message(result.lead_id, chat_id, staff_id, media.chat_id, media.message_id, now)
            for chat_id, staff_id in chats
        ],
    )
    await session.commit()
    return result


async def news_chats(session: AsyncSession, lead_id: int) -> list[tuple[int, int | None]]:
    """Where news of a lead goes: its owner's chat; while nobody owns it, every chat its card
    went to or is about to go to (rows written earlier in this transaction included)."""
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if lead is None:
        return []
    if lead.owner_id is not None:
        owner = await session.get(Staff, lead.owner_id)
        return [(owner.telegram_id, owner.id)] if owner and owner.is_active else []
    cards = union(
        select(LeadCard.chat_id, LeadCard.staff_id).where(LeadCard.lead_id == lead_id),
        select(OutboxMessage.chat_id, OutboxMessage.staff_id).where(
            OutboxMessage.lead_id == lead_id,
            OutboxMessage.kind == OutboxKind.CARD,
            OutboxMessage.chat_id.is_not(None),
        ),
    )
    found: dict[int, int | None] = {}
    for chat_id, staff_id in (await session.execute(cards)).all():
        found.setdefault(chat_id, staff_id)
    return sorted(found.items())


async def lead_of_relayed(session: AsyncSession, chat_id: int, message_id: int) -> int | None:
    """The lead a message in a staff chat stands for: a client's message relayed there, or
    the lead's card. A manager replying to it answers that lead's client."""
    relayed = await session.scalar(
        select(RelayedMessage.lead_id).where(
            RelayedMessage.chat_id == chat_id, RelayedMessage.message_id == message_id
        )
    )
    if relayed is not None:
        return relayed
    return await session.scalar(
        select(LeadCard.lead_id).where(
            LeadCard.chat_id == chat_id, LeadCard.message_id == message_id
        )
    )


async def remember_relayed(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    lead_id: int,
    staff_id: int | None,
    now: datetime,
) -> bool:
    """A client's message (or the news of it) now shows in a staff chat as `message_id`, with
    Reply; `staff_id` reads that chat (None: the team chat). False when that Reply already no
    longer works: the lead changed while the message was on its way, and the refresh that
    change asked for may have run before this row existed."""
    session.add(
        RelayedMessage(
            chat_id=chat_id,
            message_id=message_id,
            lead_id=lead_id,
            staff_id=staff_id,
            created_at=now,
        )
    )
    await session.commit()
    lead = await load_lead(session, lead_id)
    reader = await session.get(Staff, staff_id) if staff_id is not None else None
    return lead is not None and reply_works(lead, reader)


async def client_shared_phone(
    session: AsyncSession,
    telegram_id: int,
    name: str | None,
    raw_phone: str,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> IntakeResult | None:
    """The client shared their phone (the keyboard button): the contact and the open lead
    learn it; None when it is not a phone number."""
    try:
        phone = normalise_phone(raw_phone, config.phone_region)
    except InvalidContactField:
        return None
    item = LeadInput(source=TELEGRAM_SOURCE, name=_name(name), phone=phone, telegram_id=telegram_id)
    # an answer to a follow-up reopens its lead first: the message joins it ([[sequences]])
    await follow_up_answered(session, telegram_id, now, config, leads_chat_id)
    [result] = await intake_leads(session, [item], now, leads_chat_id, config, commit=False)
    await client_waits(session, result.lead_id, now, config)
    await session.commit()
    return result


def reply_refusal(lead: Lead, actor: Staff) -> Refusal | None:
    """reply_target's rule on the lead alone: its owner or a supervisor may answer the client
    of an open lead; None when `actor` may."""
    if lead.status in CLOSED_STATUSES:
        return Refusal.CLOSED
    if actor.role not in SUPERVISING and lead.owner_id != actor.id:
        if lead.status == LeadStatus.NEW:
            return Refusal.OUTDATED  # take it first
        return Refusal.NOT_YOURS
    return None


@dataclass(frozen=True)
class ReplyTarget:
    """Where a manager's answer goes: the client's private chat."""

    result: ActionResult
    chat_id: int | None = None


async def reply_target(session: AsyncSession, lead_id: int, actor: Staff) -> ReplyTarget:
    """May `actor` answer the client of this lead (its owner, or a supervisor; the lead still
    open), and where to."""
    lead = await load_lead(session, lead_id)
    if lead is None:
        return ReplyTarget(ActionResult(None, Refusal.NOT_FOUND))
    refusal = reply_refusal(lead, actor)
    if refusal is Refusal.NOT_YOURS:
        return ReplyTarget(ActionResult(lead, refusal, lead.owner.name if lead.owner else None))
    if refusal is not None:
        return ReplyTarget(ActionResult(lead, refusal))
    chat_id = None
    if lead.contact_id is not None:
        chat_id = await session.scalar(
            select(Contact.telegram_id).where(Contact.id == lead.contact_id)
        )
    if chat_id is None:
        return ReplyTarget(ActionResult(lead, Refusal.NOT_ALLOWED))
    return ReplyTarget(ActionResult(lead), chat_id)


def reply_works(lead: Lead, reader: Staff | None) -> bool:
    """Whether Reply under a client's message relayed for `lead` still does something for the
    person who reads that chat (None: the team chat). It is what pressing it does: on a new
    lead Reply takes it first (take_if_new), so it works for whoever may take it; else it is
    reply_target's rule (the owner or a supervisor, the lead still open). The team chat, like
    its copy of the card, keeps it only while the lead is new. `lead` as load_lead gives it."""
    if reader is not None and not reader.is_active:
        return False  # nothing they press is handled any more (IsStaff)
    if lead.status == LeadStatus.NEW:
        return reader is None or why_refused(Action.TAKE, lead, reader).ok
    return reader is not None and reply_refusal(lead, reader) is None


async def relayed_replies_gone(session: AsyncSession, lead: Lead) -> list[RelayedMessage]:
    """The client's messages relayed for `lead` that still show Reply though it no longer
    works for their chat's reader (reply_works): every one once the lead is closed; once it is
    someone else's, those in the chats of people who may not answer it. `lead` as load_lead
    gives it (its owner and offer loaded)."""
    shown = (
        await session.scalars(
            select(RelayedMessage)
            .where(RelayedMessage.lead_id == lead.id, RelayedMessage.buttons_removed_at.is_(None))
            .order_by(RelayedMessage.id)
        )
    ).all()
    staff_ids = {row.staff_id for row in shown if row.staff_id is not None}
    readers: dict[int | None, Staff] = {}
    if staff_ids:
        found = await session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))
        readers = {person.id: person for person in found}
    return [row for row in shown if not reply_works(lead, readers.get(row.staff_id))]


async def reply_buttons_removed(session: AsyncSession, relayed_id: int, now: datetime) -> None:
    """The message's Reply is gone (or Telegram will never show it again): it is not edited
    again, whatever becomes of the lead. A reopened lead does not bring the button back: a
    native reply to the message still answers the client (lead_of_relayed) wherever
    reply_target allows. Commits."""
    await session.execute(
        update(RelayedMessage).where(RelayedMessage.id == relayed_id).values(buttons_removed_at=now)
    )
    await session.commit()


async def queue_reply(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    chat_id: int,
    text: str,
    now: datetime,
    *,
    locale: str,
    copy_from: tuple[int, int] | None = None,
) -> int:
    """A manager's answer to the client of a lead (their chat `chat_id`, from reply_target):
    the lead's history records it and the outbox holds it for the client's chat, in one
    transaction. `text` is what the history keeps (a media answer's mark and caption); a text
    answer is sent as the manager's name and words, a media answer (`copy_from`: the manager's
    chat and message) is copied as it is. The notifier delivers it, retrying while Telegram
    fails, and only then ends the client's wait (reply_delivered). The `replied` event's id."""
    event = LeadEvent(
        lead_id=lead_id,
        kind="replied",
        actor_id=actor.id,
        data={"text": text[:MESSAGE_LIMIT]},
        created_at=now,
    )
    session.add(event)
    # an answer is a step of the work: the lead is not stalled (the card does not change)
    await session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=now))
    await session.flush()
    html = None
    if copy_from is None:  # the same words in both languages: the manager's name and their text
        html = render("client_reply.html.j2", locale, manager=actor.name, text=text[:MESSAGE_LIMIT])
    row = client_answer(
        lead_id, chat_id, actor.id, actor.telegram_id, event.id, now, html=html, copy_from=copy_from
    )
    await enqueue(session, [row])
    await session.commit()
    return event.id


async def reply_delivered(
    session: AsyncSession, answer: OutboxMessage, now: datetime, config: AppConfig
) -> None:
    """The client has the manager's answer (a CLIENT_ANSWER row): their wait ends now (the
    `answer` limit, and the lead's "no contact" one), and the manager is told it arrived. In
    the caller's transaction."""
    assert answer.lead_id is not None
    await client_answered(session, answer.lead_id, now, config)
    await enqueue(session, [_told_manager(answer, "reply_sent", {}, now)])


async def reply_not_delivered(
    session: AsyncSession, answer: OutboxMessage, blocked: bool, error: str, now: datetime
) -> None:
    """Telegram refused the manager's answer for good: the client blocked the bot (recorded as
    `client_blocked`, as the history has it) or another reason (`delivery_failed`). The client
    still waits; the manager is told, once. In the caller's transaction."""
    assert answer.lead_id is not None
    if blocked:
        replied = await session.get(LeadEvent, answer.payload.get("event_id", 0))
        text = str((replied.data if replied else {}).get("text", ""))
        kind, data = "client_blocked", {"text": text[:MESSAGE_LIMIT]}
        if answer.chat_id is not None:  # no follow-up ever again ([[sequences]])
            await person_said_stop(session, answer.chat_id, StopReason.BLOCKED, now)
        told = _told_manager(answer, "reply_blocked", {}, now)
    else:
        kind, data = "delivery_failed", {"chat_id": answer.chat_id, "error": error[:300]}
        told = _told_manager(answer, "reply_failed", {"reason": error[:200]}, now)
    session.add(
        LeadEvent(
            lead_id=answer.lead_id, kind=kind, actor_id=answer.staff_id, data=data, created_at=now
        )
    )
    # a plain message: if it fails in turn, nobody else is told (no loop)
    await enqueue(session, [told])


def _told_manager(
    answer: OutboxMessage, template: str, context: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What became of the answer, for the manager who wrote it (in their language)."""
    return text_message(
        answer.lead_id,
        int(answer.payload["manager_chat_id"]),
        answer.staff_id,
        template,
        {"lead_id": answer.lead_id, **context},
        now,
    )
