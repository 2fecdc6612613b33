"""Which of a client's relayed messages must lose Reply after a change of the lead: those whose
Reply no longer works for their chat's reader, as pressing it would find (take a new lead, or
answer as its owner or a supervisor while it is open), and never one already stripped."""

from __future__ import annotations

from sqlalchemy import update

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.intake.client_chat import (
    client_wrote,
    relayed_replies_gone,
    remember_relayed,
    reply_buttons_removed,
)
from bot.leads.actions import close_lead, load_lead, take_lead
from bot.leads.reassign import reassign_lead
from storage.db import SessionFactory
from storage.models import Lead, Staff

KATE = 7001
TEAM_CHAT = -1001234567890


async def _gone(sessions: SessionFactory, lead_id: int) -> list[int]:
    """The chats whose relayed message must lose Reply now."""
    async with sessions() as session:
        lead = await load_lead(session, lead_id)
        assert lead is not None
        return [message.chat_id for message in await relayed_replies_gone(session, lead)]


async def test_reply_goes_where_pressing_it_would_be_refused(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna, boris, sveta = staff["anna"], staff["boris"], staff["sveta"]
    now = clock.now()
    async with sessions() as session:
        lead_id = (await client_wrote(session, KATE, "Kate", "Hi", now, config, None)).lead_id
        # a new lead's photo went to every chat its card went to, the team chat's too
        for message_id, person in enumerate((anna, boris, sveta), start=10):
            assert await remember_relayed(
                session, person.telegram_id, message_id, lead_id, person.id, now
            )
        assert await remember_relayed(session, TEAM_CHAT, 13, lead_id, None, now)
    assert await _gone(sessions, lead_id) == []  # Reply takes a new lead: it works everywhere

    async with sessions() as session:  # offered to Boris: Anna can no longer take it
        await session.execute(update(Lead).where(Lead.id == lead_id).values(offered_to_id=boris.id))
        await session.commit()
    assert await _gone(sessions, lead_id) == [anna.telegram_id]

    async with sessions() as session:
        assert (await take_lead(session, lead_id, boris, now, config)).ok
    # Boris's; Sveta supervises; Anna and the team chat are out
    assert await _gone(sessions, lead_id) == [anna.telegram_id, TEAM_CHAT]

    async with sessions() as session:
        lead = await load_lead(session, lead_id)
        assert lead is not None
        assert (await reassign_lead(session, lead_id, sveta, anna.id, lead.version, now)).ok
    assert await _gone(sessions, lead_id) == [boris.telegram_id, TEAM_CHAT]

    async with sessions() as session:  # stripped once: never asked for again
        for message in await relayed_replies_gone(session, (await load_lead(session, lead_id))):
            await reply_buttons_removed(session, message.id, now)
    assert await _gone(sessions, lead_id) == []

    async with sessions() as session:
        assert (await close_lead(session, lead_id, anna, Action.JUNK, "spam", None, now, config)).ok
        # a message arriving now: its Reply is already dead
        assert not await remember_relayed(session, anna.telegram_id, 14, lead_id, anna.id, now)
    assert await _gone(sessions, lead_id) == [anna.telegram_id, sveta.telegram_id, anna.telegram_id]


async def test_a_deactivated_readers_reply_goes(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    anna = staff["anna"]
    now = clock.now()
    async with sessions() as session:
        lead_id = (await client_wrote(session, KATE, "Kate", "Hi", now, config, None)).lead_id
        assert (await take_lead(session, lead_id, anna, now, config)).ok
        assert await remember_relayed(session, anna.telegram_id, 10, lead_id, anna.id, now)
        await session.execute(update(Staff).where(Staff.id == anna.id).values(is_active=False))
        await session.commit()
    assert await _gone(sessions, lead_id) == [anna.telegram_id]
