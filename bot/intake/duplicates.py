"""Possible duplicates: the same person written twice with a slightly different phone
("Ivan Petrov" +7 900 123-45-67 and +7 900 123-45-76) is flagged on the card at intake; a
supervisor may then merge the two (bot/leads/merge.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, Lead

_SPACES = re.compile(r"\s+")
NAME_KEY_LIMIT = 200


def name_key(name: str | None) -> str | None:
    """A name folded for comparison: case, spacing and ё do not make two people."""
    if not name:
        return None
    folded = _SPACES.sub(" ", name.casefold().replace("ё", "е")).strip()
    return folded[:NAME_KEY_LIMIT] or None


def similar_phones(a: str | None, b: str | None) -> bool:
    """Two different numbers one slip of a finger apart: one digit wrong, or two neighbours
    swapped (same length)."""
    if not a or not b or a == b or len(a) != len(b):
        return False
    wrong = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(wrong) == 1:
        return True
    if len(wrong) != 2:
        return False
    first, second = wrong
    return second == first + 1 and a[first] == b[second] and a[second] == b[first]


async def flag_possible_duplicates(
    session: AsyncSession, leads: Sequence[tuple[int, int, str | None, str | None]]
) -> dict[int, int]:
    """For new leads (id, contact id, name, phone) of contacts just created: the earlier lead
    of a person with the same name and a similar phone. Flags them; {lead id: earlier id}."""
    keyed = {
        lead_id: (contact_id, name_key(name), phone)
        for lead_id, contact_id, name, phone in leads
        if name_key(name) and phone
    }
    if not keyed:
        return {}
    keys = {key for _, key, _ in keyed.values()}
    fresh = {contact_id for contact_id, _, _ in keyed.values()}
    people = await session.execute(
        select(Contact.id, Contact.name_key, Contact.phone).where(
            Contact.name_key.in_(keys), Contact.id.not_in(fresh), Contact.merged_into_id.is_(None)
        )
    )
    by_key: dict[str, list[tuple[int, str | None]]] = {}
    for contact_id, key, phone in people:
        by_key.setdefault(key, []).append((contact_id, phone))
    twins = {
        lead_id: [cid for cid, other in by_key.get(key or "", []) if similar_phones(phone, other)]
        for lead_id, (_, key, phone) in keyed.items()
    }
    wanted = {cid for found in twins.values() for cid in found}
    if not wanted:
        return {}
    latest = dict(
        (
            await session.execute(
                select(Lead.contact_id, func.max(Lead.id))
                .where(Lead.contact_id.in_(wanted), Lead.merged_into_id.is_(None))
                .group_by(Lead.contact_id)
            )
        ).all()
    )
    flagged: dict[int, int] = {}
    for lead_id, found in twins.items():
        earlier = [latest[cid] for cid in found if cid in latest and latest[cid] < lead_id]
        if earlier:
            flagged[lead_id] = max(earlier)
    for lead_id, earlier in flagged.items():
        await session.execute(
            update(Lead).where(Lead.id == lead_id).values(possible_duplicate_of_id=earlier)
        )
    return flagged
