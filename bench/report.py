"""The report's queries on a big database: `report_summary` and `chart_data` for a 30-day period
of a year of leads (1,000,000 by default: sources, managers, outcomes, takes, contacts, junk
reasons with words, missed calls, a client in three writing again). Prints median of 5 and
slowest for each, the peak memory a report allocates (tracemalloc), on SQLite and, with
--postgres URL, on PostgreSQL; and SQLite's plans.

    python -m bench.report                     # builds /tmp/leadbot-report-bench-<schema>-<n>.db
    python -m bench.report --postgres postgresql+asyncpg://postgres@127.0.0.1:54329/leadbot_bench
    python -m bench.report --leads 200000      # a smaller database, built faster
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import random
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert

from bot.config import AppConfig, load_app_config
from bot.reports.chart_data import chart_data
from bot.reports.summary import period_bounds, report_summary, summary_json
from bot.sla.working_hours import working_time_between
from storage.db import create_engine, session_factory
from storage.models import Base, Call, Contact, Lead, LeadEvent, Staff

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PERIOD = (date(2025, 12, 1), date(2025, 12, 30))  # 30 local days, a year of leads before NOW
ROUNDS = 5
BATCH = 50_000
SOURCES = ("web_form", "telegram", "phone", "avito", "instagram", "referral")
MANAGERS = 8
JUNK = ("spam", "duplicate", "no_service", "wrong_number")
NO_SERVICE_WORDS = ("бассейн", "Бассейн ", "сауна", "массаж", "SPA", "аренда зала")
REFUSALS = ("expensive", "changed_mind", "competitor")


def _schema_key() -> str:
    schema = [
        (table.name, sorted(column.name for column in table.columns))
        for table in Base.metadata.sorted_tables
    ]
    return hashlib.sha256(repr(schema).encode()).hexdigest()[:10]


def rows(leads: int, config: AppConfig) -> Iterator[tuple[sa.Table, list[dict[str, Any]]]]:
    """Every row, in batches: staff, then contacts, leads with their events, then calls. A
    lead in three comes from a person who wrote before (a repeat client)."""
    rng = random.Random(14)
    contacts = 0
    staff = [
        {
            "telegram_id": 100 + n,
            "name": f"Manager {n}",
            "role": "manager" if n else "supervisor",
            "is_active": True,
            "on_duty": True,
            "skills": [],
            "created_at": NOW - timedelta(days=400),
        }
        for n in range(MANAGERS + 1)
    ]
    yield Staff.__table__, staff
    year = 365 * 86400
    start = NOW - timedelta(days=365)
    event_id = 0
    for first in range(0, leads, BATCH):
        contact_rows, lead_rows, event_rows, call_rows = [], [], [], []
        for n in range(first, min(first + BATCH, leads)):
            lead_id = n + 1
            created = start + timedelta(seconds=year * n / leads + rng.random() * 30)
            repeat = bool(contacts) and rng.random() < 1 / 3
            if repeat:
                contact_id = rng.randint(max(1, contacts - 100_000), contacts)
            else:
                contacts += 1
                contact_id = contacts
                contact_rows.append(
                    {"id": contact_id, "name": f"Client {contact_id}", "created_at": created}
                )
            roll = rng.random()
            taken = roll > 0.05
            owner = rng.randint(2, MANAGERS + 1) if taken else None
            taken_at = created + timedelta(seconds=rng.expovariate(1 / 600)) if taken else None
            contacted = taken_at + timedelta(minutes=rng.random() * 60) if taken else None
            status, reason, comment, amount, closed = "new", None, None, None, None
            if taken:
                status = "in_work"
                if roll > 0.8:
                    status, amount = "converted", Decimal(rng.randint(1000, 90000))
                elif roll > 0.6:
                    status, reason = "junk", rng.choice(JUNK)
                    if reason == "no_service" and rng.random() < 0.8:
                        comment = rng.choice(NO_SERVICE_WORDS)
                elif roll > 0.45:
                    status, reason = "refused", rng.choice(REFUSALS)
                if status not in ("in_work", "new"):
                    closed = contacted + timedelta(hours=rng.random() * 48)
            lead_rows.append(
                {
                    "id": lead_id,
                    "contact_id": contact_id,
                    "source": SOURCES[min(int(rng.expovariate(0.7)), len(SOURCES) - 1)],
                    "status": status,
                    "owner_id": owner,
                    "amount": amount,
                    "close_reason": reason,
                    "close_comment": comment,
                    "utm": {},
                    "extra": {},
                    "is_repeat": repeat,
                    "version": 1,
                    "alert_level": 0,
                    "contacted_at": contacted,
                    "created_at": created,
                    "updated_at": closed or taken_at or created,
                    "taken_at": taken_at,
                    "closed_at": closed,
                    # the milestones bot/leads/actions.py keeps
                    "first_owner_id": owner,
                    "first_taken_at": taken_at,
                    "first_take_work_s": working_time_between(
                        created, taken_at, config.working_hours, config.zone
                    ).total_seconds()
                    if taken_at
                    else None,
                    "closed_by_id": owner if closed else None,
                    "qualified_at": contacted if status == "converted" else None,
                }
            )
            events = [("created", None, created, {})]
            if taken:
                events.append(("taken", owner, taken_at, {}))
                if status == "converted":
                    events.append(("qualified", owner, contacted, {}))
                    events.append(("convert", owner, closed, {"amount": str(amount)}))
                elif status in ("junk", "refused"):
                    kind = "junk" if status == "junk" else "refuse"
                    events.append((kind, owner, closed, {"reason": reason}))
            for kind, actor, at, data in events:
                event_id += 1
                event_rows.append(
                    {
                        "id": event_id,
                        "lead_id": lead_id,
                        "kind": kind,
                        "actor_id": actor,
                        "data": data,
                        "created_at": at,
                    }
                )
            if n % 20 == 0:  # a missed call for one lead in 20, called back mostly
                call_rows.append(
                    {
                        "call_id": f"c{n}",
                        "provider": "api",
                        "direction": "in",
                        "status": "missed",
                        "from_phone": "+70000000000",
                        "started_at": created,
                        "lead_id": lead_id,
                        "raw": {},
                        "created_at": created,
                    }
                )
                if taken:
                    event_id += 1
                    back = created + timedelta(minutes=rng.random() * 90)
                    event_rows.append(
                        {
                            "id": event_id,
                            "lead_id": lead_id,
                            "kind": "missed_call_done",
                            "actor_id": owner,
                            "data": {},
                            "created_at": back,
                        }
                    )
        yield Contact.__table__, contact_rows
        yield Lead.__table__, lead_rows
        yield LeadEvent.__table__, event_rows
        yield Call.__table__, call_rows


def build_sqlite(path: Path, leads: int, config: AppConfig) -> None:
    """Every row in one transaction, inserted in large executemany batches (as bench.sweep)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for table, batch in rows(leads, config):
            if batch:
                connection.execute(insert(table), batch)
    engine.dispose()


