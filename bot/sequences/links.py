"""Web-form clients reached in Telegram: the intake's answer carries a one-time
`t.me/<bot>?start=<token>` for the form's thank-you page; whoever opens it first becomes the
lead's contact in Telegram (the relay, follow-ups and self-service work from then on)."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, ContactChannel, Lead, TelegramLink

# "c-" and 24 characters: never an invite's token (32 characters, bot/team/invites.py), and a
# shape no campaign tag is expected to have; Telegram allows 64 of A-Z a-z 0-9 _ - in all
LINK_SHAPE = re.compile(r"^c-[A-Za-z0-9_-]{24}$")


def new_link_token() -> str:
    return "c-" + secrets.token_urlsafe(18)


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


async def link_token_for(session: AsyncSession, lead_id: int, now: datetime) -> str | None:
    """A new one-time token for the lead's client; None when the bot can write to them in
    Telegram already (or the lead has no contact). Commits."""
    reachable = await session.execute(
        select(Contact.id, Contact.telegram_id)
        .join(Lead, Lead.contact_id == Contact.id)
        .where(Lead.id == lead_id)
    )
    found = reachable.first()
    if found is None or found.telegram_id is not None:
        await session.commit()
        return None
    token = new_link_token()
    session.add(TelegramLink(token=token, lead_id=lead_id, created_at=now))
    await session.commit()
    return token


class LinkRefusal(enum.StrEnum):
    UNKNOWN = "unknown"  # no such token (mistyped, forged)
    USED = "used"  # someone else opened it first
    TAKEN = "taken"  # the contact is someone else's Telegram already


@dataclass(frozen=True)
class LinkResult:
    lead_id: int | None
    refusal: LinkRefusal | None = None


async def open_link(
    session: AsyncSession, token: str, telegram_id: int, now: datetime
) -> LinkResult:
    """`/start <token>`: the opener becomes the lead's contact in Telegram (their preferred
    channel from now). Opening it again is no change; someone else's second opening is
    refused. Commits."""
    link = await session.scalar(
        select(TelegramLink)
        .where(TelegramLink.token == token)
        .execution_options(populate_existing=True)
    )
    if link is None:
        await session.commit()
        return LinkResult(None, LinkRefusal.UNKNOWN)
    if link.used_by is not None:
        await session.commit()
        if link.used_by == telegram_id:
            return LinkResult(link.lead_id)
        return LinkResult(link.lead_id, LinkRefusal.USED)
    claimed = await session.execute(  # of two openings at once one claims it
        update(TelegramLink)
        .where(TelegramLink.id == link.id, TelegramLink.used_by.is_(None))
        .values(used_by=telegram_id, used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await session.rollback()
        return LinkResult(link.lead_id, LinkRefusal.USED)
    contact_id = await session.scalar(select(Lead.contact_id).where(Lead.id == link.lead_id))
    linked = await session.execute(
        update(Contact)
        .where(
            Contact.id == contact_id,
            (Contact.telegram_id.is_(None)) | (Contact.telegram_id == telegram_id),
        )
        .values(telegram_id=telegram_id, preferred_channel=ContactChannel.TELEGRAM)
    )
    if getattr(linked, "rowcount", 0) != 1:
        await session.rollback()
        return LinkResult(link.lead_id, LinkRefusal.TAKEN)
    await session.commit()
    return LinkResult(link.lead_id)
