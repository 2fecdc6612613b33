"""How an import of 50,000 rows goes: the preview (read through, nothing written), the import
itself (batches of 500, each committed), and the same file again (nothing new). For three
files of N rows each: Bitrix24's lead list as CSV in cp1251, leadbot's own export as CSV (the
export bench's synthetic leads), and the same as XLSX. Each on a fresh database (SQLite; and
PostgreSQL with --postgres), the team and one client in ten already known.

Printed: seconds and rows a second, the peak memory Python allocated (tracemalloc, in a second
run of the same step, since tracing slows it), and the longest the event loop went without
running anything else during the import (a task that wakes every 10 ms measures how late it
wakes): what a press waits at worst while an import runs.

    python -m bench.imports [--rows 50000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.export import synthetic_rows
from bot.config import AppConfig, load_app_config
from bot.intake.imports.apply import apply_import
from bot.intake.imports.preview import preview_import
from bot.intake.imports.store import Counts, ImportRun, Policy
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.reports.export import leads_csv, leads_xlsx
from bot.team.staff import add_staff
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role
from tests.import_files import BITRIX_RU, table_rows

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAFF = ("Анна", "Борис", "Вера", "Глеб", "Дина", "Егор", "Жанна", "Зоя")
BITRIX_STATUSES = ("Не обработан", "В работе", "Качественный лид", "Некачественный лид")


def bitrix_csv(count: int) -> bytes:
    rng = random.Random(15)
    rows = []
    for n in range(count):
        day = 1 + n * 27 // count
        rows.append(
            {
                "ID": str(n + 1),
                "Название лида": "Заявка с сайта",
                "Имя": rng.choice(("Иван", "Анна", "Olga", "Сергей")),
                "Фамилия": rng.choice(("Петров", "Смирнова", "", "Кузнецова-Орлова")),
                "Статус": rng.choice(BITRIX_STATUSES),
                "Источник": rng.choice(("Веб-сайт", "Звонок", "Реклама")),
                "Ответственный": rng.choice(STAFF) + " Иванов",
                "Дата создания": f"{day:02d}.02.2026 {n % 24:02d}:{n % 60:02d}:00",
                "Мобильный телефон": f"8 (900) {n // 10000:03d}-{n % 10000:04d}",
                "Рабочий e-mail": f"client{n}@example.com" if n % 3 == 0 else "",
                "Комментарий": "Перезвонить после обеда" if n % 5 == 0 else "",
                "Сумма": f"{rng.randint(1, 900)} 000,00" if n % 4 == 0 else "",
            }
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(BITRIX_RU)
    writer.writerows(table_rows(BITRIX_RU, rows))
    return buffer.getvalue().encode("cp1251")


def _forget(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)


async def fresh_database(url: str) -> tuple[AsyncEngine, SessionFactory]:
    _forget(url)
    engine = create_engine(url)
    if not url.startswith("sqlite"):
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        for n, name in enumerate(STAFF):
            await add_staff(session, 9000 + n, Role.MANAGER, name, NOW)
    return engine, sessions


async def known_clients(sessions: SessionFactory, count: int) -> None:
    """One client in ten of the file wrote to us before (by the same phone)."""
    inputs = [
        LeadInput(source="web_form", phone=f"+7900{n // 10000:03d}{n % 10000:04d}")
        for n in range(0, count, 10)
    ]
    async with sessions() as session:
        for start in range(0, len(inputs), 1000):
            await intake_leads(session, inputs[start : start + 1000], NOW, commit=False)
        await session.commit()


async def longest_stall(work: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    """Run `work`; also the longest the loop was late to wake a 10 ms sleeper meanwhile."""
    worst = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)

    watcher = asyncio.create_task(watch())
    try:
        result = await work()
    finally:
        done.set()
        await watcher
    return result, worst


async def traced(work: Callable[[], Awaitable[Any]]) -> float:
    """Peak MB Python allocated while `work` ran."""
    tracemalloc.start()
    try:
        await work()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


async def bench_file(
    name: str, path: Path, url: str, config: AppConfig, rows: int
) -> list[tuple[str, ...]]:
    lines = []
    folder = path.parent

    async def preview(sessions: SessionFactory) -> Any:
        async with sessions() as session:
            return await preview_import(session, path, path.name, config, NOW)

    async def apply(sessions: SessionFactory) -> Counts:
        run = ImportRun(path.name, Policy.ATTACH, None, NOW, config)
        return await apply_import(sessions, path, run, folder / "rejected.csv", "ru")

    for attempt in ("timed", "traced"):
        engine, sessions = await fresh_database(url)
        await known_clients(sessions, rows)
        started = time.perf_counter()
        if attempt == "timed":
            shown = await preview(sessions)
            seen = time.perf_counter() - started
            started = time.perf_counter()
            counts, stall = await longest_stall(lambda sessions=sessions: apply(sessions))
            applied = time.perf_counter() - started
            started = time.perf_counter()
            again = await apply(sessions)
            repeated = time.perf_counter() - started
            assert again.created == 0 and again.already == counts.created + counts.attached
            timings = (seen, applied, repeated, stall, shown, counts)
        else:
            preview_mb = await traced(lambda sessions=sessions: preview(sessions))
            apply_mb = await traced(lambda sessions=sessions: apply(sessions))
        await engine.dispose()
    seen, applied, repeated, stall, shown, counts = timings
    backend = url.split(":", 1)[0].split("+")[0]
    lines.append(
        (
            f"{name}, {backend}",
            f"{shown.rows:,}",
            f"{seen:.1f} s",
            f"{applied:.1f} s",
            f"{shown.rows / applied:,.0f}",
            f"{repeated:.1f} s",
            f"{preview_mb:.0f} / {apply_mb:.0f} MB",
            f"{stall * 1000:.0f} ms",
            f"{counts.created:,} + {counts.attached:,}",
        )
    )
    return lines


async def main(rows: int, postgres: str | None) -> None:
    config = load_app_config()
    with tempfile.TemporaryDirectory(prefix="leadbot-import-bench-") as folder:
        base = Path(folder)
        leads = synthetic_rows(rows)
        files = {
            "Bitrix24 CSV, cp1251": base / "bitrix.csv",
            "leadbot CSV": base / "leadbot.csv",
            "leadbot XLSX": base / "leadbot.xlsx",
        }
        files["Bitrix24 CSV, cp1251"].write_bytes(bitrix_csv(rows))
        files["leadbot CSV"].write_bytes(leads_csv(leads, config, "ru"))
        files["leadbot XLSX"].write_bytes(leads_xlsx(leads, config, "en"))
        urls = [f"sqlite+aiosqlite:///{base / 'bench.db'}"]
        if postgres:
            urls.append(postgres)
        table = []
        for url in urls:
            for name, path in files.items():
                table += await bench_file(name, path, url, config, rows)
    headers = (
        "file",
        "rows",
        "preview",
        "import",
        "rows/s",
        "again",
        "peak memory (preview / import)",
        "longest stall",
        "created + attached",
    )
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--postgres", help="also on this PostgreSQL database (it is emptied)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.postgres))