async def build_postgres(url: str, leads: int, config: AppConfig) -> bool:
    """Builds the tables afresh unless they already hold `leads` leads; True if it built."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        try:
            count = await connection.scalar(sa.select(sa.func.count()).select_from(Lead))
        except sa.exc.ProgrammingError:
            count = None
    if count == leads:
        await engine.dispose()
        return False
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
        for table, batch in rows(leads, config):
            if batch:
                await connection.execute(insert(table), batch)
        for table in ("leads", "lead_events", "calls", "staff", "contacts"):
            await connection.execute(sa.text(f"ANALYZE {table}"))
    await engine.dispose()
    return True


async def timed(sessions: Any, run: Any) -> tuple[float, float, float]:
    """Median and slowest of ROUNDS runs (seconds), then the peak traced memory of one (MB)."""
    timings = []
    for _ in range(ROUNDS):
        async with sessions() as session:
            started = time.perf_counter()
            await run(session)
            timings.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    async with sessions() as session:
        await run(session)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(timings), max(timings), peak / 2**20


async def measure(url: str, config: AppConfig) -> dict[str, str]:
    engine = create_engine(url)
    sessions = session_factory(engine)

    async def api(session: Any) -> None:  # what GET /api/v1/reports/summary does
        summary_json(await report_summary(session, PERIOD, config, now=NOW))

    async def chat(session: Any) -> None:  # the numbers /report sends (before drawing)
        await report_summary(session, PERIOD, config, now=NOW)
        await chart_data(session, PERIOD, config)

    summary = await timed(sessions, api)
    charts = await timed(sessions, lambda s: chart_data(s, PERIOD, config))
    both = await timed(sessions, chat)
    async with sessions() as session:
        received = (await report_summary(session, PERIOD, config)).funnel.received
    await engine.dispose()
    return {
        "leads in the period": f"{received:,}",
        "report_summary + JSON, median of 5": f"{summary[0]:.2f} s",
        "report_summary + JSON, slowest": f"{summary[1]:.2f} s",
        "report_summary, peak memory": f"{summary[2]:.1f} MB",
        "chart_data, median of 5": f"{charts[0]:.2f} s",
        "chart_data, slowest": f"{charts[1]:.2f} s",
        "chart_data, peak memory": f"{charts[2]:.1f} MB",
        "/report's numbers (both), median": f"{both[0]:.2f} s",
    }


TARGETS = {
    "report_summary + JSON, median of 5": "<= 1 s",
    "report_summary + JSON, slowest": "<= 1 s",
    "report_summary, peak memory": "<= 100 MB",
    "chart_data, median of 5": "<= 1 s",
    "chart_data, slowest": "<= 1 s",
    "chart_data, peak memory": "<= 100 MB",
    "/report's numbers (both), median": "about 1 s",
}


async def explain(url: str, config: AppConfig) -> None:
    """The cohort's and the missed calls' access paths, as SQLite plans them."""
    start, end = period_bounds(PERIOD, config)
    engine = create_engine(url)
    queries = {
        "cohort (leads of the period)": sa.select(sa.func.count())
        .select_from(Lead)
        .where(Lead.created_at >= start, Lead.created_at < end),
        "missed calls of the period": sa.select(sa.func.count())
        .select_from(Call)
        .where(
            sa.func.coalesce(Call.started_at, Call.created_at) >= start,
            sa.func.coalesce(Call.started_at, Call.created_at) < end,
        ),
    }
    async with engine.connect() as connection:
        for name, query in queries.items():
            compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = await connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
            print(f"\nEXPLAIN QUERY PLAN ({name}):")
            for row in plan:
                print(f"  {row[-1]}")
    await engine.dispose()


async def run(args: argparse.Namespace, path: Path) -> None:
    config = load_app_config()
    sqlite_url = f"sqlite+aiosqlite:///{path}"
    columns: dict[str, dict[str, str]] = {"SQLite": await measure(sqlite_url, config)}
    await explain(sqlite_url, config)
    if args.postgres:
        columns["PostgreSQL"] = await measure(args.postgres, config)
    names = list(next(iter(columns.values())))
    width = max(len(name) for name in names)
    heads = [*columns, "target"]
    print()
    print(f"{'figure'.ljust(width)} | " + " | ".join(heads))
    print(f"{'-' * width}-|-" + "-|-".join("-" * len(h) for h in heads))
    for name in names:
        cells = [column[name].ljust(len(head)) for head, column in columns.items()]
        cells.append(TARGETS.get(name, ""))
        print(f"{name.ljust(width)} | " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in a year")
    parser.add_argument("--postgres", metavar="URL", help="also on this PostgreSQL database")
    parser.add_argument("--rebuild", action="store_true", help="build the databases afresh")
    args = parser.parse_args()
    path = Path(f"/tmp/leadbot-report-bench-{_schema_key()}-{args.leads}.db")
    if args.rebuild or not path.exists():
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        started = time.perf_counter()
        build_sqlite(path, args.leads, load_app_config())
        print(f"built {path} in {time.perf_counter() - started:.1f} s")
    if args.postgres:
        if args.rebuild:
            asyncio.run(_drop(args.postgres))
        started = time.perf_counter()
        if asyncio.run(build_postgres(args.postgres, args.leads, load_app_config())):
            print(f"built the PostgreSQL tables in {time.perf_counter() - started:.1f} s")
    asyncio.run(run(args, path))


async def _drop(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    await engine.dispose()


if __name__ == "__main__":
    main()
