"""Amounts as other systems read them: text with two places ("15000.50"), never a JSON number
that may come back as 15000.5000001."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def amount_text(value: Decimal | float | int | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT))
