"""From counts to a score, with no database: naive Bayes over the lead's factors.

Each value of each factor has a likelihood ratio: how much likelier it is among won leads than
among lost ones, P(value | won) / P(value | lost), which equals the value's odds of winning over
the overall odds. The lead's odds are the overall odds times the ratios of its values. A value's
rate is smoothed: `smoothing` pseudo-leads at the overall rate are added to it, so a value seen
on 3 leads, all won, does not promise a sale. Values seen on fewer than `min_support` closed
leads are ignored (ratio 1)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import Scoring, ScoringRules

LOWEST, HIGHEST = 1, 99  # percent: never certain either way
SHOWN_FACTORS = 3
NEGLIGIBLE = 0.05  # |ln ratio| below this (×0.95..×1.05) is not worth naming


@dataclass(frozen=True)
class Tally:
    won: int = 0
    lost: int = 0

    @property
    def total(self) -> int:
        return self.won + self.lost


@dataclass(frozen=True)
class Counts:
    """The counts table as read: (factor, value) -> tally, and the totals."""

    by_value: Mapping[tuple[str, str], Tally]
    total: Tally
    closed: int  # closed leads known at the last recount and since (counted and held out)


@dataclass(frozen=True)
class Factor:
    """One reason: a factor's value and how it moved the score (a likelihood ratio for the
    model, points for the rule score)."""

    factor: str
    value: str
    ratio: float | None = None
    points: int | None = None


@dataclass(frozen=True)
class LeadScore:
    percent: int
    factors: tuple[Factor, ...]
    by_rules: bool  # the rule score stood in: too few closed leads yet

    @property
    def probability(self) -> float:
        return self.percent / 100


def clamp_percent(probability: float) -> int:
    return max(LOWEST, min(HIGHEST, round(probability * 100)))


def ratio_of(tally: Tally, total: Tally, smoothing: float) -> float:
    """The value's likelihood ratio: its smoothed odds of winning over the overall odds."""
    rate = total.won / total.total
    smoothed = (tally.won + smoothing * rate) / (tally.total + smoothing)
    return (smoothed / (1 - smoothed)) / (rate / (1 - rate))


def model_ready(counts: Counts, settings: Scoring) -> bool:
    """The model speaks once enough leads are closed and both outcomes were counted."""
    return counts.closed >= settings.min_closed and counts.total.won > 0 and counts.total.lost > 0


def model_probability(
    features: Mapping[str, str], counts: Counts, settings: Scoring
) -> tuple[float, list[Factor]]:
    """The unclamped probability and every factor that moved it, strongest first."""
    total = counts.total
    log_odds = math.log(total.won / total.lost)
    factors: list[Factor] = []
    for feature, value in features.items():
        tally = counts.by_value.get((feature, value))
        if tally is None or tally.total < settings.min_support:
            continue
        ratio = ratio_of(tally, total, settings.smoothing)
        log_odds += math.log(ratio)
        if abs(math.log(ratio)) >= NEGLIGIBLE:
            factors.append(Factor(feature, value, ratio=ratio))
    factors.sort(key=lambda factor: -abs(math.log(factor.ratio or 1.0)))
    return 1 / (1 + math.exp(-log_odds)), factors


def model_score(features: Mapping[str, str], counts: Counts, settings: Scoring) -> LeadScore:
    probability, factors = model_probability(features, counts, settings)
    return LeadScore(clamp_percent(probability), tuple(factors[:SHOWN_FACTORS]), by_rules=False)


def rule_score(features: Mapping[str, str], message: str | None, rules: ScoringRules) -> LeadScore:
    """The stand-in: `base` plus the points of what the lead has, clamped to 1..99 %."""
    earned: list[Factor] = []
    source_points = {key.casefold(): points for key, points in rules.sources.items()}
    source = features["source"]
    if source in source_points:
        earned.append(Factor("source", source, points=source_points[source]))
    fields = (("phone", rules.phone), ("email", rules.email), ("repeat", rules.repeat))
    for feature, points in fields:
        if features[feature] == "yes":
            earned.append(Factor(feature, "yes", points=points))
    text = (message or "").casefold()
    for word, points in rules.keywords.items():
        if word.casefold() in text:
            earned.append(Factor("keyword", word, points=points))
    percent = max(LOWEST, min(HIGHEST, rules.base + sum(f.points or 0 for f in earned)))
    earned = [factor for factor in earned if factor.points]
    earned.sort(key=lambda factor: -abs(factor.points or 0))
    return LeadScore(percent, tuple(earned[:SHOWN_FACTORS]), by_rules=True)


def auc(scored: Iterable[tuple[float, bool]]) -> float | None:
    """Ranking accuracy: the chance a won lead scores above a lost one (ties count half);
    None without both outcomes. By ranks (Mann-Whitney), so it costs a sort, not pairs."""
    ordered: Sequence[tuple[float, bool]] = sorted(scored, key=lambda pair: pair[0])
    won = sum(1 for _, outcome in ordered if outcome)
    lost = len(ordered) - won
    if won == 0 or lost == 0:
        return None
    rank_sum = 0.0
    start = 0
    while start < len(ordered):  # tied scores share their average rank
        end = start
        while end + 1 < len(ordered) and ordered[end + 1][0] == ordered[start][0]:
            end += 1
        average = (start + end) / 2 + 1
        rank_sum += average * sum(1 for _, outcome in ordered[start : end + 1] if outcome)
        start = end + 1
    return (rank_sum - won * (won + 1) / 2) / (won * lost)
