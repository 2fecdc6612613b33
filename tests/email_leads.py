"""An e-mail lead as the e-mail intake makes it, for the tests of answers by e-mail: a lead
with source "email" and the client's address, and the client's letter (an `email_letters`
row, direction "in") with its Message-ID, subject and References."""

from __future__ import annotations

from datetime import datetime

from bot.config import AppConfig
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from storage.db import SessionFactory
from storage.models import EMAIL_SOURCE, EmailLetter

KATE_ADDRESS = "kate@example.com"
KATE_MESSAGE_ID = "CAF+kate.1@mail.example.com"
KATE_REFERENCES = "<first.1@team.test>\r\n <second.2@mail.example.com>"
KATE_SUBJECT = "Re: Delivery to Moscow?"
TEAM_FROM = "Sales team <sales@team.test>"


async def email_lead(
    sessions: SessionFactory,
    now: datetime,
    config: AppConfig,
    *,
    subject: str = KATE_SUBJECT,
    from_address: str = f"Kate <{KATE_ADDRESS}>",
    message_id: str = KATE_MESSAGE_ID,
    references: str | None = KATE_REFERENCES,
    uid: int = 1,
) -> int:
    """Kate's letter, made into a lead (or joined to her open one); the lead's id."""
    item = LeadInput(
        source=EMAIL_SOURCE,
        name="Kate",
        email=KATE_ADDRESS,
        message="Do you deliver to Moscow?",
    )
    async with sessions() as session:
        [result] = await intake_leads(session, [item], now, None, config, commit=False)
        session.add(
            EmailLetter(
                lead_id=result.lead_id,
                direction="in",
                message_id=message_id,
                mailbox="INBOX",
                uidvalidity=1,
                uid=uid,
                thread_refs=references,
                subject=subject,
                from_address=from_address,
                to_address="sales@team.test",
                outcome="lead" if result.created else "joined",
                created_at=now,
            )
        )
        await session.commit()
    return result.lead_id
