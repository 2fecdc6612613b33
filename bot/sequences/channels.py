"""The contact's preferred channel (Telegram, phone, e-mail) and first origin: set by a
manager on the card, or learned from the channel the client answers on."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, ContactChannel


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
