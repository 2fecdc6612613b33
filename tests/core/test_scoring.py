"""The lead score (bot/scoring) on a real database, SQLite and PostgreSQL: a generated history
where conversion depends on source, service and hour in a known way ranks new leads like the
true probabilities; the recount's SQL and the score's reading of a lead agree on every factor;
the rule score stands in before `[scoring] min_closed`; a close counts its lead, a reopen takes
it back (unless the recount held it out); the nightly recount runs once a local day."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.config import AppConfig, load_app_config
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, reopen_lead, take_lead
from bot.leads.lists import LeadList, lead_list
from bot.scoring.counts import read_counts
from bot.scoring.features import lead_features
from bot.scoring.recount import recount, recount_if_due
from bot.scoring.scores import score_for, score_with
from storage.db import SessionFactory
from storage.models import Lead, LeadStatus, OutboxKind, OutboxMessage, ScoreModel, Staff

MOSCOW = ZoneInfo("Europe/Moscow")  # the default [timezone]
START = datetime(2026, 1, 5, tzinfo=MOSCOW)  # a Monday

# the truth the history is drawn from: log-odds of a sale
BASE = -1.0
SOURCE_EFFECT = {"tilda": 1.0, "vk": -1.0, "call": 0.5, "web_form": 0.0}
SERVICE_EFFECT = {"repair": 0.8, "install": 0.0, "consult": -0.8}
HOUR_EFFECT = {"morning": 0.0, "afternoon": 0.2, "evening": 0.7, "night": -0.7}
BAND_OF_HOUR = {
    h: "night"
    if h < 7 or h >= 22
    else "morning"
    if h < 12
    else "afternoon"
    if h < 17
    else "evening"
    for h in range(24)
}


def true_probability(source: str, service: str, hour: int) -> float:
    logit = BASE + SOURCE_EFFECT[source] + SERVICE_EFFECT[service] + HOUR_EFFECT[BAND_OF_HOUR[hour]]
    return 1 / (1 + math.exp(-logit))


def drawn_lead(rng: random.Random, day: int) -> tuple[dict[str, Any], float]:
    """One lead of the history: the known factors drive the outcome, the rest is noise."""
    source = rng.choice(list(SOURCE_EFFECT))
    service = rng.choice(list(SERVICE_EFFECT))
    hour = rng.randrange(24)
    created = (START + timedelta(days=day, hours=hour, minutes=rng.randrange(60))).astimezone(UTC)
    fields = {
        "source": source,
        "service": service.capitalize() if rng.random() < 0.5 else service,  # case: one value
        "phone": "+79001234567" if rng.random() < 0.6 else None,
        "email": "a@example.com" if rng.random() < 0.4 else None,
        "message": "x" * rng.choice([0, 10, 100, 500]),
        "is_repeat": rng.random() < 0.2,
        "utm": {"utm_source": rng.choice(["google", "yandex"])} if rng.random() < 0.5 else {},
        "created_at": created,
        "updated_at": created,
    }
    return fields, true_probability(source, service, hour)


def closed_history(count: int, seed: int = 16) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        fields, probability = drawn_lead(rng, day=n * 300 // count)
        won = rng.random() < probability
        status = LeadStatus.CONVERTED if won else rng.choice([LeadStatus.REFUSED, LeadStatus.JUNK])
        closed = fields["created_at"] + timedelta(hours=rng.randrange(1, 72))
        rows.append({**fields, "status": status, "closed_at": closed, "updated_at": closed})
    return rows


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(left: list[float], right: list[float]) -> float:
    """Pearson's correlation of the ranks (by hand: no scipy)."""
    a, b = ranks(left), ranks(right)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    spread = math.sqrt(sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b))
    return cov / spread


def test_spearman_by_hand() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # ranks [1, 2, 3] vs [1.5, 1.5, 3]: cov 1.5, spreads 2 and 1.5 -> 1.5 / sqrt(3) = 0.866
    assert abs(spearman([1, 2, 3], [5, 5, 9]) - 0.8660) < 1e-4


async def _insert(sessions: SessionFactory, rows: list[dict[str, Any]]) -> None:
    async with sessions() as session:
        await session.execute(insert(Lead), rows)
        await session.commit()


async def test_score_ranks_new_leads_like_the_truth(
    sessions: SessionFactory, config: AppConfig
) -> None:
    """5,000 closed leads; on 400 new ones the scores' ranks follow the true probabilities."""
    await _insert(sessions, closed_history(5000))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with sessions() as session:
        done = await recount(session, now, config)
        counts = await read_counts(session)
        model = await session.get(ScoreModel, 1)
    assert (done.closed, done.held_out, done.counted) == (5000, 500, 4500)
    assert counts.total.total == 4500 and counts.closed == 5000
    assert model is not None and model.auc == done.auc
    # the held-out 500 are ranked well: the known effects are strong
    assert done.auc is not None and 0.65 < done.auc < 0.9
    rng = random.Random(1616)
    scores, truths = [], []
    for _ in range(400):
        fields, truth = drawn_lead(rng, day=310)
        lead = SimpleNamespace(**fields, status=LeadStatus.NEW)
        score = score_with(counts, lead, config)
        assert not score.by_rules and 1 <= score.percent <= 99
        scores.append(float(score.percent))
        truths.append(truth)
    assert spearman(scores, truths) >= 0.8


