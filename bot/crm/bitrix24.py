"""The Bitrix24 hand-off, the core side: what a converted lead becomes there (a contact, then a
deal bound to it), and the ids Bitrix24 gave them, kept on the lead.

The adapter (bot/adapters/bitrix24.py) calls the REST methods through the portal's inbound
webhook; the fields below are the ones Bitrix24's REST documents for crm.contact.add and
crm.deal.add (apidocs.bitrix24.com, "crm.contact.add", "crm.deal.add"). Both carry
ORIGINATOR_ID / ORIGIN_ID (the fields "for connections with external data sources"), so a
retry after a lost answer finds what the first try made (crm.contact.list / crm.deal.list by
them) instead of making it twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.deliveries import delivered
from bot.common.outbox import card_refresh, enqueue
from bot.config import Bitrix24
from storage.models import Lead

ORIGINATOR = "leadbot"  # ORIGINATOR_ID: the external system the records come from
NAME_LIMIT = 50  # characters of the name in NAME (the whole name goes to the comments too)
TITLE_LIMIT = 255
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def contact_origin(lead: dict[str, Any]) -> str:
    """ORIGIN_ID of the person: our contact (a returning client's second deal binds to the
    same Bitrix24 contact), or the lead when it has none."""
    if lead.get("contact_id"):
        return f"contact-{lead['contact_id']}"
    return f"lead-{lead['id']}"


def deal_origin(lead: dict[str, Any]) -> str:
    return f"lead-{lead['id']}"


def _shown_name(lead: dict[str, Any]) -> str:
    # NAME or LAST_NAME must be given: a lead without a name is named by what we have
    return str(lead.get("name") or lead.get("phone") or lead.get("email") or f"Lead #{lead['id']}")


def _source_fields(lead: dict[str, Any], rules: Bitrix24) -> dict[str, Any]:
    source = str(lead.get("source") or "")
    fields: dict[str, Any] = {"SOURCE_DESCRIPTION": source}
    if source in rules.source_ids:
        fields["SOURCE_ID"] = rules.source_ids[source]
    utm = lead.get("utm") or {}
    for key in UTM:
        if isinstance(utm.get(key), str) and utm[key]:
            fields[key.upper()] = utm[key]
    return fields


def contact_fields(lead: dict[str, Any], rules: Bitrix24) -> dict[str, Any]:
    """crm.contact.add's `fields` for the lead's person."""
    fields: dict[str, Any] = {
        "NAME": _shown_name(lead)[:NAME_LIMIT],
        "OPENED": "Y",
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": contact_origin(lead),
        **_source_fields(lead, rules),
    }
    if lead.get("phone"):
        fields["PHONE"] = [{"VALUE": lead["phone"], "VALUE_TYPE": "WORK"}]
    if lead.get("email"):
        fields["EMAIL"] = [{"VALUE": lead["email"], "VALUE_TYPE": "WORK"}]
    return fields


def deal_comments(lead: dict[str, Any]) -> str:
    """COMMENTS: whose deal it was (the owner's name), and what the lead said."""
    owner = (lead.get("owner") or {}).get("name")
    lines = [f"leadbot lead #{lead['id']}", f"Owner: {owner or '-'}"]
    if lead.get("name") and len(str(lead["name"])) > NAME_LIMIT:
        lines.append(f"Name: {lead['name']}")
    for label, key in (("Service", "service"), ("Message", "message")):
        if lead.get(key):
            lines.append(f"{label}: {lead[key]}")
    return "\n".join(lines)


def deal_fields(lead: dict[str, Any], contact_id: int, rules: Bitrix24) -> dict[str, Any]:
    """crm.deal.add's `fields`: the deal, bound to the contact (CONTACT_IDS; CONTACT_ID is
    documented as deprecated), with the amount and the currency when the lead has an amount."""
    suffix = f" (leadbot #{lead['id']})"
    head = str(lead.get("service") or _shown_name(lead))[: TITLE_LIMIT - len(suffix)]
    fields: dict[str, Any] = {
        "TITLE": head + suffix,
        "CONTACT_IDS": [contact_id],
        "CURRENCY_ID": rules.currency_id,
        "COMMENTS": deal_comments(lead),
        "OPENED": "Y",
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": deal_origin(lead),
        **_source_fields(lead, rules),
    }
    if lead.get("amount") is not None:
        fields["OPPORTUNITY"] = lead["amount"]  # a decimal string: "15000.00"
    if rules.stage_id:
        fields["STAGE_ID"] = rules.stage_id
    return fields


async def handed_off_ids(session: AsyncSession, lead_id: int) -> tuple[int | None, int | None]:
    """The Bitrix24 contact and deal already made of this lead (None: not yet)."""
    found = await session.execute(
        select(Lead.bitrix24_contact_id, Lead.bitrix24_deal_id).where(Lead.id == lead_id)
    )
    row = found.one_or_none()
    await session.commit()
    return (row[0], row[1]) if row is not None else (None, None)


async def keep_contact(session: AsyncSession, lead_id: int, contact_id: int) -> None:
    """The contact's id, kept the moment Bitrix24 gave it (committed), so a retry binds the
    deal to it instead of making another."""
    await session.execute(
        update(Lead).where(Lead.id == lead_id).values(bitrix24_contact_id=contact_id)
    )
    await session.commit()


async def keep_deal(
    session: AsyncSession, delivery_id: int, lead_id: int, deal_id: int, now: datetime
) -> None:
    """The deal's id, the hand-off's row delivered and the lead's cards redrawn (they show
    the ids): one transaction."""
    await session.execute(
        update(Lead)
        .where(Lead.id == lead_id)
        .values(bitrix24_deal_id=deal_id, version=Lead.version + 1)
    )
    await enqueue(session, [card_refresh(lead_id, now)])
    await delivered(session, delivery_id, now)
    await session.commit()


async def already_handed_off(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    """The lead has its deal already (converted again after a reopen): nothing to make."""
    await delivered(session, delivery_id, now)
    await session.commit()
