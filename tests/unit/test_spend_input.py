"""What `/spend` reads from what a supervisor types (bot/reports/spend.py read_spend), how a
month's spend is shared out over a period, and how costs are rounded. Today is 17.11.2026."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.reports.spend import (
    SpendEntry,
    SpendProblem,
    SpendUnreadable,
    cost,
    prorated,
    read_spend,
)

TODAY = date(2026, 11, 17)
NOVEMBER = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("typed", "entry"),
    [
        ("vk_ads 15000 11.2026", SpendEntry("vk_ads", Decimal("15000.00"), NOVEMBER)),
        ("vk_ads 15000", SpendEntry("vk_ads", Decimal("15000.00"), NOVEMBER)),
        ("vk_ads 15 000", SpendEntry("vk_ads", Decimal("15000.00"), NOVEMBER)),
        ("vk_ads 15\u00a0000 10.2026", SpendEntry("vk_ads", Decimal("15000"), date(2026, 10, 1))),
        (
            "vk_ads 1 500 000,50 1.2026",
            SpendEntry("vk_ads", Decimal("1500000.50"), date(2026, 1, 1)),
        ),
        ("vk_ads 15000.50", SpendEntry("vk_ads", Decimal("15000.50"), NOVEMBER)),
        ("vk_ads 15000,5", SpendEntry("vk_ads", Decimal("15000.50"), NOVEMBER)),
        ("vk_ads 15000₽ 12/2026", SpendEntry("vk_ads", Decimal("15000"), date(2026, 12, 1))),
        ("VK_Ads 0", SpendEntry("vk_ads", Decimal("0.00"), NOVEMBER)),
        ("landing.spring-2 11.26", SpendEntry("landing.spring-2", Decimal("11.26"), NOVEMBER)),
        ("  tilda   700  ", SpendEntry("tilda", Decimal("700"), NOVEMBER)),
        ("x" * 64 + " 1", SpendEntry("x" * 64, Decimal("1"), NOVEMBER)),
    ],
)
def test_what_is_read(typed: str, entry: SpendEntry) -> None:
    """The amount as typed in either language's habit; no month is this month; a month-shaped
    last word is the month (MM.YYYY), `11.26` is an amount; the source lower-cased."""
    assert read_spend(typed, TODAY) == entry


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", SpendProblem.NO_AMOUNT),
        ("vk_ads", SpendProblem.NO_AMOUNT),
        ("vk_ads 11.2026", SpendProblem.NO_AMOUNT),
        ("vk_ads -15000", SpendProblem.NEGATIVE),
        ("vk_ads - 15 000", SpendProblem.NEGATIVE),
        ("vk_ads fifteen", SpendProblem.NOT_AN_AMOUNT),
        ("vk_ads 15k", SpendProblem.NOT_AN_AMOUNT),
        ("vk_ads 15000 11.26", SpendProblem.NOT_AN_AMOUNT),  # two numbers, not 1 500 011.26
        ("vk_ads 1500 00", SpendProblem.NOT_AN_AMOUNT),
        ("vk_ads ١٥٠٠٠", SpendProblem.NOT_AN_AMOUNT),  # Arabic-Indic digits
        ("vk_ads 15,000", SpendProblem.DECIMALS),  # a comma is the decimal point
        ("vk_ads 15000.505", SpendProblem.DECIMALS),
        ("vk_ads 1000000000000", SpendProblem.TOO_LARGE),
        ("vk_ads " + "9" * 10_000, SpendProblem.TOO_LARGE),
        ("vk_ads 15000 13.2026", SpendProblem.NO_SUCH_MONTH),
        ("vk_ads 15000 0.2026", SpendProblem.NO_SUCH_MONTH),
        ("vk_ads 15000 12.1999", SpendProblem.NO_SUCH_MONTH),
        ("vk_ads 15000 1.2027", SpendProblem.FUTURE_MONTH),  # after next month
        ("vk_ads 15000 11.2062", SpendProblem.FUTURE_MONTH),
        ("<b>vk</b> 15000", SpendProblem.SOURCE_SHAPE),
        ("вк 15000", SpendProblem.SOURCE_SHAPE),
        ("vk😀 15000", SpendProblem.SOURCE_SHAPE),
        ("x" * 65 + " 15000", SpendProblem.SOURCE_TOO_LONG),
        ("<b>" * 3000 + " 15000", SpendProblem.SOURCE_TOO_LONG),
    ],
)
def test_what_is_refused(typed: str, problem: SpendProblem) -> None:
    with pytest.raises(SpendUnreadable) as refused:
        read_spend(typed, TODAY)
    assert refused.value.problem is problem


def test_the_refusal_keeps_what_was_typed() -> None:
    """So the answer can name it: the amount's words, the month, the source as typed."""
    for typed, shown in [
        ("vk_ads 15k 11.2026", "15k"),
        ("vk_ads 1 13.2026", "13.2026"),
        ("<i>x</i> 1", "<i>x</i>"),
    ]:
        with pytest.raises(SpendUnreadable) as refused:
            read_spend(typed, TODAY)
        assert refused.value.text == shown


def test_next_month_may_be_entered_ahead() -> None:
    assert read_spend("vk_ads 1 12.2026", TODAY).month == date(2026, 12, 1)
    assert read_spend("vk_ads 1 1.2027", date(2026, 12, 31)).month == date(2027, 1, 1)


def test_a_months_share_is_its_days_covered() -> None:
    """November has 30 days, February 2028 29: a period's days in the month over them."""
    assert prorated(Decimal(15000), NOVEMBER, date(2026, 11, 20), date(2026, 12, 9)) == 5500
    assert prorated(Decimal(31000), date(2026, 12, 1), date(2026, 11, 20), date(2026, 12, 9)) == (
        9000
    )
    assert prorated(Decimal(2900), date(2028, 2, 1), date(2028, 2, 29), date(2028, 3, 5)) == 100
    assert prorated(Decimal(100), NOVEMBER, date(2026, 12, 1), date(2026, 12, 2)) == 0
    assert prorated(Decimal(100), NOVEMBER, date(2026, 10, 1), date(2026, 12, 31)) == 100


def test_costs_round_half_up_and_need_something_to_divide() -> None:
    assert cost(Decimal("100.00"), 8) == Decimal("12.50")
    assert cost(Decimal("0.05"), 2) == Decimal("0.03")  # 0.025 rounds up, not to even
    assert cost(Decimal("3666.67"), 3) == Decimal("1222.22")
    assert cost(Decimal("100.00"), 0) is None
    assert cost(None, 5) is None
