"""The SQL the report's sections share: seconds between two moments, percentiles by window
functions, and the UTC quarter hour of a moment. Each works the same on SQLite and on
PostgreSQL, so one query serves both (the dialect picks the spelling)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, Select, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

QUARTER = timedelta(minutes=15)  # every time zone's offset is a multiple of it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOBODY = literal(0)  # the one group of a percentile taken over all the rows


def seconds_between(earlier: Any, later: Any, dialect: str) -> ColumnElement[Any]:
    """`later - earlier` in seconds (a float), in SQL."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def utc_quarter(column: Any, dialect: str) -> ColumnElement[Any]:
    """The number of the UTC quarter hour a moment falls in, counted from 1970: grouping by it
    counts per 15 minutes, which any time zone's offset maps onto whole local hours."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 900), Integer)
    # julianday 2440587.5 is 1970-01-01 00:00 UTC; 96 quarters a day
    return cast((func.julianday(column) - 2440587.5) * 96 + 1e-6, Integer)


def quarter_start(number: int) -> datetime:
    """The UTC moment quarter `number` (of `utc_quarter`) begins."""
    return EPOCH + number * QUARTER


async def percentiles(
    session: AsyncSession,
    rows: Select[Any],
    quantiles: Sequence[int],
) -> dict[Any, dict[int, float]]:
    """Percentiles (whole percents, e.g. 50 and 90) of each group of `rows` — a SELECT of
    (group, value) — by linear interpolation between the closest ranks (numpy's default,
    "type 7"). The database ranks the values in each group and returns only the two around
    each wanted rank, so however many values there are, a handful of rows come back.
    NULL values are left out; a group with none has no entry."""
    source = rows.subquery("measured")
    group, value = source.c[0], source.c[1]
    ranked = (
        select(
            group.label("grp"),
            value.label("value"),
            (func.row_number().over(partition_by=group, order_by=value) - 1).label("rank"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(value.is_not(None))
        .subquery("ranked")
    )
    r = ranked.c
    # floor((n - 1) * p / 100) in integers: the same on both databases (no float casts)
    wanted = []
    for p in quantiles:
        below = (r.n - 1) * p // 100
        wanted += [r.rank == below, r.rank == below + 1]
    found: dict[Any, dict[int, float]] = {}
    counts: dict[Any, int] = {}
    for grp, measured, rank, n in await session.execute(
        select(r.grp, r.value, r.rank, r.n).where(or_(*wanted))
    ):
        found.setdefault(grp, {})[int(rank)] = float(measured)
        counts[grp] = int(n)
    result: dict[Any, dict[int, float]] = {}
    for grp, at in found.items():
        n = counts[grp]
        result[grp] = {}
        for p in quantiles:
            below, part = divmod((n - 1) * p, 100)
            above = min(below + 1, n - 1)
            low, high = at[below], at[above]
            result[grp][p] = round(low + (high - low) * part / 100, 3)
    return result
