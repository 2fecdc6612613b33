"""The time-limit sweep on a big SQLite database: 1,000,000 leads, 10,000 of them open, 1% of
those (and of 10,000 open tasks) due. Prints the time of one sweep (median of several, each
with fresh due rows), of 100 sweeps with nothing due, and the query plans.

    python -m bench.sweep            # builds /tmp/leadbot-sweep-bench-<schema>.db once, then
                                     # reuses it while the models are unchanged (--rebuild)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import insert, update

from bot.config import AppConfig, load_app_config
from bot.sla.sweep import LEAD_OPEN, TASK_OPEN, due_ids, fire_due_alerts
from storage.db import create_engine, session_factory
from storage.models import Base, Lead, LeadEvent, OutboxMessage, Staff, Task


def _schema_key() -> str:
    """Names the cached database after the models' schema: a new column builds a new one."""
    schema = [
        (table.name, sorted(column.name for column in table.columns))
        for table in Base.metadata.sorted_tables
    ]
    return hashlib.sha256(repr(schema).encode()).hexdigest()[:10]


PATH = Path(f"/tmp/leadbot-sweep-bench-{_schema_key()}.db")
LEADS, OPEN, DUE_SHARE = 1_000_000, 10_000, 0.01
ROUNDS = 7
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday, working hours in Moscow


def build(path: Path) -> None:
    """Every row in one transaction, inserted in large executemany batches."""
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    later = NOW + timedelta(days=30)
    with engine.begin() as connection:
        connection.execute(
            insert(Staff.__table__),
            [
                {
                    "telegram_id": 1,
                    "name": "Sveta",
                    "role": "supervisor",
                    "is_active": True,
                    "on_duty": True,
                    "skills": [],
                    "created_at": NOW,
                },
                {
                    "telegram_id": 2,
                    "name": "Anna",
                    "role": "manager",
                    "is_active": True,
                    "on_duty": True,
                    "skills": [],
                    "created_at": NOW,
                },
            ],
        )
        for start in range(0, LEADS, 50_000):
            rows = []
            for n in range(start, start + 50_000):
                is_open = n >= LEADS - OPEN
                rows.append(
                    {
                        "source": "web_form",
                        "status": "in_work" if is_open else "converted",
                        "owner_id": 2,
                        "utm": {},
                        "extra": {},
                        "is_repeat": False,
                        "version": 1,
                        "alert_at": later if is_open else None,
                        "alert_level": 0,
                        "alert_since": NOW if is_open else None,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
            connection.execute(insert(Lead.__table__), rows)
        tasks = [
            {
                "lead_id": LEADS - OPEN + n + 1,
                "kind": "callback",
                "assignee_id": 2,
                "due_at": later,
                "created_at": NOW,
                "count": 1,
                "data": {},
                "alert_at": later,
                "alert_level": 0,
            }
            for n in range(OPEN)
        ]
        connection.execute(insert(Task.__table__), tasks)
    engine.dispose()


async def make_due(sessions: sa.Any, count: int, round_no: int) -> None:
    """Fresh due rows: `count` open leads and `count` tasks whose limits have just run out."""
    first = LEADS - OPEN + 1 + round_no * count
    async with sessions() as session:
        await session.execute(
            update(Lead)
            .where(Lead.id.between(first, first + count - 1))
            .values(
                alert_at=NOW - timedelta(minutes=1),
                alert_level=0,
                alert_since=NOW - timedelta(hours=3),
            )
        )
        await session.execute(
            update(Task)
            .where(Task.lead_id.between(first, first + count - 1))
            .values(
                alert_at=NOW - timedelta(minutes=1),
                alert_level=0,
                due_at=NOW - timedelta(minutes=1),
            )
        )
        await session.commit()


async def measure(config: AppConfig) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{PATH}")
    sessions = session_factory(engine)
    due = int(OPEN * DUE_SHARE)
    timings, fired = [], 0
    for round_no in range(ROUNDS):
        await make_due(sessions, due, round_no)
        async with sessions() as session:
            started = time.perf_counter()
            fired = len(await fire_due_alerts(session, NOW, config, -100, limit=1000))
            timings.append(time.perf_counter() - started)
    async with sessions() as session:
        started = time.perf_counter()
        for _ in range(100):
            assert await fire_due_alerts(session, NOW, config, -100) == []
        idle = time.perf_counter() - started
    rows = [
        ("leads / open / due leads + due tasks", f"{LEADS:,} / {OPEN:,} / {due} + {due}"),
        (
            f"one sweep, median of {ROUNDS} (alerts fired: {fired})",
            f"{statistics.median(timings) * 1000:.1f} ms",
        ),
        ("one sweep, slowest", f"{max(timings) * 1000:.1f} ms"),
        ("100 sweeps with nothing due", f"{idle * 1000:.1f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)} | value")
    print(f"{'-' * width}-|-{'-' * 16}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    await explain(engine)
    async with sessions() as session:  # leave the file as built for the next run
        await session.execute(sa.delete(LeadEvent))
        await session.execute(sa.delete(OutboxMessage))
        later = NOW + timedelta(days=30)
        await session.execute(
            update(Lead).where(Lead.status == "in_work").values(alert_at=later, alert_level=0)
        )
        await session.execute(update(Task).values(alert_at=later, alert_level=0))
        await session.commit()
    await engine.dispose()


async def explain(engine: sa.Any) -> None:
    """The sweep's claim queries, as SQLite plans them: index searches on alert_at."""
    leads = due_ids(Lead.__table__, LEAD_OPEN, NOW, 500)
    tasks = due_ids(Task.__table__, TASK_OPEN, NOW, 500)
    async with engine.connect() as connection:
        for name, query in (("leads due", leads), ("tasks due", tasks)):
            compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = await connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
            print(f"\nEXPLAIN QUERY PLAN ({name}):")
            for row in plan:
                print(f"  {row[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rebuild", action="store_true", help=f"build {PATH} afresh")
    rebuild = parser.parse_args().rebuild
    if rebuild or not PATH.exists():
        for leftover in (PATH, Path(f"{PATH}-wal"), Path(f"{PATH}-shm")):
            leftover.unlink(missing_ok=True)
        started = time.perf_counter()
        build(PATH)
        print(f"built {PATH} in {time.perf_counter() - started:.1f} s")
    asyncio.run(measure(load_app_config()))


if __name__ == "__main__":
    main()
