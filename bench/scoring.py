"""The lead score's full recount over a big history: 1,000,000 closed leads by default (six
sources, UTM on half, four services, any hour of a year, phone on 70 %, e-mail on 40 %, a
repeat client in five, messages of every length; a sale more likely from some sources,
services and hours). The rows are made by SQLite itself (one INSERT … SELECT over a recursive
counter), then `recount` (bot/scoring/recount.py: a GROUP BY per factor, the held-out AUC, the
counts table rewritten) runs ROUNDS times. Prints a table: median and slowest recount, the
rows written, AUC. The issue's bar: a recount ≤ 10 s.

    .venv/bin/python -m bench.scoring                 # /tmp/leadbot-score-bench-<n>.db
    .venv/bin/python -m bench.scoring --leads 200000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bot.config import load_app_config
from bot.scoring.recount import recount
from storage.db import create_engine, session_factory
from storage.models import Base

NOW = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
ROUNDS = 3

# one statement: SQLite draws every row (random() per column), no Python per row
FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :leads),
drawn AS (
  SELECT i,
    abs(random()) % 6 AS s, abs(random()) % 4 AS v, abs(random()) % 8760 AS h,
    abs(random()) % 100 AS r1, abs(random()) % 100 AS r2, abs(random()) % 100 AS r3,
    abs(random()) % 100 AS r4, abs(random()) % 1000 AS r5
  FROM n
)
INSERT INTO leads (source, status, utm, extra, is_repeat, phone, email, message, service,
                   version, alert_level, created_at, updated_at, closed_at)
SELECT
  CASE s WHEN 0 THEN 'tilda' WHEN 1 THEN 'web_form' WHEN 2 THEN 'call' WHEN 3 THEN 'telegram'
         WHEN 4 THEN 'vk' ELSE 'avito' END,
  CASE WHEN r5 < 150 + 80 * (s = 0) + 60 * (s = 2) - 60 * (s = 4) + 70 * (v = 0)
                 - 50 * (v = 3) + 60 * (h % 24 BETWEEN 14 AND 18) - 50 * (h % 24 < 4)
       THEN 'converted' WHEN r4 < 60 THEN 'refused' ELSE 'junk' END,
  CASE WHEN r1 < 50 THEN '{"utm_source": "' || (CASE r1 % 3 WHEN 0 THEN 'google'
       WHEN 1 THEN 'yandex' ELSE 'vk' END) || '"}' ELSE '{}' END,
  '{}',
  r3 < 20,
  CASE WHEN r2 < 70 THEN '+7900' || (1000000 + i) END,
  CASE WHEN r3 % 10 < 4 THEN 'c' || i || '@example.com' END,
  substr('Хочу узнать цену на кухню, перезвоните вечером, пожалуйста. ', 1, r4 * 4),
  CASE v WHEN 0 THEN 'Кухня' WHEN 1 THEN 'шкаф' WHEN 2 THEN 'Repair' ELSE NULL END,
  1, 0,
  datetime('2026-01-01', '+' || h || ' hours', '+' || (i % 60) || ' minutes'),
  datetime('2026-01-01', '+' || (h + 30) || ' hours'),
  datetime('2026-01-01', '+' || (h + 30) || ' hours')
FROM drawn
"""


def build(path: Path, leads: int) -> float:
    """The history, made once per size; the seconds it took (0 when already there)."""
    if path.exists():
        return 0.0
    started = time.perf_counter()
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute(FILL, {"leads": leads})
        connection.execute("CREATE INDEX ix_bench_closed ON leads (status)")
    return time.perf_counter() - started


async def measure(path: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    config = load_app_config()
    full: list[float] = []
    done = None
    try:
        for _ in range(ROUNDS):
            async with sessions() as session:
                started = time.perf_counter()
                done = await recount(session, NOW, config)
                full.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    assert done is not None
    return {
        "closed": done.closed,
        "counted": done.counted,
        "held_out": done.held_out,
        "values": done.values,
        "auc": done.auc,
        "recount_median": statistics.median(full),
        "recount_max": max(full),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    args = parser.parse_args()
    path = Path(f"/tmp/leadbot-score-bench-{args.leads}.db")
    built = build(path, args.leads)
    result = asyncio.run(measure(path))
    print(
        f"history: {args.leads:,} closed leads in {path}"
        + (f" (built in {built:.1f} s)" if built else "")
    )
    print()
    header = "| closed leads | counted | held out | (factor, value) rows | recount: median | slowest | AUC |"  # noqa: E501
    print(header)
    print("|---:|---:|---:|---:|---:|---:|---:|")
    auc = result["auc"]
    shown = f"{auc:.3f}" if isinstance(auc, float) else "-"
    print(
        f"| {result['closed']:,} | {result['counted']:,} | {result['held_out']:,} "
        f"| {result['values']} | {result['recount_median']:.2f} s | {result['recount_max']:.2f} s "
        f"| {shown} |"
    )


if __name__ == "__main__":
    main()
