"""The report's leads by campaign: the `utm_source` and `utm_campaign` a web form or connector
sent (kept in the lead's `utm`), and the bot's deep-link tag (`t.me/<bot>?start=<tag>`, kept
as `utm["start"]` on the lead a client's first message opens). One GROUP BY over the period's
cohort, by the three values read out of the JSON (SQLite's json_extract, PostgreSQL's ->>);
leads with none of them make one row of nulls."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.money import CENT, amount_text
from storage.models import LeadStatus

TAG_KEY = "start"  # bot/intake/client_chat.py keeps the deep link's tag under this utm key


@dataclass(frozen=True)
class CampaignRow:
    utm_source: str | None
    utm_campaign: str | None
    tag: str | None  # the bot's deep-link tag
    received: int = 0
    junk: int = 0
    converted: int = 0
    amount: Decimal = Decimal("0.00")

    @property
    def tagged(self) -> bool:
        """The leads came with a campaign (not the row of leads without one)."""
        return any((self.utm_source, self.utm_campaign, self.tag))


def _value(raw: Any) -> str | None:
    """A campaign value as stored: a form may send a number, or blanks (read as none)."""
    if raw is None:
        return None
    return " ".join(str(raw).split()) or None


async def campaign_rows(session: AsyncSession, cohort: Any) -> list[CampaignRow]:
    """The cohort's leads (a subquery with `utm`, `status` and `amount` columns) by utm_source,
    utm_campaign and deep-link tag: received, junk, deals and their sum; most leads first."""
    c = cohort.c
    keys = [
        c.utm["utm_source"].as_string().label("utm_source"),
        c.utm["utm_campaign"].as_string().label("utm_campaign"),
        c.utm[TAG_KEY].as_string().label("tag"),
    ]
    converted = c.status == LeadStatus.CONVERTED
    rows = await session.execute(
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(case((c.status == LeadStatus.JUNK, 1), else_=0)), 0),
            func.coalesce(func.sum(case((converted, 1), else_=0)), 0),
            func.sum(case((converted, c.amount))),
        )
        # by the labels: PostgreSQL would not match `utm ->> $1` in the select list with
        # `utm ->> $4` in GROUP BY (each key is its own bound parameter)
        .group_by(*(key.name for key in keys))
    )
    merged: dict[tuple[str | None, ...], list[Any]] = {}
    for source, campaign, tag, received, junk, deals, total in rows:
        # " autumn" and "autumn", 5 and "5": one campaign once read as text
        key = (_value(source), _value(campaign), _value(tag))
        numbers = merged.setdefault(key, [0, 0, 0, Decimal(0)])
        numbers[0] += int(received)
        numbers[1] += int(junk)
        numbers[2] += int(deals)
        numbers[3] += Decimal(str(total or 0))
    found = [
        CampaignRow(*key, received, junk, deals, Decimal(amount).quantize(CENT))
        for key, (received, junk, deals, amount) in merged.items()
    ]
    found.sort(key=lambda row: (-row.received, *(value or "" for value in _key(row))))
    return found


def _key(row: CampaignRow) -> tuple[str | None, str | None, str | None]:
    return row.utm_source, row.utm_campaign, row.tag


def campaigns_json(rows: list[CampaignRow]) -> list[dict[str, Any]]:
    """`by_campaign` as the API answers it (amounts as two-place strings)."""
    return [
        {
            "utm_source": row.utm_source,
            "utm_campaign": row.utm_campaign,
            "tag": row.tag,
            "received": row.received,
            "junk": row.junk,
            "converted": row.converted,
            "amount": amount_text(row.amount),
        }
        for row in rows
    ]