async def test_the_recount_reads_every_factor_as_a_card_does(
    sessions: SessionFactory, config: AppConfig
) -> None:
    """The recount groups raw columns in SQL; each lead's values, read one by one, must be the
    values it was counted under: Cyrillic case, empty phone, utm JSON, message length edges,
    the team's time zone (23:30 UTC is 02:30 Tuesday in Moscow)."""
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    rows = [
        {"source": "Tilda", "service": "Ремонт", "message": "", "phone": ""},
        {"source": "tilda", "service": "рЕМОНТ ", "message": "y" * 39, "email": "a@b.c"},
        {"source": "telegram", "service": None, "message": "z" * 40, "is_repeat": True},
        {"source": "call", "message": "w" * 299, "utm": {"utm_source": "Google"}},
        {"source": "vk", "message": "v" * 300, "utm": {"utm_medium": "cpc"}},
    ]
    full = [
        {
            "status": LeadStatus.CONVERTED if n % 2 else LeadStatus.JUNK,
            "created_at": late + timedelta(hours=n * 5),
            "updated_at": late + timedelta(days=1),
            "closed_at": late + timedelta(days=1),
            **row,
        }
        for n, row in enumerate(rows)
    ]
    await _insert(sessions, full)
    everything = load_app_config(overrides={"scoring": {"holdout": 0}})  # count all five
    async with sessions() as session:
        await recount(session, late + timedelta(days=2), everything)
        counts = await read_counts(session)
        leads = (await session.scalars(select(Lead).order_by(Lead.id))).all()
    expected: dict[tuple[str, str], list[int]] = {}
    for lead in leads:
        for key in lead_features(lead, config.zone).items():
            won = lead.status == LeadStatus.CONVERTED
            expected.setdefault(key, [0, 0])[0 if won else 1] += 1
    got = {key: [tally.won, tally.lost] for key, tally in counts.by_value.items()}
    assert got == expected
    # by hand: two spellings of one service; the first lead arrived at 02:30 on a Tuesday
    assert got[("service", "ремонт")] == [1, 1]
    assert got[("source", "tilda")] == [1, 1]
    assert lead_features(leads[0], config.zone)["hour"] == "night"
    assert lead_features(leads[0], config.zone)["weekday"] == "tue"
    assert [lead_features(lead, config.zone)["length"] for lead in leads] == [
        "none",
        "short",
        "medium",
        "medium",
        "long",
    ]
    assert got[("channel", "chat")] == [0, 1] and got[("phone", "no")] == [2, 3]


def _rules_config() -> AppConfig:
    return load_app_config(
        overrides={
            "scoring": {"rules": {"sources": {"call": 20}, "keywords": {"срочно": 10, "Price": 5}}}
        }
    )


async def test_rule_score_stands_in_before_min_closed(
    sessions: SessionFactory, clock: ManualClock
) -> None:
    """99 closed leads (one short of min_closed): a new call with a phone, from a returning
    client who writes "СРОЧНО" gets 30 + 20 (call) + 15 (phone) + 20 (returning) + 10 = 95 %,
    marked as the rule score; one more closed lead and the model speaks."""
    config = _rules_config()
    history = closed_history(100)
    await _insert(sessions, history[:99])
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with sessions() as session:
        await recount(session, now, config)
        counts = await read_counts(session)
    assert counts.closed == 99
    lead = SimpleNamespace(
        source="call",
        utm={},
        service=None,
        phone="+79001234567",
        email=None,
        is_repeat=True,
        message="Нужно СРОЧНО",
        created_at=now,
    )
    score = score_with(counts, lead, config)
    assert score.by_rules and score.percent == 95
    assert [(f.factor, f.points) for f in score.factors] == [
        ("source", 20),
        ("repeat", 20),
        ("phone", 15),
    ]
    await _insert(sessions, history[99:])
    async with sessions() as session:
        await recount(session, now, config)
        assert not score_with(await read_counts(session), lead, config).by_rules


async def _refused_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> int:
    async with sessions() as session:
        (made,) = await intake_leads(
            session, [LeadInput(source="tilda", phone="+79001112233")], clock.now()
        )
    async with sessions() as session:
        assert (await take_lead(session, made.lead_id, staff["anna"], clock.now())).ok
    async with sessions() as session:
        reason = config.refuse_reasons[0].code
        closed = await close_lead(
            session, made.lead_id, staff["anna"], Action.REFUSE, reason, None, clock.now(), config
        )
        assert closed.ok
    return made.lead_id


