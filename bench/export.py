"""How long the report's export files take: `leads_csv` and `leads_xlsx` over a 30-day period's
leads (80,000 by default, about what 30 days of the 1M-lead report bench hold), `report_xlsx`
over a full summary; and, when the report bench's database is there (`python -m bench.report`
builds it), `period_leads` reading that period's leads from it.

Rows are synthetic but shaped like real ones: names, phones, e-mails, services, UTM tags on a
third, owners, reasons with words, amounts on the deals, take and contact times. Median and
slowest of `--runs`, the peak memory one run allocates (tracemalloc, which also slows it), the
file's size; printed as a table.

    python -m bench.export [--rows 80000] [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.report import PERIOD, _schema_key
from bot.config import AppConfig, load_app_config
from bot.reports.export import (
    LeadExportRow,
    leads_csv,
    leads_xlsx,
    period_leads,
    report_xlsx,
)
from bot.reports.summary import (
    Arrivals,
    Funnel,
    ManagerRow,
    MissedCalls,
    Repeat,
    ReportSummary,
    SourceRow,
)
from storage.db import create_engine, session_factory
from storage.models import LeadStatus

SOURCES = ("web_form", "telegram", "call", "tilda", "vk", "api")
NAMES = ("Иван Петров", "Анна Смирнова", "Olga Ivanova", "Сергей", "Мария Кузнецова-Орлова")
SERVICES = ("тур в Турцию", "экскурсия", "group tour", None, "визовая поддержка")
OWNERS = ("Анна", "Борис", "Вера", "Глеб", "Дина", "Егор", "Жанна", "Зоя")
STATUSES = list(LeadStatus)
CLOSED = (LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK)
REASONS = {LeadStatus.JUNK: ("spam", "no_service", "duplicate"), LeadStatus.REFUSED: ("price",)}


def synthetic_rows(count: int) -> list[LeadExportRow]:
    rng = random.Random(14)
    start = datetime(2025, 12, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        created = start + timedelta(seconds=30 * 86400 * n / count)
        status = rng.choice(STATUSES)
        taken = status is not LeadStatus.NEW
        taken_at = created + timedelta(seconds=rng.expovariate(1 / 600)) if taken else None
        reasons = REASONS.get(status)
        reason = rng.choice(reasons) if reasons else None
        utm = {}
        if n % 3 == 0:
            utm = {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": f"winter_{n % 7}"}
        rows.append(
            LeadExportRow(
                id=n + 1,
                created_at=created,
                source=rng.choice(SOURCES),
                status=status,
                name=rng.choice(NAMES),
                phone=f"+7900{n:07d}",
                email=f"client{n}@example.com" if n % 2 else None,
                service=rng.choice(SERVICES),
                owner=rng.choice(OWNERS) if taken else None,
                close_reason=reason,
                close_comment="бассейн с подогревом" if reason == "no_service" else None,
                amount=Decimal(rng.randint(1000, 9000)) if status is LeadStatus.CONVERTED else None,
                taken_at=taken_at,
                contacted_at=taken_at + timedelta(minutes=5) if taken_at else None,
                closed_at=created + timedelta(days=1) if status in CLOSED else None,
                utm=utm,
            )
        )
    return rows


def full_summary() -> ReportSummary:
    managers = [
        ManagerRow(1000 + n, name, 900, 200, 100, 150, Decimal("1234567.50"), 300.0, 2400.0)
        for n, name in enumerate(OWNERS)
    ]
    sources = [
        SourceRow(source, 13000, 12000, 2500, 1500, 2000, Decimal("98765432.10"))
        for source in SOURCES
    ]
    return ReportSummary(
        first=PERIOD[0],
        last=PERIOD[1],
        timezone="Europe/Moscow",
        funnel=Funnel(80000, 76000, 70000, 30000, 16000, 12000, 16000, 36000, Decimal("9.99")),
        by_source=sources,
        by_manager=managers,
        repeat=Repeat(70000, 10000),
        junk_reasons={"spam": 9000, "no_service": 5000, "duplicate": 2000},
        refusal_reasons={"price": 12000},
        unmet_demand={f"услуга {n}": 100 - n for n in range(100)},
        missed_calls=MissedCalls(4000, 3500, 3000, 900.0),
        arrivals=Arrivals([3333] * 24, [11428] * 7),
    )


def timed(run: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """Median and slowest of `runs` (s), then one more traced run's peak memory (MB)."""
    timings = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(timings), max(timings), peak, result


async def timed_async(run: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    timings = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = await run()
        timings.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    await run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(timings), max(timings), peak, result


async def read_period(url: str, config: AppConfig, runs: int) -> tuple[float, float, float, Any]:
    engine = create_engine(url)
    sessions = session_factory(engine)

    async def run() -> list[LeadExportRow]:
        async with sessions() as session:
            return await period_leads(session, PERIOD, config)

    try:
        return await timed_async(run, runs)
    finally:
        await engine.dispose()


def main(count: int, runs: int, postgres: str | None) -> None:
    config = load_app_config()
    rows = synthetic_rows(count)
    lines = []
    for name, run in (
        (f"leads_csv, {count:,} rows", lambda: leads_csv(rows, config, "ru")),
        (f"leads_xlsx, {count:,} rows", lambda: leads_xlsx(rows, config, "ru")),
        ("report_xlsx, 10 sheets", lambda: report_xlsx(full_summary(), config, "ru")),
    ):
        median, slowest, peak, data = timed(run, runs)
        size = f"{len(data) / 2**20:.1f} MiB" if len(data) > 2**20 else f"{len(data) // 1024} KiB"
        lines.append((name, median, slowest, peak, size))
    databases = []
    path = Path(f"/tmp/leadbot-report-bench-{_schema_key()}-1000000.db")
    if path.exists():
        databases.append(("SQLite", f"sqlite+aiosqlite:///{path}"))
    else:
        print(f"({path} is not there: `python -m bench.report` builds it; period_leads skipped)")
    if postgres:
        databases.append(("PostgreSQL", postgres))
    for backend, url in databases:
        median, slowest, peak, leads = asyncio.run(read_period(url, config, runs))
        name = f"period_leads, 30 days of 1M, {backend}"
        lines.append((name, median, slowest, peak, f"{len(leads):,} leads"))
    width = max(len(line[0]) for line in lines)
    print(f"| {'figure'.ljust(width)} | median of {runs} | slowest | peak memory | size |")
    print(f"|{'-' * (width + 2)}|---|---|---|---|")
    for name, median, slowest, peak, size in lines:
        print(
            f"| {name.ljust(width)} | {median:.2f} s | {slowest:.2f} s | {peak:.0f} MB | {size} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="also read the period from PostgreSQL")
    args = parser.parse_args()
    main(args.rows, args.runs, args.postgres)
