"""What an admin types about a person (bot/team/staff.py): skills as tags, a capacity."""

from __future__ import annotations

import pytest

from bot.team.staff import UnreadableAnswer, read_capacity, read_skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Senior, Group  Tour ,senior; VIP", ["senior", "group_tour", "vip"]),
        ("-", []),
        ("  ", []),
        ("вип-клиенты", ["вип-клиенты"]),
    ],
)
def test_skills_are_read_as_lower_case_tags(text: str, skills: list[str]) -> None:
    assert read_skills(text) == skills


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (",".join(f"t{n}" for n in range(11)), "too_many"),
        ("a" * 33, "too_long"),
        ("<b>vip</b>", "characters"),
    ],
)
def test_unreadable_skills_say_why(text: str, problem: str) -> None:
    with pytest.raises(UnreadableAnswer) as raised:
        read_skills(text)
    assert raised.value.problem == problem


def test_capacity_is_one_to_five_hundred_or_no_limit() -> None:
    assert (read_capacity(" 5 "), read_capacity("500"), read_capacity("-")) == (5, 500, None)
    for wrong in ("0", "501", "-3", "five", "2.5", ""):
        with pytest.raises(UnreadableAnswer):
            read_capacity(wrong)
