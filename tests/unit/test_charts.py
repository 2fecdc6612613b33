"""The report's charts are PNG images a phone shows legibly, in Russian as in English."""

from __future__ import annotations

import struct
import warnings
from datetime import date, timedelta

import pytest

from bot.reports.album import TakeTimes
from bot.reports.charts import arrivals_heatmap, daily_chart, funnel_chart, take_time_chart

WEEKDAYS = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.fixture(autouse=True)
def _missing_glyphs_fail() -> object:
    # matplotlib only warns when a font lacks a letter (Cyrillic shown as boxes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_the_funnel_is_a_wide_png_with_cyrillic_step_names() -> None:
    steps = [("Получено", 120), ("Взято", 100), ("Дозвонились", 80), ("Сделка", 21)]
    width, height = _size(funnel_chart("Воронка · 1–30 ноября", steps, "Нет лидов"))
    assert width >= 1000 and height >= 600


def test_leads_a_day_fold_small_channels_into_one_band() -> None:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
    series = {f"source_{n}": [n % 3 + (d % 2) for d in range(30)] for n in range(12)}
    png = daily_chart("Лиды по дням", days, series, "другие", "Нет лидов")
    assert _size(png)[0] >= 1000


def test_take_times_with_a_long_tail_and_the_heat_map_draw() -> None:
    minutes = [1.0] * 50 + [5.0] * 30 + [600.0]  # one lead taken after ten hours
    times = TakeTimes.of(minutes)
    assert _size(take_time_chart("Время до взятия", times, "минуты", "медиана 1 мин", "—"))[0]
    grid = [[(day * hour) % 5 for hour in range(24)] for day in range(7)]
    assert _size(arrivals_heatmap("Когда приходят лиды", grid, WEEKDAYS, "—"))[0] >= 1000


def test_an_empty_period_draws_its_words_instead_of_empty_axes() -> None:
    """A report of a quiet week still shows four images, each saying there were no leads."""
    for png in (
        funnel_chart("Funnel", [("Received", 0)], "No leads in this period"),
        daily_chart("Leads a day", [], {}, "other", "No leads in this period"),
        take_time_chart("Time to take", None, "minutes", "median", "No leads in this period"),
        arrivals_heatmap("Arrivals", [[0] * 24] * 7, WEEKDAYS, "No leads in this period"),
    ):
        assert _size(png)[0] >= 1000


def test_a_heat_map_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="7 weekdays"):
        arrivals_heatmap("Arrivals", [[0] * 24] * 6, WEEKDAYS, "—")


def test_take_times_are_binned_as_the_histogram_draws_them() -> None:
    """81 leads: 50 taken in 1 min, 30 in 5 min, one after 600 min. The 95th percentile (the
    77th of 81 in order) is 5 min: the axis ends there, 20 bars of 0.25 min; 1 min falls in
    bar 4 ([1, 1.25)), 5 min and the ten-hour tail in the last bar."""
    times = TakeTimes.of([1.0] * 50 + [5.0] * 30 + [600.0])
    assert times is not None
    assert (times.ceiling, times.median, times.tail) == (5.0, 1.0, True)
    assert times.counts[4] == 50 and times.counts[-1] == 31 and sum(times.counts) == 81
    assert TakeTimes.of([]) is None
    # under a minute the axis still spans one minute: half a minute is bar 10 of 20
    quick = TakeTimes.of([0.5])
    assert quick is not None and (quick.ceiling, quick.counts[10], quick.tail) == (1.0, 1, False)
