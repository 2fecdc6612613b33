"""The full recount: every closed lead's values counted anew, as GROUP BY queries (one per
factor or group of factors, so a million leads cost a few scans, not a million Python rows);
the most recent closed leads are kept out of the counts and the model is measured on them
(AUC). Run nightly (scheduler: `score_recount`) and by the benchmark (bench/scoring.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.scoring.counts import LOST_STATUSES, WON_STATUSES, last_recount
from bot.scoring.features import (
    TOTAL,
    channel,
    lead_features,
    text_value,
    time_values,
    yes_no,
)
from bot.scoring.model import Counts, Tally, auc, model_probability
from storage.models import Lead, ScoreCount, ScoreModel

HOLDOUT_SHARE = 5  # at most one closed lead in 5 is held out, so the counts keep the most
CLOSED = [*WON_STATUSES, *LOST_STATUSES]


@dataclass(frozen=True)
class Recount:
    closed: int  # closed leads seen
    counted: int  # of them, in the counts
    held_out: int  # of them, kept out to measure the model
    values: int  # (factor, value) rows written
    auc: float | None


def closed_key() -> ColumnElement[datetime]:
    """When a lead closed (an imported closed lead may have no closed_at: its last change)."""
    return func.coalesce(Lead.closed_at, Lead.updated_at)


def _present(column: ColumnElement[str | None]) -> ColumnElement[int]:
    return case((and_(column.is_not(None), column != ""), 1), else_=0)


def _hour_bucket(dialect: str) -> ColumnElement[int]:
    """Hours since 1970 (UTC): a few thousand groups that Python turns into local hour bands
    and weekdays exactly, daylight saving included."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", Lead.created_at), Integer) / 3600
    return cast(func.floor(func.extract("epoch", Lead.created_at) / 3600), Integer)


def _length_band_sql() -> ColumnElement[str]:
    length = func.length(func.coalesce(Lead.message, ""))
    # the same bands as features.length_band (checked by tests/core/test_scoring.py)
    return case(
        (length == 0, "none"), (length < 40, "short"), (length < 300, "medium"), else_="long"
    )


class _Tallies:
    def __init__(self) -> None:
        self.won: dict[tuple[str, str], int] = defaultdict(int)
        self.lost: dict[tuple[str, str], int] = defaultdict(int)

    def add(self, feature: str, value: str, status: str, count: int) -> None:
        (self.won if status in WON_STATUSES else self.lost)[(feature, value)] += count

    def counts(self, closed: int) -> Counts:
        keys = set(self.won) | set(self.lost)
        by_value = {key: Tally(self.won.get(key, 0), self.lost.get(key, 0)) for key in keys}
        total = by_value.pop((TOTAL, ""), Tally())
        return Counts(by_value, total, closed)


async def _grouped(
    session: AsyncSession, where: list[ColumnElement[bool]], *columns: ColumnElement[object]
) -> Iterable[tuple[object, ...]]:
    query = (
        select(*columns, Lead.status, func.count()).where(*where).group_by(*columns, Lead.status)
    )
    return (await session.execute(query)).all()


async def count_closed(
    session: AsyncSession, where: list[ColumnElement[bool]], zone: tzinfo
) -> _Tallies:
    """Every factor's won / lost counts over the leads `where` selects."""
    tallies = _Tallies()
    dialect = session.bind.dialect.name
    for source, status, count in await _grouped(session, where, Lead.source):
        tallies.add(TOTAL, "", status, count)
        tallies.add("source", text_value(source), status, count)
        tallies.add("channel", channel(str(source or "")), status, count)
    utm = Lead.utm["utm_source"].as_string()
    for value, status, count in await _grouped(session, where, utm):
        tallies.add("utm_source", text_value(value), status, count)
    for value, status, count in await _grouped(session, where, Lead.service):
        tallies.add("service", text_value(value), status, count)
    for bucket, status, count in await _grouped(session, where, _hour_bucket(dialect)):
        hour, weekday = time_values(datetime.fromtimestamp(int(bucket) * 3600, UTC), zone)
        tallies.add("hour", hour, status, count)
        tallies.add("weekday", weekday, status, count)
    flags = (_present(Lead.phone), _present(Lead.email), Lead.is_repeat)
    for phone, email, repeat, status, count in await _grouped(session, where, *flags):
        tallies.add("phone", yes_no(phone), status, count)
        tallies.add("email", yes_no(email), status, count)
        tallies.add("repeat", yes_no(repeat), status, count)
    for band, status, count in await _grouped(session, where, _length_band_sql()):
        tallies.add("length", str(band), status, count)
    return tallies


async def _holdout_start(session: AsyncSession, closed: int, wanted: int) -> datetime | None:
    """When the most recent `wanted` closed leads (at most a fifth of them) start."""
    held = min(wanted, closed // HOLDOUT_SHARE)
    if held <= 0:
        return None
    return await session.scalar(
        select(closed_key())
        .where(Lead.status.in_(CLOSED), Lead.merged_into_id.is_(None))
        .order_by(closed_key().desc())
        .offset(held - 1)
        .limit(1)
    )


async def _held_out_auc(
    session: AsyncSession, where: list[ColumnElement[bool]], counts: Counts, config: AppConfig
) -> float | None:
    if counts.total.won == 0 or counts.total.lost == 0:
        return None
    leads = await session.scalars(select(Lead).where(*where))
    scored = [
        (
            model_probability(lead_features(lead, config.zone), counts, config.scoring)[0],
            lead.status in WON_STATUSES,
        )
        for lead in leads
    ]
    return auc(scored)


async def recount(session: AsyncSession, now: datetime, config: AppConfig) -> Recount:
    """Rebuild the counts from every closed lead (merged duplicates aside) and measure the
    model on the held-out ones; one transaction."""
    closed_where = [Lead.status.in_(CLOSED), Lead.merged_into_id.is_(None)]
    closed = await session.scalar(select(func.count()).select_from(Lead).where(*closed_where))
    start = await _holdout_start(session, closed or 0, config.scoring.holdout)
    counted_where = [*closed_where, closed_key() < start] if start else closed_where
    tallies = await count_closed(session, counted_where, config.zone)
    counts = tallies.counts(closed or 0)
    held_where = [*closed_where, closed_key() >= start] if start else []
    measured = await _held_out_auc(session, held_where, counts, config) if start else None
    held_out = (closed or 0) - counts.total.total
    rows = [
        {"feature": feature, "value": value, "won": tally.won, "lost": tally.lost}
        for (feature, value), tally in counts.by_value.items()
    ]
    rows.append({"feature": TOTAL, "value": "", "won": counts.total.won, "lost": counts.total.lost})
    await session.execute(delete(ScoreCount))
    await session.execute(insert(ScoreCount), rows)
    model = await last_recount(session)
    if model is None:
        model = ScoreModel(id=1)
        session.add(model)
    model.computed_at = now
    model.held_out_from = start
    model.held_out = held_out
    model.closed = closed or 0
    model.auc = measured
    await session.commit()
    return Recount(closed or 0, counts.total.total, held_out, len(rows), measured)


def recount_due(model: ScoreModel | None, now: datetime, config: AppConfig) -> bool:
    """Once a local day, after `[scoring] recompute_at`."""
    local = now.astimezone(config.zone)
    if local.time() < config.scoring.recompute_at:
        return False
    return model is None or model.computed_at.astimezone(config.zone).date() < local.date()


async def recount_if_due(session: AsyncSession, now: datetime, config: AppConfig) -> Recount | None:
    if not recount_due(await last_recount(session), now, config):
        return None
    return await recount(session, now, config)
