"""The full recount: every closed lead's values counted anew, as GROUP BY queries (one per
factor or group of factors, over a narrow temporary copy of the closed leads' factors, so a
million leads cost one scan of `leads` and a few small ones, not a million Python rows);
the most recent closed leads are kept out of the counts and the model is measured on them
(AUC). Run nightly (scheduler: `score_recount`) and by the benchmark (bench/scoring.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.scoring.counts import LOST_STATUSES, WON_STATUSES, last_recount
from bot.scoring.features import (
    TOTAL,
    channel,
    text_value,
    time_values,
    yes_no,
)
from bot.scoring.model import Counts, Tally, auc, model_probability
from storage.models import Lead, ScoreCount, ScoreModel, UTCDateTime

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

    def add(self, feature: str, value: str, won: object, count: int) -> None:
        (self.won if won else self.lost)[(feature, value)] += count

    def counts(self, closed: int) -> Counts:
        keys = set(self.won) | set(self.lost)
        by_value = {key: Tally(self.won.get(key, 0), self.lost.get(key, 0)) for key in keys}
        total = by_value.pop((TOTAL, ""), Tally())
        return Counts(by_value, total, closed)


# The closed leads' factors, narrowed into a temporary table by one scan of `leads` (whose
# rows are wide: messages, JSON): the holdout's start and every GROUP BY then read this small
# table instead of the big one, a million rows in seconds.
_narrow = MetaData()
ROWS = Table(
    "score_rows",
    _narrow,
    Column("won", Integer),
    Column("closed", UTCDateTime()),
    Column("source", String),
    Column("utm_source", String),
    Column("service", String),
    Column("hour", Integer),  # hours since 1970, UTC
    Column("phone", Integer),
    Column("email", Integer),
    Column("repeat", Integer),
    Column("length", String),
    prefixes=["TEMPORARY"],
)


async def _narrow_rows(session: AsyncSession, where: list[ColumnElement[bool]]) -> None:
    dialect = session.bind.dialect.name
    await session.execute(text("DROP TABLE IF EXISTS score_rows"))
    await session.run_sync(lambda sync: ROWS.create(sync.connection()))
    picked = select(
        case((Lead.status.in_(WON_STATUSES), 1), else_=0),
        closed_key(),
        Lead.source,
        Lead.utm["utm_source"].as_string(),
        Lead.service,
        _hour_bucket(dialect),
        _present(Lead.phone),
        _present(Lead.email),
        case((Lead.is_repeat, 1), else_=0),
        _length_band_sql(),
    ).where(*where)
    await session.execute(insert(ROWS).from_select([c.name for c in ROWS.columns], picked))


def row_features(row: Any, zone: tzinfo) -> dict[str, str]:
    """A narrowed row's values, as features.lead_features reads a lead."""
    hour, weekday = time_values(datetime.fromtimestamp(int(row.hour) * 3600, UTC), zone)
    return {
        "source": text_value(row.source),
        "utm_source": text_value(row.utm_source),
        "service": text_value(row.service),
        "channel": channel(str(row.source or "")),
        "hour": hour,
        "weekday": weekday,
        "phone": yes_no(row.phone),
        "email": yes_no(row.email),
        "repeat": yes_no(row.repeat),
        "length": str(row.length),
    }


async def _grouped(
    session: AsyncSession, where: list[ColumnElement[bool]], *columns: ColumnElement[Any]
) -> Sequence[Row[Any]]:
    query = select(*columns, ROWS.c.won, func.count()).where(*where).group_by(*columns, ROWS.c.won)
    return (await session.execute(query)).all()


async def count_narrowed(
    session: AsyncSession, where: list[ColumnElement[bool]], zone: tzinfo
) -> _Tallies:
    """Every factor's won / lost counts over the narrowed rows `where` selects."""
    tallies = _Tallies()
    r = ROWS.c
    # two sorts of the narrow rows, not one per factor: the arrival hour (thousands of hours a
    # year), and every other factor at once (their combinations are few: a handful of sources,
    # services and UTM sources times 2 x 2 x 2 x 4), added up per factor here
    for bucket, won, count in await _grouped(session, where, r.hour):
        hour, weekday = time_values(datetime.fromtimestamp(int(bucket) * 3600, UTC), zone)
        tallies.add("hour", hour, won, count)
        tallies.add("weekday", weekday, won, count)
    others = (r.source, r.utm_source, r.service, r.phone, r.email, r.repeat, r.length)
    for source, utm, service, phone, email, repeat, band, won, count in await _grouped(
        session, where, *others
    ):
        tallies.add(TOTAL, "", won, count)
        tallies.add("source", text_value(source), won, count)
        tallies.add("channel", channel(str(source or "")), won, count)
        tallies.add("utm_source", text_value(utm), won, count)
        tallies.add("service", text_value(service), won, count)
        tallies.add("phone", yes_no(phone), won, count)
        tallies.add("email", yes_no(email), won, count)
        tallies.add("repeat", yes_no(repeat), won, count)
        tallies.add("length", str(band), won, count)
    return tallies


async def _holdout_start(session: AsyncSession, closed: int, wanted: int) -> datetime | None:
    """When the most recent `wanted` closed leads (at most a fifth of them) start."""
    held = min(wanted, closed // HOLDOUT_SHARE)
    if held <= 0:
        return None
    return await session.scalar(
        select(ROWS.c.closed).order_by(ROWS.c.closed.desc()).offset(held - 1).limit(1)
    )


async def _held_out_auc(
    session: AsyncSession, start: datetime, counts: Counts, config: AppConfig
) -> float | None:
    if counts.total.won == 0 or counts.total.lost == 0:
        return None
    rows = (await session.execute(select(ROWS).where(ROWS.c.closed >= start))).all()
    scored = [
        (
            model_probability(row_features(row, config.zone), counts, config.scoring)[0],
            bool(row.won),
        )
        for row in rows
    ]
    return auc(scored)


RECOUNT_LOCK = 16_001  # PostgreSQL advisory lock: one recount at a time across instances


async def _hold_recount_lock(session: AsyncSession) -> None:
    """Take the write lock first: a recount that read, then wrote, would fail on SQLite when
    another writer came in between; on PostgreSQL a second instance waits, then recounts."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(RECOUNT_LOCK)))
    else:  # SQLite: the database's write lock now (as BEGIN IMMEDIATE would)
        await session.execute(
            update(ScoreCount)
            .where(false())
            .values(won=ScoreCount.won)
            .execution_options(synchronize_session=False)
        )


async def recount(session: AsyncSession, now: datetime, config: AppConfig) -> Recount:
    """Rebuild the counts from every closed lead (merged duplicates aside) and measure the
    model on the held-out ones; one transaction."""
    await _hold_recount_lock(session)
    closed_where = [Lead.status.in_(CLOSED), Lead.merged_into_id.is_(None)]
    await _narrow_rows(session, closed_where)
    closed = await session.scalar(select(func.count()).select_from(ROWS)) or 0
    start = await _holdout_start(session, closed, config.scoring.holdout)
    counted_where = [ROWS.c.closed < start] if start else []
    tallies = await count_narrowed(session, counted_where, config.zone)
    counts = tallies.counts(closed)
    measured = await _held_out_auc(session, start, counts, config) if start else None
    held_out = closed - counts.total.total
    await session.execute(text("DROP TABLE score_rows"))
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
    model.closed = closed
    model.auc = measured
    await session.commit()
    return Recount(closed, counts.total.total, held_out, len(rows), measured)


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
