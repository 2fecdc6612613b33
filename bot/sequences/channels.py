"""The contact's preferred channel (Telegram, phone, e-mail) and first origin: set by a
manager on the card, or learned from the channel the client answers on."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import SUPERVISING
from storage.models import Contact, ContactChannel, Lead, Staff

AUTO = "auto"  # the manager's "not known": learned again from the client's answers


def telegram_reachable(contact: Contact | None) -> bool:
    """The bot can write to the client, and they did not ask for another channel."""
    if contact is None or contact.telegram_id is None:
        return False
    return contact.preferred_channel in (None, ContactChannel.TELEGRAM)


async def learn_channel(
    session: AsyncSession, contact_ids: list[int], channel: ContactChannel
) -> None:
    """The client answered on `channel`: it becomes their preferred one. In the caller's
    transaction."""
    if contact_ids:
        await session.execute(
            update(Contact).where(Contact.id.in_(contact_ids)).values(preferred_channel=channel)
        )


async def set_channel(
    session: AsyncSession, contact_id: int, channel: ContactChannel | None
) -> None:
    """A manager's choice on the card (None: not known). In the caller's transaction."""
    await session.execute(
        update(Contact).where(Contact.id == contact_id).values(preferred_channel=channel)
    )


class ChannelRefusal(enum.StrEnum):
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"  # a manager sets it on their own leads only
    NO_CONTACT = "no_contact"  # the lead has no person to set it on
    UNKNOWN_CHANNEL = "unknown_channel"


@dataclass(frozen=True)
class ChannelChoice:
    refusal: ChannelRefusal | None = None
    channel: ContactChannel | None = None


def read_channel(word: str) -> tuple[bool, ContactChannel | None]:
    """A channel as a manager types it: (understood, the channel; None for auto)."""
    cleaned = word.strip().lower().replace("-", "")
    if cleaned == AUTO:
        return True, None
    try:
        return True, ContactChannel(cleaned)
    except ValueError:
        return False, None


async def choose_channel(
    session: AsyncSession, lead_id: int, actor: Staff, word: str
) -> ChannelChoice:
    """The lead's owner (or a supervisor) sets how its client wants to be reached: follow-ups
    write in Telegram only while it is Telegram (or not known). Commits."""
    understood, channel = read_channel(word)
    if not understood:
        return ChannelChoice(ChannelRefusal.UNKNOWN_CHANNEL)
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if lead is None:
        return ChannelChoice(ChannelRefusal.NOT_FOUND)
    if actor.role not in SUPERVISING and lead.owner_id != actor.id:
        return ChannelChoice(ChannelRefusal.NOT_YOURS)
    if lead.contact_id is None:
        return ChannelChoice(ChannelRefusal.NO_CONTACT)
    await set_channel(session, lead.contact_id, channel)
    await session.commit()
    return ChannelChoice(channel=channel)
