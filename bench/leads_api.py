"""The read API's pages on a year of 1,000,000 leads (the report bench's data): how long
`lead_page` takes for a page of 100 at the start and in the middle, in either order, and with
each filter; and one lead with its history. The SQLite file is bench.report's (built once,
reused); the change feed's index is added to it if missing.

    python -m bench.leads_api [--leads N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.report import _schema_key, build_postgres, build_sqlite
from bot.config import load_app_config
from bot.leads.api_view import LeadFilter, lead_detail, lead_page
from bot.leads.cursor import Position, Sort
from storage.db import create_engine, session_factory
from storage.models import Lead, LeadStatus, Staff

ROUNDS = 5
PAGE = 100


async def _timed(sessions: Any, read: Any) -> tuple[float, float, int]:
    """(median ms, slowest ms, rows) of ROUNDS reads, each in a session of its own."""
    times, found = [], 0
    for _ in range(ROUNDS):
        async with sessions() as session:
            started = time.perf_counter()
            found = await read(session)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), found


async def measure(url: str) -> list[tuple[str, float, float, int]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        middle_at = await session.scalar(
            sa.select(Lead.updated_at).order_by(Lead.updated_at).offset(500_000).limit(1)
        )
        owner = await session.scalar(
            sa.select(Staff.telegram_id).join(Lead, Lead.owner_id == Staff.id).limit(1)
        )
    middle_id = Position(Sort.ID, 500_000)
    middle = Position(Sort.UPDATED_AT, 0, middle_at)
    cases: list[tuple[str, LeadFilter, Sort, Position | None]] = [
        ("first page, sort=id", LeadFilter(), Sort.ID, None),
        ("page after lead 500,000, sort=id", LeadFilter(), Sort.ID, middle_id),
        ("first page, sort=updated_at", LeadFilter(), Sort.UPDATED_AT, None),
        ("page from the middle, sort=updated_at", LeadFilter(), Sort.UPDATED_AT, middle),
        ("status=converted", LeadFilter(statuses=(LeadStatus.CONVERTED,)), Sort.ID, None),
        ("status=new", LeadFilter(statuses=(LeadStatus.NEW,)), Sort.ID, None),
        ("source=avito", LeadFilter(source="avito"), Sort.ID, None),
        ("owner=<a manager>", LeadFilter(owner_telegram_id=owner), Sort.ID, None),
        ("updated_since=<the middle>, sort=id", LeadFilter(updated_since=middle_at), Sort.ID, None),
        (
            "updated_since=<the middle>, sort=updated_at",
            LeadFilter(updated_since=middle_at),
            Sort.UPDATED_AT,
            None,
        ),
    ]
    results = []
    for name, filters, sort, after in cases:

        async def read(
            session: Any, f: LeadFilter = filters, s: Sort = sort, a: Position | None = after
        ) -> int:
            return len((await lead_page(session, f, s, a, PAGE)).leads)

        results.append((name, *await _timed(sessions, read)))

    async def detail(session: Any) -> int:
        found = await lead_detail(session, 400_000)
        return len(found.events) if found else 0

    results.append(("one lead with its events", *await _timed(sessions, detail)))
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.leads_api", description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="also on this PostgreSQL database")
    parser.add_argument("--db", type=Path, help="another SQLite file of bench.report's shape")
    args = parser.parse_args()
    config = load_app_config()
    path = args.db or Path(f"/tmp/leadbot-report-bench-{_schema_key()}-{args.leads}.db")
    if not path.exists():
        build_sqlite(path, args.leads, config)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:  # a file built before migration 0014 lacks it
        connection.execute(
            sa.text("CREATE INDEX IF NOT EXISTS ix_leads_updated_at_id ON leads (updated_at, id)")
        )
    engine.dispose()
    columns = {"SQLite": asyncio.run(measure(f"sqlite+aiosqlite:///{path}"))}
    if args.postgres:
        asyncio.run(build_postgres(args.postgres, args.leads, config))
        columns["PostgreSQL"] = asyncio.run(measure(args.postgres))
    heads = " | ".join(f"{db}: median / slowest" for db in columns)
    print(f"| a page of {PAGE} (or one lead) | {heads} |")
    print("|---|" + "---|" * len(columns))
    for index, (name, *_rest) in enumerate(columns["SQLite"]):
        cells = [f"{rows[index][1]:.1f} / {rows[index][2]:.1f} ms" for rows in columns.values()]
        print(f"| {name} ({columns['SQLite'][index][3]} rows) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
