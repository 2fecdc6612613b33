"""The lead score's arithmetic and its card line, without a database: likelihood ratios and
probabilities checked by hand, AUC by hand, the rule score, and a line that stays within 64
characters (as Telegram counts them) whatever the sources and services are called."""

from __future__ import annotations

import html

import pytest

from bot.common.render import TELEGRAM_TEXT_LIMIT, labels, render, utf16_length, visible_length
from bot.config import Scoring, ScoringRules
from bot.scoring.features import WEEKDAYS, channel, hour_band, length_band
from bot.scoring.line import LINE_LIMIT, score_line, tier
from bot.scoring.model import (
    Counts,
    Factor,
    LeadScore,
    Tally,
    auc,
    model_ready,
    model_score,
    ratio_of,
    rule_score,
)
from bot.scoring.quality import ScoreQuality
from tests.unit.test_templates import _card, _lead, _report_sections

SETTINGS = Scoring()  # min_closed 100, min_support 10, smoothing 10


def _counts(**values: Tally) -> Counts:
    return Counts(
        {tuple(key.split(":")): tally for key, tally in values.items()},  # type: ignore[misc]
        Tally(30, 70),
        closed=100,
    )


def test_ratio_by_hand() -> None:
    """Overall 30 won of 100 (odds 3/7). A value won 12 of 20: with 10 pseudo-leads at 30 %
    its rate is (12 + 3) / 30 = 0.5, odds 1, so its ratio is 1 / (3/7) = 7/3."""
    assert ratio_of(Tally(12, 8), Tally(30, 70), 10) == pytest.approx(7 / 3)
    # a value won exactly at the overall rate moves nothing
    assert ratio_of(Tally(6, 14), Tally(30, 70), 10) == pytest.approx(1.0)


def test_model_score_by_hand() -> None:
    """Odds 3/7 × 7/3 = 1: 50 %; the value seen on 9 leads (< min_support) is ignored."""
    counts = _counts(**{"source:tilda": Tally(12, 8), "service:x": Tally(9, 0)})
    score = model_score({"source": "tilda", "service": "x", "hour": "night"}, counts, SETTINGS)
    assert score.percent == 50 and not score.by_rules
    assert [(f.factor, f.value) for f in score.factors] == [("source", "tilda")]
    assert score.factors[0].ratio == pytest.approx(7 / 3)


def test_model_score_is_clamped_to_1_and_99() -> None:
    strong = {f"f{n}:v": Tally(200, 0) for n in range(5)}
    weak = {f"f{n}:w": Tally(0, 200) for n in range(5)}
    counts = _counts(**strong, **weak)
    assert model_score({f"f{n}": "v" for n in range(5)}, counts, SETTINGS).percent == 99
    assert model_score({f"f{n}": "w" for n in range(5)}, counts, SETTINGS).percent == 1
    # the three strongest, strongest first
    assert len(model_score({f"f{n}": "v" for n in range(5)}, counts, SETTINGS).factors) == 3


def test_model_waits_for_min_closed_and_both_outcomes() -> None:
    assert model_ready(Counts({}, Tally(30, 70), closed=100), SETTINGS)
    assert not model_ready(Counts({}, Tally(30, 69), closed=99), SETTINGS)
    assert not model_ready(Counts({}, Tally(0, 150), closed=150), SETTINGS)


def test_rule_score_by_hand() -> None:
    rules = ScoringRules(sources={"Call": 20}, keywords={"price": 5, "срочно": 10})
    features = {"source": "call", "phone": "yes", "email": "no", "repeat": "no"}
    score = rule_score(features, "What PRICE? срочно!", rules)
    assert score.by_rules and score.percent == 30 + 20 + 15 + 10 + 5
    assert [(f.factor, f.points) for f in score.factors] == [
        ("source", 20),
        ("phone", 15),
        ("keyword", 10),
    ]
    many = ScoringRules(base=90, phone=50)
    assert rule_score({**features, "source": "x"}, None, many).percent == 99


def test_auc_by_hand() -> None:
    # every won lead above every lost one
    assert auc([(0.1, False), (0.4, True), (0.35, False), (0.8, True)]) == 1.0
    # won 0.5 ties lost 0.5 (half), beats 0.2; won 0.9 beats both: 3.5 of 4 pairs
    assert auc([(0.5, True), (0.5, False), (0.2, False), (0.9, True)]) == 0.875
    assert auc([(0.3, True), (0.9, False)]) == 0.0
    assert auc([(0.3, True)]) is None


def test_bands() -> None:
    assert [hour_band(h) for h in (6, 7, 11, 12, 16, 17, 21, 22)] == [
        "night",
        "morning",
        "morning",
        "afternoon",
        "afternoon",
        "evening",
        "evening",
        "night",
    ]
    assert [length_band(n) for n in (0, 1, 39, 40, 299, 300)] == [
        "none",
        "short",
        "short",
        "medium",
        "medium",
        "long",
    ]


