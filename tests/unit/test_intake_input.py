"""What the intake reads, without a database or a server: a lead's fields from any request
(bot/intake/input.py), the keys that flag a possible duplicate (bot/intake/duplicates.py) and the
site builders' payload shapes (bot/intake/connectors.py)."""

from __future__ import annotations

import pytest

from bot.config import FieldAliases
from bot.intake.connectors import tilda_lead, unflatten
from bot.intake.duplicates import name_key, similar_phones
from bot.intake.input import IntakeError, parse_lead_input


def test_phone_forms_of_one_person_normalise_to_one_number() -> None:
    a = parse_lead_input({"phone": "8 (900) 123-45-67"}, "RU")
    b = parse_lead_input({"phone": "+7 900 123 4567"}, "RU")
    assert a.phone == b.phone == "+79001234567"


def test_email_is_lower_cased_and_unknown_fields_are_kept() -> None:
    item = parse_lead_input(
        {"email": " Ann@Example.COM ", "utm_source": "ya", "page": "/price", "source": "Landing"},
        "RU",
    )
    assert item.email == "ann@example.com"
    assert item.utm == {"utm_source": "ya"}
    assert item.extra == {"page": "/price"}
    assert item.source == "landing"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": "Only a name"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"email": "nobody-at-nowhere"}, "email"),
        ({"message": {"nested": True}}, "message"),
        ({"message": "hi", "source": "x" * 65}, "source"),
    ],
)
def test_unusable_requests_name_the_field_to_fix(raw: dict[str, object], field: str) -> None:
    with pytest.raises(IntakeError) as caught:
        parse_lead_input(raw, "RU")
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        ("+79001234567", "+79001234568", True),  # one digit wrong
        ("+79001234567", "+79001234576", True),  # two neighbours swapped
        ("+79001234567", "+79001234567", False),  # the same number is the same contact
        ("+79001234567", "+79001234599", False),  # two digits wrong
        ("+79001234567", "+79001243567", True),  # swapped in the middle
        ("+79001234567", "+7900123456", False),  # different lengths
        ("+79001234567", None, False),
    ],
)
def test_similar_phones_are_one_slip_of_a_finger_apart(
    a: str, b: str | None, similar: bool
) -> None:
    assert similar_phones(a, b) is similar


def test_name_key_ignores_case_spacing_and_yo() -> None:
    assert name_key("  Пётр   ИВАНОВ ") == name_key("петр иванов") == "петр иванов"
    assert name_key("") is None and name_key(None) is None


def test_aliases_come_from_config_and_the_raw_payload_is_capped() -> None:
    aliases = FieldAliases(name=["Клиент"], phone=["mobile"])
    form = {"клиент": "Ира", "MOBILE": "89001112233", "Notes": "y" * 500, "tranid": "9:9"}
    lead = tilda_lead(form, aliases, "RU", raw_max_bytes=100)
    assert (lead.name, lead.phone, lead.external_id) == ("Ира", "+79001112233", "9:9")
    assert lead.extra["Notes"] == "y" * 500
    assert lead.extra["raw"]["truncated"] is True
    assert len(lead.extra["raw"]["text"].encode()) <= 100


def test_php_style_keys_become_nested_and_odd_keys_stay_whole() -> None:
    flat = {"fields[PHONE][0][VALUE]": "1", "fields[NAME]": "x", "odd[": "q", "a[b]c": "z"}
    assert unflatten(flat) == {
        "fields": {"PHONE": {"0": {"VALUE": "1"}}, "NAME": "x"},
        "odd[": "q",
        "a[b]c": "z",
    }
