"""The read API's page cursor: where a page of leads ended, as an opaque string.

A cursor is a position in one order — `id`, or `(updated_at, id)` — never an offset, so a lead
inserted or changed between two pages moves no other lead across the page boundary. It carries
the order it was made for, so a cursor is never read in another order. The text is URL-safe
base64 of a small JSON object; its content is not a promise to clients (they pass it back as
it is), and anything that does not decode to a position is refused, never guessed.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_CURSOR = 200  # characters; a real cursor is under 100
MAX_ID = 2**31 - 1  # leads.id is an INTEGER: a larger id names no lead (and PostgreSQL refuses it)


class Sort(enum.StrEnum):
    ID = "id"  # the order leads arrived in: never changes
    UPDATED_AT = "updated_at"  # the last change: a lead changed since comes again, at the end


class CursorError(ValueError):
    """A cursor that is not one of ours, or not for this order."""


@dataclass(frozen=True)
class Position:
    """The last lead of a page, in its page's order: the next page starts after it."""

    sort: Sort
    lead_id: int
    updated_at: datetime | None = None  # Sort.UPDATED_AT only (UTC)


def encode_cursor(position: Position) -> str:
    data: dict[str, object] = {"s": position.sort.value, "i": position.lead_id}
    if position.updated_at is not None:
        data["k"] = position.updated_at.astimezone(UTC).isoformat()
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: Sort) -> Position:
    """The position a cursor names; CursorError when it is not a cursor for `sort`."""
    if len(text) > MAX_CURSOR:
        raise CursorError("cursor is not one this API gave")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):  # bad base64, not UTF-8, not JSON
        raise CursorError("cursor is not one this API gave") from None
    if not isinstance(data, dict):
        raise CursorError("cursor is not one this API gave")
    if data.get("s") != sort.value:
        raise CursorError(f"cursor was made for another sort than sort={sort.value}")
    lead_id = data.get("i")
    if isinstance(lead_id, bool) or not isinstance(lead_id, int) or not 0 <= lead_id <= MAX_ID:
        raise CursorError("cursor is not one this API gave")
    if sort is Sort.ID:
        return Position(sort, lead_id)
    key = data.get("k")
    try:
        moment = datetime.fromisoformat(key) if isinstance(key, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CursorError("cursor is not one this API gave")
    return Position(sort, lead_id, moment.astimezone(UTC))
