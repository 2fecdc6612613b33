"""The card's one line about the score: a tier, the percent and the three reasons that moved it
most, e.g. `🔥 72 % · Tilda form ×1.8 · evening ×1.3 · no e-mail ×0.6`; the rule score is
marked (`🌤 45 % rules · phone +15 · …`). Words from labels.toml ([score]); at most LINE_LIMIT
characters as Telegram counts them, whatever the sources and services are called. Plain text:
the card's template escapes it."""

from __future__ import annotations

from typing import Any

from bot.common.render import cut, labels, utf16_length
from bot.scoring.model import Factor, LeadScore

LINE_LIMIT = 64
HOT, WARM = 60, 30  # percent from which a lead is hot, warm (below: cold)
WIDEST, NARROWEST = 18, 6  # a reason's words are cut to this, narrowed until the line fits
SEPARATOR = " · "


def tier(percent: int) -> str:
    return "🔥" if percent >= HOT else "🌤" if percent >= WARM else "❄️"


def _number(value: float, locale: str) -> str:
    text = f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 0.1 else f"{value:.2f}"
    return text.replace(".", ",") if locale == "ru" else text


def factor_words(factor: Factor, words: dict[str, Any], channels: dict[str, str]) -> str:
    """What a reason is called: a label for the values leadbot knows, the value itself else."""
    value = " ".join(factor.value.split())  # no line breaks in one line
    if factor.factor == "source":
        return channels.get(value, value)
    if factor.factor in ("utm_source", "service"):
        return value
    if factor.factor == "keyword":
        return f"«{value}»"
    known: dict[str, str] = words.get(factor.factor, {})
    return known.get(value, value)


def _effect(factor: Factor, locale: str) -> str:
    if factor.ratio is not None:
        return f"×{_number(factor.ratio, locale)}"
    return f"{factor.points:+d}" if factor.points is not None else ""


def score_line(score: LeadScore, locale: str) -> str:
    """The line, cut to fit: reasons' words narrowed first, then the weakest reasons dropped."""
    text = labels(locale)
    words: dict[str, Any] = text["score"]
    head = f"{tier(score.percent)} {score.percent} %"
    if score.by_rules:
        head += f" {words['rules']}"
    channels = text["channels"]
    reasons = [(factor_words(f, words, channels), _effect(f, locale)) for f in score.factors]
    while True:
        for width in range(WIDEST, NARROWEST - 1, -2):
            parts = [head, *(f"{cut(name, width)} {effect}".strip() for name, effect in reasons)]
            line = SEPARATOR.join(parts)
            if utf16_length(line) <= LINE_LIMIT:
                return line
        if not reasons:
            return cut(head, LINE_LIMIT)
        reasons.pop()  # the weakest: factors come strongest first