async def test_a_close_counts_its_lead_and_a_reopen_takes_it_back(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    lead_id = await _refused_lead(sessions, clock, config, staff)
    async with sessions() as session:
        counts = await read_counts(session)
        # a closed lead has no score: its outcome is known
        assert await score_for(session, (await session.get(Lead, lead_id)), config) is None
    assert (counts.total.won, counts.total.lost) == (0, 1)
    assert counts.by_value[("source", "tilda")].lost == 1
    assert counts.by_value[("phone", "yes")].lost == 1
    async with sessions() as session:
        assert (await reopen_lead(session, lead_id, staff["sveta"], clock.now(), config)).ok
    async with sessions() as session:
        counts = await read_counts(session)
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        reopened = await score_for(session, lead, config)
    assert counts.total.total == 0 and counts.by_value[("source", "tilda")].total == 0
    assert reopened is not None and reopened.by_rules


async def test_a_held_out_lead_reopened_leaves_the_counts_alone(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """A lead the last recount kept out (to measure the model on) was never counted: its
    reopen must not take another lead's count away."""
    await _insert(sessions, closed_history(10))
    clock.advance(timedelta(days=400))  # after the whole history
    lead_id = await _refused_lead(sessions, clock, config, staff)
    clock.advance(timedelta(minutes=1))
    async with sessions() as session:
        config_small = load_app_config(overrides={"scoring": {"holdout": 1}})
        done = await recount(session, clock.now(), config_small)
        before = await read_counts(session)
    assert (done.closed, done.held_out) == (11, 1)  # the refused lead is the latest
    async with sessions() as session:
        assert (await reopen_lead(session, lead_id, staff["sveta"], clock.now(), config)).ok
    async with sessions() as session:
        assert await read_counts(session) == before


async def test_the_nightly_recount_runs_once_a_local_day(
    sessions: SessionFactory, config: AppConfig
) -> None:
    """[scoring] recompute_at 03:00 Moscow: not at 02:59, once at 03:00, not again that day."""
    await _insert(sessions, closed_history(20))
    night = datetime(2026, 11, 2, 2, 59, tzinfo=MOSCOW)
    async with sessions() as session:
        assert await recount_if_due(session, night, config) is None
        ran = await recount_if_due(session, night + timedelta(minutes=1), config)
        assert ran is not None and ran.closed == 20
        assert await recount_if_due(session, night + timedelta(hours=20), config) is None
        again = await recount_if_due(session, night + timedelta(days=1, minutes=1), config)
        assert again is not None


async def test_a_routing_rule_with_min_score_sends_hot_leads_to_its_skill(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """[[routing.rules]] hot: min_score 60 → only managers with the skill "senior" (Boris).
    No lead closed: the rule score. A lead from "vip" with a phone: 30 + 50 + 15 = 95 %, hot,
    Boris alone gets its card; a website form's with a phone: 45 %, both managers do."""
    config = load_app_config(
        overrides={
            "scoring": {"rules": {"sources": {"vip": 50}}},
            "routing": {"rules": [{"name": "hot", "min_score": 60, "skill": "senior"}]},
        }
    )
    async with sessions() as session:
        boris = await session.get(Staff, staff["boris"].id)
        assert boris is not None
        boris.skills = ["senior"]
        await session.commit()
    async with sessions() as session:
        hot, warm = await intake_leads(
            session,
            [
                LeadInput(source="vip", phone="+79001110001"),
                LeadInput(source="web_form", phone="+79001110002"),
            ],
            clock.now(),
            config=config,
        )
    async with sessions() as session:
        cards = (
            await session.execute(
                select(OutboxMessage.lead_id, OutboxMessage.staff_id).where(
                    OutboxMessage.kind == OutboxKind.CARD
                )
            )
        ).all()
        lead = await session.get(Lead, hot.lead_id)
    managers = {staff["anna"].id, staff["boris"].id}
    assert {s for lead_id, s in cards if lead_id == hot.lead_id} == {staff["boris"].id}
    assert {s for lead_id, s in cards if lead_id == warm.lead_id} == managers
    assert lead is not None and lead.wanted_skill == "senior"


async def test_new_leads_list_the_likeliest_first_within_each_hour(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """/leads → new, at 10:30: Ann's lead (09:00, website form, 45 %) and Vic's (09:10, "vip",
    95 %) are both over an hour old: Vic first; Carl's (10:10, "vip", 95 %) is in the
    younger band, so it comes after both. With `list_band = "off"`: oldest first."""
    config = load_app_config(overrides={"scoring": {"rules": {"sources": {"vip": 50}}}})
    start = clock.now()
    arrivals = [
        (timedelta(0), "web_form", "Ann"),
        (timedelta(minutes=10), "vip", "Vic"),
        (timedelta(minutes=70), "vip", "Carl"),
    ]
    for n, (after, source, name) in enumerate(arrivals):
        async with sessions() as session:
            item = LeadInput(source=source, name=name, phone=f"+7900222000{n}")
            await intake_leads(session, [item], start + after, config=config)
    now = start + timedelta(minutes=90)
    async with sessions() as session:
        listed = await lead_list(session, LeadList.NEW, staff["anna"], now, config)
        assert [item.lead.name for item in listed.items] == ["Vic", "Ann", "Carl"]
        plain = load_app_config(overrides={"scoring": {"list_band": "off"}})
        listed = await lead_list(session, LeadList.NEW, staff["anna"], now, plain)
        assert [item.lead.name for item in listed.items] == ["Ann", "Vic", "Carl"]
