"""One call set up at a time per lead: the `dial_holds` row a press claims before the PBX is
asked, and what releases it (the PBX failing, or its call event arriving).

The claim is a conditional UPDATE of the lead's row (`held_until <= now`), or the INSERT of its
first row; either is committed before the PBX is asked. Two presses racing, in one process or
in two instances, cannot both win: on PostgreSQL the second UPDATE waits for the first's row
lock and then finds the row held; two first INSERTs meet the primary key. SQLite serialises
writers."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialHold


async def claim_dial(
    session: AsyncSession, lead_id: int, staff_id: int, now: datetime, hold: timedelta
) -> str | None:
    """Hold the lead's line for `hold`: the claim's token, or None when a call is being set
    up already. Commits."""
    token = secrets.token_hex(8)
    values = {"staff_id": staff_id, "token": token, "requested_at": now, "held_until": now + hold}
    taken = await session.execute(
        update(DialHold)
        .where(DialHold.lead_id == lead_id, DialHold.held_until <= now)
        .values(**values)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        await session.commit()
        return token
    try:
        async with session.begin_nested():  # the lead's first call, or someone holds it
            session.add(DialHold(lead_id=lead_id, **values))
    except IntegrityError:  # the savepoint is undone; ending with a commit (it wrote nothing)
        await session.commit()  # keeps the session's objects loaded, as a rollback would not
        return None
    await session.commit()
    return token


async def release_dial(session: AsyncSession, lead_id: int, token: str, now: datetime) -> None:
    """The PBX did not take the call: the next press may try at once. Only this claim's row is
    released (a later claim is someone else's). Commits."""
    await session.execute(
        update(DialHold)
        .where(DialHold.lead_id == lead_id, DialHold.token == token)
        .values(held_until=now)
    )
    await session.commit()


async def call_reported(session: AsyncSession, lead_id: int, now: datetime) -> None:
    """The PBX reported a call of the lead: the call set up is over, the button works again.
    In the caller's transaction (not committed here)."""
    await session.execute(
        update(DialHold)
        .where(DialHold.lead_id == lead_id, DialHold.held_until > now)
        .values(held_until=now)
    )