def test_the_line_a_manager_reads() -> None:
    """The issue's example: tier, percent, the three reasons as likelihood ratios."""
    score = LeadScore(
        72,
        (
            Factor("source", "tilda", ratio=1.8),
            Factor("hour", "evening", ratio=1.3),
            Factor("email", "no", ratio=0.6),
        ),
        by_rules=False,
    )
    assert score_line(score, "en") == "🔥 72 % · Tilda form ×1.8 · evening ×1.3 · no e-mail ×0.6"
    assert score_line(score, "ru") == "🔥 72 % · форма Tilda ×1,8 · вечер ×1,3 · без e-mail ×0,6"
    rules = LeadScore(45, (Factor("repeat", "yes", points=20),), by_rules=True)
    assert score_line(rules, "en") == "🌤 45 % rules · returning +20"
    assert score_line(LeadScore(12, (), by_rules=False), "en") == "❄️ 12 %"
    assert [tier(p) for p in (60, 59, 30, 29)] == ["🔥", "🌤", "🌤", "❄️"]


HOSTILE = [
    "<b>Tilda</b> & <script>alert(1)</script>",
    "🔥" * 40,
    "very-long-source-name-" * 500,  # 11 kB
    "line\nbreak\ttab",
    "Ремонт квартир под ключ в Москве и области недорого",
]


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_line_fits_64_whatever_the_names(hostile: str, locale: str) -> None:
    """Long, HTML-laden, emoji-only names: the line stays one line of at most 64 characters
    (emoji count two, as Telegram counts), and on the card the HTML shows as text."""
    for by_rules in (False, True):
        score = LeadScore(
            99,
            (
                Factor("source", hostile, ratio=123.4, points=-100 if by_rules else None),
                Factor("service", hostile, ratio=0.012),
                Factor("keyword" if by_rules else "utm_source", hostile, points=10),
            ),
            by_rules=by_rules,
        )
        line = score_line(score, locale)
        assert utf16_length(line) <= LINE_LIMIT and "\n" not in line
        assert line.startswith("🔥 99 %")
        card = render("card.html.j2", locale, **_card(_lead(), score_line=line))
        assert "<script>" not in card and "<b>Tilda" not in card  # escaped: shown as text
        assert card.splitlines()[1] == html.escape(line, quote=False)
        assert visible_length(card) <= TELEGRAM_TEXT_LIMIT


def test_ratio_numbers_keep_two_figures() -> None:
    factors = (Factor("phone", "yes", ratio=12.345), Factor("email", "no", ratio=0.04))
    assert score_line(LeadScore(50, factors, False), "en") == "🌤 50 % · phone ×12 · no e-mail ×0.04"


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_value_the_card_names_has_words(locale: str) -> None:
    """Each value a factor can take that the line names by a label has it in both languages."""
    words = labels(locale)["score"]
    expected = {
        "hour": {"morning", "afternoon", "evening", "night"},
        "weekday": set(WEEKDAYS),
        "channel": {channel(source) for source in ("call", "telegram", "email", "tilda")},
        "phone": {"yes", "no"},
        "email": {"yes", "no"},
        "repeat": {"yes", "no"},
        "length": {length_band(n) for n in (0, 1, 100, 1000)},
    }
    for factor, values in expected.items():
        assert set(words[factor]) == values, factor


@pytest.mark.parametrize(
    ("quality", "en"),
    [
        (
            ScoreQuality(False, 5000, 100, 500, 0.7489),
            "🎯 Lead score: on the 500 latest closed leads it put a won lead above a lost one "
            "75 times in 100 (AUC 0.75): fair",
        ),
        (
            ScoreQuality(True, 42, 100, 0, None),
            "🎯 Lead score: rule score for now (42 closed leads of the 100 the model needs)",
        ),
        (
            ScoreQuality(False, 150, 100, 0, None),
            "🎯 Lead score: not checked yet (after the nightly recount)",
        ),
    ],
)
def test_the_report_says_how_far_to_trust_the_score(quality: ScoreQuality, en: str) -> None:
    """/report's last message ends with one line on the score (a supervisor reads it)."""
    values = _report_sections()["report_calls.html.j2"][0] | {"score_quality": quality.as_values()}
    text = render("report_calls.html.j2", "en", **values)
    assert text.splitlines()[-1].replace("<b>", "").replace("</b>", "") == en
    assert "🎯 <b>Оценка лидов</b>" in render("report_calls.html.j2", "ru", **values)
    no_line = render("report_calls.html.j2", "en", **(values | {"score_quality": None}))
    assert "🎯" not in no_line
