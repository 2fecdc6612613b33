"""The SQL the report's sections share: seconds between two moments and the UTC quarter hour
of a moment, spelled for SQLite or PostgreSQL, so one query serves both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement

QUARTER = timedelta(minutes=15)  # every time zone's offset is a multiple of it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
