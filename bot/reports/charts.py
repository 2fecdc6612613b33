"""The report's charts as PNG images a phone shows legibly: at least 1100 px wide, large type.

Drawn with matplotlib's object API on the Agg canvas (no pyplot: its global state is not
safe in a server that draws for several readers at once) in DejaVu Sans, which matplotlib
ships and which has Cyrillic. The words (titles, axis names, step names) come from the
caller, rendered from templates in the reader's language; here is only the drawing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bot.reports.album import TakeTimes

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 6.6, 110  # 1210 × 726 px
TYPE = 16  # points: readable on a phone, where the image is shown ~400 px wide
FONT = "DejaVu Sans"
# distinguishable in colour and in grey (a phone in night mode)
PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#d53f8c", "#805ad5", "#718096", "#d69e2e")
OTHERS_AFTER = len(PALETTE) - 1  # series beyond this many are drawn as one "other" band


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=TYPE + 4, fontfamily=FONT, loc="left", pad=14)
    axes.tick_params(labelsize=TYPE)
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    # zlib's fastest level: flat colours compress well anyway, and the default level 6 took a
    # third of a chart's time for a few KiB
    figure.savefig(out, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return out.getvalue()


def _nothing(axes: Axes, words: str) -> None:
    """An empty period draws its words, not empty axes that look broken."""
    axes.set_axis_off()
    axes.text(0.5, 0.5, words, ha="center", va="center", fontsize=TYPE + 2, fontfamily=FONT)


def funnel_chart(title: str, steps: Sequence[tuple[str, int]], nothing: str) -> bytes:
    """Received → taken → reached → qualified → converted: a bar a step, widest first, with
    the count and the share of the first step kept."""
    figure, axes = _figure(title)
    first = steps[0][1] if steps else 0
    if not first:
        _nothing(axes, nothing)
        return _png(figure)
    names = [name for name, _ in steps][::-1]
    counts = [count for _, count in steps][::-1]
    bars = axes.barh(names, counts, color=PALETTE[0])
    for bar, count in zip(bars, counts, strict=True):
        share = f"{count}  ·  {count / first:.0%}"
        axes.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f"  {share}",
            va="center",
            fontsize=TYPE,
            fontfamily=FONT,
        )
    axes.set_xlim(0, first * 1.35)  # room for the labels right of the widest bar
    axes.xaxis.set_visible(False)
    axes.spines["bottom"].set_visible(False)
    return _png(figure)


def daily_chart(
    title: str, days: Sequence[date], series: dict[str, Sequence[int]], other: str, nothing: str
) -> bytes:
    """Leads a day, stacked by channel: the largest channels keep their colour, the rest
    are one band (a legend of twenty sources is unreadable on a phone)."""
    figure, axes = _figure(title)
    if not days or not any(sum(counts) for counts in series.values()):
        _nothing(axes, nothing)
        return _png(figure)
    ranked = sorted(series.items(), key=lambda item: -sum(item[1]))
    if len(ranked) > OTHERS_AFTER + 1:
        rest = [sum(values) for values in zip(*(c for _, c in ranked[OTHERS_AFTER:]), strict=True)]
        ranked = [*ranked[:OTHERS_AFTER], (other, rest)]
    bottom = [0] * len(days)
    positions = list(range(len(days)))
    # each channel's band is one stepped shape over the days (a bar a day a channel was 210
    # patches for a month, most of the drawing time); white edges mark the days
    edges = [position - 0.5 for position in positions] + [len(days) - 0.5]
    for (name, counts), colour in zip(ranked, PALETTE, strict=False):
        top = [b + c for b, c in zip(bottom, counts, strict=True)]
        axes.stairs(top, edges, baseline=bottom, fill=True, label=name, color=colour)
        bottom = top
    axes.vlines(edges[1:-1], 0, max(bottom), colors="white", linewidth=1.5)
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(0, max(bottom) * 1.4)  # room for the legend above the tallest day
    step = max(1, len(days) // 10)  # at most ~10 dates under the bars
    axes.set_xticks(positions[::step], [d.strftime("%d.%m") for d in days][::step])
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=TYPE - 2, frameon=False, loc="upper left", ncols=2)
    return _png(figure)


def take_time_chart(
    title: str, times: TakeTimes | None, axis: str, median_words: str, nothing: str
) -> bytes:
    """How long leads waited to be taken, in minutes: the histogram's bars (binned by
    `TakeTimes.of`) with the median marked."""
    figure, axes = _figure(title)
    if times is None or not sum(times.counts):
        _nothing(axes, nothing)
        return _png(figure)
    ceiling, bars = times.ceiling, len(times.counts)
    # each bar drawn from its middle with its count as the weight: the bars `hist` would draw
    middles = [(n + 0.5) * ceiling / bars for n in range(bars)]
    axes.hist(
        middles,
        bins=bars,
        range=(0, ceiling),
        weights=list(times.counts),
        color=PALETTE[0],
        edgecolor="white",
    )
    middle = min(times.median, ceiling)
    axes.axvline(middle, color=PALETTE[1], linewidth=3)
    axes.text(
        middle,
        axes.get_ylim()[1] * 0.95,
        f" {median_words}",
        color=PALETTE[1],
        fontsize=TYPE,
        fontfamily=FONT,
        va="top",
    )
    axes.set_xlabel(axis, fontsize=TYPE, fontfamily=FONT)
    axes.yaxis.get_major_locator().set_params(integer=True)
    if times.tail:  # the last bar holds the tail: its tick says so
        ticks = [t for t in axes.get_xticks() if 0 <= t < ceiling * 0.9]
        axes.set_xticks([*ticks, ceiling], [f"{t:g}" for t in ticks] + [f"{ceiling:g}+"])
    return _png(figure)


def arrivals_heatmap(
    title: str, grid: Sequence[Sequence[int]], weekdays: Sequence[str], nothing: str
) -> bytes:
    """Leads by weekday (rows, Monday first) and local hour (columns): when they arrive."""
    figure, axes = _figure(title)
    if len(grid) != 7 or any(len(row) != 24 for row in grid):
        raise ValueError("the grid is 7 weekdays × 24 hours")
    if not any(any(row) for row in grid):
        _nothing(axes, nothing)
        return _png(figure)
    image = axes.imshow(grid, aspect="auto", cmap="Blues", interpolation="nearest")
    axes.set_yticks(range(7), list(weekdays))
    axes.set_xticks(range(0, 24, 3), [f"{hour:02d}" for hour in range(0, 24, 3)])
    colorbar = figure.colorbar(image, ax=axes, pad=0.01)
    colorbar.ax.tick_params(labelsize=TYPE - 2)
    for spine in axes.spines.values():
        spine.set_visible(False)
    return _png(figure)
