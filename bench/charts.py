"""How long each of the report's charts takes to draw (target: <= 0.3 s each).

Thirty days of leads from eight sources, 5,000 take times and a full week-by-hour grid,
with Russian words; each chart drawn `--runs` times in this process (the first draw pays
for loading fonts and is left out of the median), printed as a table.

    python -m bench.charts [--runs 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from bot.reports.album import TakeTimes
from bot.reports.charts import arrivals_heatmap, daily_chart, funnel_chart, take_time_chart


def _charts() -> dict[str, Callable[[], bytes]]:
    rng = random.Random(14)
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
    series = {f"source_{n}": [rng.randint(0, 40) for _ in days] for n in range(8)}
    minutes = TakeTimes.of([rng.expovariate(1 / 20) for _ in range(5000)])
    grid = [[rng.randint(0, 60) for _ in range(24)] for _ in range(7)]
    steps = [("Получено", 5000), ("Взято", 4600), ("Дозвонились", 3900), ("Сделка", 900)]
    weekdays = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
    return {
        "funnel": lambda: funnel_chart("Воронка", steps, "—"),
        "leads a day by channel": lambda: daily_chart("Лиды по дням", days, series, "др.", "—"),
        "time to take": lambda: take_time_chart("Время до взятия", minutes, "мин", "медиана", "—"),
        "hour × weekday": lambda: arrivals_heatmap("Когда приходят", grid, weekdays, "—"),
    }


def main(runs: int) -> None:
    print("| chart | median | slowest | PNG size | target |")
    print("|---|---|---|---|---|")
    for name, draw in _charts().items():
        draw()  # fonts and caches
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            png = draw()
            times.append(time.perf_counter() - started)
        print(
            f"| {name} | {statistics.median(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms"
            f" | {len(png) // 1024} KiB | <= 300 ms |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
