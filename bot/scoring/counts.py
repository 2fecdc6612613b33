"""The counts table: read as a whole (a few hundred rows), a closed lead added to it in the
transaction that closes it, a reopened lead taken back out in the one that reopens it. The
nightly recount (recount.py) rebuilds it from the leads, so whatever closes a lead outside these
paths (the auto-close of stale leads, a merge, an import) is counted by the next morning."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import Action
from bot.scoring.features import TOTAL, ScoredLead, lead_features
from bot.scoring.model import Counts, Tally
from storage.models import Lead, LeadStatus, ScoreCount, ScoreModel

WON_STATUSES = frozenset({LeadStatus.CONVERTED})
LOST_STATUSES = frozenset({LeadStatus.REFUSED, LeadStatus.JUNK})


async def last_recount(session: AsyncSession) -> ScoreModel | None:
    return await session.get(ScoreModel, 1)


async def read_counts(session: AsyncSession) -> Counts:
    rows = (await session.scalars(select(ScoreCount))).all()
    by_value = {(row.feature, row.value): Tally(row.won, row.lost) for row in rows}
    total = by_value.pop((TOTAL, ""), Tally())
    recount = await last_recount(session)
    held_out = recount.held_out if recount is not None else 0
    return Counts(by_value, total, closed=total.total + held_out)


def _bounded(column: object, delta: int) -> object:
    # a reopen of a lead the counts never had (closed before any count existed) stays at 0
    return case((column + delta < 0, 0), else_=column + delta)  # type: ignore[operator]


async def _add(session: AsyncSession, feature: str, value: str, won: int, lost: int) -> None:
    where = (ScoreCount.feature == feature, ScoreCount.value == value)
    values = {
        "won": _bounded(ScoreCount.won, won),
        "lost": _bounded(ScoreCount.lost, lost),
    }
    changed = await session.execute(update(ScoreCount).where(*where).values(**values))
    if changed.rowcount or (won <= 0 and lost <= 0):  # type: ignore[attr-defined]
        return
    try:
        async with session.begin_nested():  # another close may insert the same value meanwhile
            await session.execute(
                insert(ScoreCount).values(feature=feature, value=value, won=won, lost=lost)
            )
    except IntegrityError:
        await session.execute(update(ScoreCount).where(*where).values(**values))


async def count_lead(
    session: AsyncSession, lead: ScoredLead, won: bool, zone: tzinfo, sign: int = 1
) -> None:
    """Add (sign 1) or take back (sign -1) one closed lead's values; the caller commits."""
    won_delta, lost_delta = (sign, 0) if won else (0, sign)
    await _add(session, TOTAL, "", won_delta, lost_delta)
    for feature, value in lead_features(lead, zone).items():
        await _add(session, feature, value, won_delta, lost_delta)


def was_counted(closed_at: datetime | None, recount: ScoreModel | None) -> bool:
    """Whether a closed lead is in the counts: unless the last recount held it out to measure
    the model on (closed from `held_out_from` to the recount)."""
    if recount is None or recount.held_out_from is None or closed_at is None:
        return True
    return not (recount.held_out_from <= closed_at <= recount.computed_at)


async def lead_closed(
    session: AsyncSession, lead: ScoredLead, status: LeadStatus, zone: tzinfo
) -> None:
    """A lead was just closed: its values count from now on."""
    if status in WON_STATUSES or status in LOST_STATUSES:
        await count_lead(session, lead, status in WON_STATUSES, zone)


async def lead_reopened(
    session: AsyncSession,
    lead: ScoredLead,
    was: LeadStatus,
    closed_at: datetime | None,
    zone: tzinfo,
) -> None:
    """A closed lead (`was`, closed at `closed_at`) was reopened: its outcome no longer counts."""
    if was not in WON_STATUSES and was not in LOST_STATUSES:
        return
    if was_counted(closed_at, await last_recount(session)):
        await count_lead(session, lead, was in WON_STATUSES, zone, sign=-1)


async def closed_state(
    session: AsyncSession, lead_id: int
) -> tuple[LeadStatus, datetime | None] | None:
    """The status and close time of a lead about to be reopened (the reopen clears them)."""
    query = select(Lead.status, Lead.closed_at).where(Lead.id == lead_id)
    row = (await session.execute(query)).one_or_none()
    return (LeadStatus(row.status), row.closed_at) if row is not None else None


async def transition_counted(
    session: AsyncSession,
    action: Action,
    lead: Lead,
    before: tuple[LeadStatus, datetime | None] | None,
    zone: tzinfo,
) -> None:
    """The counts follow a transition, in its transaction: a close adds the lead, a reopen
    (`before`: its closed state) takes it back."""
    if action in (Action.CONVERT, Action.REFUSE, Action.JUNK):
        await lead_closed(session, lead, LeadStatus(lead.status), zone)
    elif action is Action.REOPEN and before is not None:
        await lead_reopened(session, lead, before[0], before[1], zone)
