"""The report's charts as one album: what they draw (`Album`: numbers only, no words, small
enough to be an outbox row's payload) and the drawing of it in a reader's language
(`draw_album`). `/report` draws it at once; the weekly report and the daily digest queue it
(an outbox `charts` row) and the notifier draws it when it sends it, in the reader's language.

Only the numbers the pictures show are kept: the take times as the histogram's bars, the
sources beyond the largest few as one band, so a year's report is as small as a day's."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.common.render import labels
from bot.reports.chart_data import ChartData
from bot.reports.summary import Funnel

# every chart an album may hold, in the order they are shown; the report draws them all
FUNNEL, DAILY, TAKE_TIME, ARRIVALS = "funnel", "daily", "take_time", "arrivals"
REPORT_CHARTS = (FUNNEL, DAILY, TAKE_TIME, ARRIVALS)
STEPS = ("received", "taken", "contacted", "qualified", "converted")
SOURCES_DRAWN = 6  # the largest sources keep their own colour (charts.OTHERS_AFTER)
OTHER = ""  # the band of the remaining sources, named "other channels" when drawn
TAKE_BARS = 20  # bars of the time-to-take histogram
# one album drawn at a time in the process: matplotlib promises no thread safety beyond
# "separate figures may work", and the notifier may draw several readers' albums at once;
# drawing holds the GIL most of the time, so running them side by side gained little anyway
_DRAWING = threading.Lock()


def channel_name(source: str, locale: str) -> str:
    """A lead source as people call it (labels.toml [channels]), else as it is."""
    return str(labels(locale)["channels"].get(source, source))


@dataclass(frozen=True)
class TakeTimes:
    """Minutes from arrival to take, as the histogram draws them: `counts` are the bars from 0
    to `ceiling` (the 95th percentile: the slowest 5 % would stretch the axis past what
    matters, so they share the last bar, and `tail` says there are such)."""

    ceiling: float
    counts: tuple[int, ...]
    median: float
    tail: bool

    @classmethod
    def of(cls, minutes: Sequence[float]) -> TakeTimes | None:
        if not minutes:
            return None
        ordered = sorted(minutes)
        ceiling = max(1.0, ordered[int(0.95 * (len(ordered) - 1))])
        counts = [0] * TAKE_BARS
        for value in ordered:
            counts[min(int(min(value, ceiling) / ceiling * TAKE_BARS), TAKE_BARS - 1)] += 1
        return cls(ceiling, tuple(counts), ordered[len(ordered) // 2], ordered[-1] > ceiling)


@dataclass(frozen=True)
class Album:
    charts: tuple[str, ...]  # which charts, in order (REPORT_CHARTS or some of them)
    funnel: tuple[int, ...] = ()  # leads at each of STEPS
    days: tuple[date, ...] = ()  # every local day of the period
    by_source: dict[str, list[int]] = field(default_factory=dict)  # leads a day; OTHER: the rest
    take: TakeTimes | None = None
    grid: tuple[tuple[int, ...], ...] = ()  # 7 weekdays (Monday first) × 24 local hours

    @classmethod
    def of(
        cls, data: ChartData, funnel: Funnel | None = None, charts: Sequence[str] = REPORT_CHARTS
    ) -> Album:
        """The numbers `charts` draw (only those: a row carries no more than it shows)."""
        ranked = sorted(data.by_source.items(), key=lambda item: (-sum(item[1]), item[0]))
        series = dict(ranked[:SOURCES_DRAWN])
        if len(ranked) > SOURCES_DRAWN:
            rest = [sum(day) for day in zip(*(c for _, c in ranked[SOURCES_DRAWN:]), strict=True)]
            series[OTHER] = rest
        take = TakeTimes.of([seconds / 60 for seconds in data.take_seconds])
        return cls(
            charts=tuple(charts),
            funnel=tuple(getattr(funnel, step) for step in STEPS) if funnel else (),
            days=tuple(data.days),
            by_source=series,
            take=take if TAKE_TIME in charts else None,
            grid=tuple(tuple(row) for row in data.grid) if ARRIVALS in charts else (),
        )

    @property
    def empty(self) -> bool:
        """No lead in the period: every chart would say only that."""
        return not any(sum(counts) for counts in self.by_source.values())

    def payload(self) -> dict[str, Any]:
        """JSON values (an outbox row's payload); `of_payload` reads them back."""
        take = self.take
        return {
            "charts": list(self.charts),
            "funnel": list(self.funnel),
            "days": [day.isoformat() for day in self.days],
            "by_source": {source: list(counts) for source, counts in self.by_source.items()},
            "take": None
            if take is None
            else {
                "ceiling": take.ceiling,
                "counts": list(take.counts),
                "median": take.median,
                "tail": take.tail,
            },
            "grid": [list(row) for row in self.grid],
        }

    @classmethod
    def of_payload(cls, payload: dict[str, Any]) -> Album:
        take = payload.get("take")
        return cls(
            charts=tuple(payload["charts"]),
            funnel=tuple(payload.get("funnel", ())),
            days=tuple(date.fromisoformat(day) for day in payload.get("days", ())),
            by_source={str(k): list(v) for k, v in payload.get("by_source", {}).items()},
            take=None
            if take is None
            else TakeTimes(
                float(take["ceiling"]),
                tuple(take["counts"]),
                float(take["median"]),
                bool(take["tail"]),
            ),
            grid=tuple(tuple(row) for row in payload.get("grid", ())),
        )


def draw_album(album: Album, locale: str) -> list[tuple[str, bytes]]:
    """(file name, PNG) of each chart, with the words of `locale`. CPU-bound (~0.1-0.2 s a
    chart): callers on the event loop run it in a thread."""
    with _DRAWING:
        return _draw(album, locale)


def _draw(album: Album, locale: str) -> list[tuple[str, bytes]]:
    # matplotlib costs 0.6 s of import and some 20 MB: paid by the first drawing, not by start
    from bot.reports import charts

    words = labels(locale)["report"]["charts"]
    drawn: list[tuple[str, bytes]] = []
    for chart in album.charts:
        if chart == FUNNEL:
            steps = [(words["steps"][step], n) for step, n in zip(STEPS, album.funnel, strict=True)]
            picture = charts.funnel_chart(words["funnel"], steps, words["nothing"])
            drawn.append(("funnel.png", picture))
        elif chart == DAILY:
            series = {
                words["other"] if source == OTHER else channel_name(source, locale): counts
                for source, counts in album.by_source.items()
            }
            picture = charts.daily_chart(
                words["daily"], album.days, series, words["other"], words["nothing"]
            )
            drawn.append(("daily.png", picture))
        elif chart == TAKE_TIME:
            median = round(album.take.median) if album.take else 0
            picture = charts.take_time_chart(
                words["take"],
                album.take,
                words["take_axis"],
                words["median"].format(n=median),
                words["nothing"],
            )
            drawn.append(("take_time.png", picture))
        elif chart == ARRIVALS:
            grid = album.grid or tuple((0,) * 24 for _ in range(7))
            picture = charts.arrivals_heatmap(
                words["arrivals"], grid, words["weekdays"].split(), words["nothing"]
            )
            drawn.append(("arrivals.png", picture))
        else:
            raise ValueError(f"unknown chart {chart!r}")
    return drawn
