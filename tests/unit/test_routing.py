"""The distribution rules as plain functions: which rule a lead matches, and where each policy
sends it (no database, no Telegram)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.config import AppConfig, ConfigError, RoutingRule, load_app_config
from bot.routing.rules import LeadFacts, Team, matches, route, rule_for
from storage.models import Role, Staff

TEAM_CHAT = -100500


def _config(**routing: Any) -> AppConfig:
    return load_app_config(overrides={"routing": routing})


def _manager(staff_id: int, skills: list[str] | None = None, capacity: int | None = None) -> Staff:
    return Staff(
        id=staff_id,
        telegram_id=1000 + staff_id,
        name=f"m{staff_id}",
        role=Role.MANAGER,
        is_active=True,
        on_duty=True,
        skills=skills or [],
        capacity=capacity,
    )


def _team(*people: Staff, load: dict[int, int] | None = None) -> Team:
    boss = Staff(
        id=99,
        telegram_id=1099,
        name="boss",
        role=Role.SUPERVISOR,
        is_active=True,
        on_duty=True,
        skills=[],
    )
    return Team(on_duty=list(people), open_leads=dict(load or {}), supervisors=[boss])


def _lead(lead_id: int = 1, **facts: Any) -> LeadFacts:
    return LeadFacts(id=lead_id, source=facts.pop("source", "web_form"), **facts)


def _to(decided: Any) -> list[int | None]:
    return [r.staff_id for r in decided.recipients]


def test_a_rule_matches_only_when_every_condition_given_holds() -> None:
    rule = RoutingRule(
        name="tours", source="web_form", service="Group Tour", min_amount=Decimal(100000)
    )
    big = _lead(service="group tour", amount=Decimal(150000))
    assert matches(rule, big)
    assert not matches(rule, _lead(service="group tour", amount=Decimal(99999)))
    assert not matches(rule, _lead(service="group tour"))  # amount unknown: not ≥ X
    assert not matches(
        rule, _lead(source="missed_call", service="group tour", amount=Decimal(150000))
    )
    by_field = RoutingRule(name="moscow", field="city", equals="Moscow")
    assert matches(by_field, _lead(extra={"city": "Moscow"}))
    assert not matches(by_field, _lead(extra={"city": "Kazan"}))
    assert matches(
        RoutingRule(name="amount", min_amount=Decimal(10)), _lead(extra={"amount": "12"})
    )


def test_the_first_matching_rule_wins_and_no_match_means_the_default() -> None:
    rules = [
        RoutingRule(name="calls", source="missed_call", skill="phone"),
        RoutingRule(name="all_calls", source="missed_call", skill="other"),
    ]
    assert rule_for(_lead(source="missed_call"), rules) is rules[0]
    assert rule_for(_lead(source="web_form"), rules) is None


def test_a_rule_without_a_value_for_its_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        _config(rules=[{"name": "x", "field": "city"}])


def test_claim_sends_to_every_fitting_manager_or_the_team_chat() -> None:
    team = _team(_manager(1), _manager(2, ["senior"]), _manager(3, capacity=1), load={3: 1})
    assert _to(route(_lead(), team, _config(), None)) == [1, 2]  # 3 is at capacity
    decided = route(_lead(), team, _config(), TEAM_CHAT)
    assert [r.chat_id for r in decided.recipients] == [TEAM_CHAT] and decided.offered_to is None
    senior = _config(rules=[{"name": "vip", "service": "vip", "skill": "senior"}])
    # a skill is wanted: the team chat is not asked, only the managers who have it
    assert _to(route(_lead(service="VIP"), team, senior, TEAM_CHAT)) == [2]


def test_round_robin_takes_turns_per_pool_and_skips_who_does_not_fit() -> None:
    team = _team(_manager(1), _manager(2), _manager(3, capacity=0))
    config = _config(policy="round_robin")
    offered = [route(_lead(n), team, config, None).offered_to for n in range(1, 5)]
    assert [person.id for person in offered if person] == [1, 2, 1, 2]
    assert team.turns == {"default": 2} and team.turns_changed == {"default"}


def test_least_loaded_counts_open_leads_and_offers_made_in_the_same_batch() -> None:
    team = _team(_manager(1), _manager(2), load={1: 2})
    config = _config(policy="least_loaded")
    picks = [route(_lead(n), team, config, None).offered_to for n in range(1, 5)]
    assert [person.id for person in picks if person] == [2, 2, 1, 2]


def test_a_returning_client_goes_back_to_their_manager_if_on_duty() -> None:
    boris = _manager(2)
    team = _team(_manager(1), boris)
    decided = route(_lead(is_repeat=True), team, _config(), None, last_owner=boris)
    assert decided.offered_to is boris and _to(decided) == [2]
    off_duty = _manager(7)
    assert _to(route(_lead(), team, _config(), None, last_owner=off_duty)) == [1, 2]
    assert _to(route(_lead(), team, _config(sticky=False), None, last_owner=boris)) == [1, 2]


def test_nobody_fitting_means_the_lead_waits() -> None:
    decided = route(_lead(), _team(), _config(policy="round_robin"), None)
    assert decided.waiting and decided.recipients == []
    skilled = _config(rules=[{"name": "vip", "service": "vip", "skill": "senior"}])
    decided = route(_lead(service="vip"), _team(_manager(1)), skilled, TEAM_CHAT)
    assert decided.waiting and decided.skill == "senior"


def test_min_score_matches_a_score_at_or_above_it_and_never_an_unknown_one() -> None:
    rule = RoutingRule(name="hot", min_score=60)
    assert matches(rule, _lead(score=60)) and matches(rule, _lead(score=99))
    assert not matches(rule, _lead(score=59))
    assert not matches(rule, _lead())  # no score read: not ≥ 60
