"""The mailbox's health as the admins hear it: told once when it has failed a few times in
a row (down, or refusing the login), and once when it answers again. The watcher
(bot/adapters/mail/) keeps the count; these write the admins' messages to the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import enqueue, text_message
from storage.models import Role, Staff


async def tell_admins(
    session: AsyncSession, template: str, mailbox: str, error: str | None, now: datetime
) -> int:
    """One message to every active admin (email_mailbox_down / email_mailbox_back); commits.
    How many were told."""
    admins = (
        await session.scalars(
            select(Staff).where(Staff.is_active.is_(True), Staff.role == Role.ADMIN)
        )
    ).all()
    context = {"mailbox": mailbox[:200], "error": (error or "")[:200]}
    await enqueue(
        session,
        [
            text_message(None, admin.telegram_id, admin.id, template, context, now)
            for admin in admins
        ],
    )
    await session.commit()
    return len(admins)
