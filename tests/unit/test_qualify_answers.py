"""Qualifying a lead without a database (bot/leads/qualify.py) and the deal fields that drive it:
reading what a manager types for each kind of field (`read_answer`, `read_amount`), showing values
back (`format_amount`, `shown_value`), deciding which required fields are still empty
(`missing_fields`) and which steps a dialogue asks (`dialogue_fields`), plus the checks
bot/config.py makes on `deal_fields`. Converting and qualifying on a real database are in
tests/core/test_qualify.py.

The default configuration asks for name, phone and service (required) and amount (optional).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.config import AppConfig, ConfigError, DealField, FieldKind, load_app_config
from bot.leads.qualify import (
    MAX_AMOUNT,
    UnreadableAnswer,
    dialogue_fields,
    format_amount,
    missing_fields,
    read_amount,
    read_answer,
    shown_value,
)
from storage.models import Lead

NNBSP = "\u202f"  # the narrow no-break space that groups thousands
PHONE = "+79001234567"


def _field(field: str, kind: FieldKind = FieldKind.TEXT, **options: Any) -> DealField:
    return DealField(field=field, kind=kind, ru=field, en=field, **options)


TEXT = _field("service", max_length=10)
PHONE_FIELD = _field("phone", FieldKind.PHONE)
EMAIL = _field("email", FieldKind.EMAIL)
AMOUNT = _field("amount", FieldKind.AMOUNT, required=False)


def _names(fields: list[DealField]) -> list[str]:
    return [field.field for field in fields]


# ----------------------------------------------------------------------------------------------
# read_answer


@pytest.mark.parametrize("text", ["Кухня", "  Кухня  ", "\tКухня\n"])
def test_a_text_answer_is_stored_stripped(text: str) -> None:
    assert read_answer(TEXT, text, "RU") == "Кухня"


def test_a_text_answer_of_exactly_the_maximum_length_is_accepted() -> None:
    assert read_answer(TEXT, "x" * 10, "RU") == "x" * 10


def test_a_text_answer_longer_than_the_maximum_is_unreadable() -> None:
    with pytest.raises(UnreadableAnswer) as raised:
        read_answer(TEXT, "x" * 11, "RU")
    assert raised.value.field is TEXT


@pytest.mark.parametrize("field", [TEXT, PHONE_FIELD, EMAIL, AMOUNT], ids=lambda f: f.kind)
@pytest.mark.parametrize("text", ["", "   ", "\n\t"], ids=["empty", "spaces", "blank-lines"])
def test_an_empty_answer_is_unreadable_for_every_kind(field: DealField, text: str) -> None:
    with pytest.raises(UnreadableAnswer) as raised:
        read_answer(field, text, "RU")
    assert raised.value.field is field


@pytest.mark.parametrize(
    "text", ["8 (900) 123-45-67", "+7 900 123 4567", "89001234567", " +7-900-123-45-67 "]
)
def test_a_phone_answer_is_stored_in_e164(text: str) -> None:
    assert read_answer(PHONE_FIELD, text, "RU") == PHONE


@pytest.mark.parametrize("text", ["not a phone", "123", "+7 900", "☎️"])
def test_an_impossible_phone_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableAnswer) as raised:
        read_answer(PHONE_FIELD, text, "RU")
    assert raised.value.field is PHONE_FIELD


def test_an_email_answer_is_stored_lower_case() -> None:
    assert read_answer(EMAIL, " Ivan.Petrov@Example.COM ", "RU") == "ivan.petrov@example.com"


@pytest.mark.parametrize("text", ["ivan", "ivan@", "ivan@example", "ivan petrov@example.com"])
def test_a_malformed_email_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableAnswer):
        read_answer(EMAIL, text, "RU")


def test_an_amount_answer_is_read_as_a_decimal() -> None:
    assert read_answer(AMOUNT, " 150 000 ₽ ", "RU") == Decimal("150000.00")


# ----------------------------------------------------------------------------------------------
# read_amount and format_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("150000", "150000.00"),
        ("150 000", "150000.00"),
        ("150\u00a0000", "150000.00"),
        (f"150{NNBSP}000", "150000.00"),
        ("150'000", "150000.00"),
        ("150_000", "150000.00"),
        ("150000,50", "150000.50"),
        ("150000.5", "150000.50"),
        ("1 500 ₽", "1500.00"),
        ("1500₽", "1500.00"),
        ("1500 руб", "1500.00"),
        ("1500 руб.", "1500.00"),
        ("1500 р.", "1500.00"),
        ("1500 RUB", "1500.00"),
        ("100$", "100.00"),
        ("100 €", "100.00"),
        ("0", "0.00"),
        ("0,01", "0.01"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_an_amount_is_read_with_two_decimals(text: str, expected: str) -> None:
    amount = read_amount(AMOUNT, text)
    assert amount == Decimal(expected)
    assert str(amount) == expected  # quantized to cents, as Numeric(14, 2) stores it


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "150k",
        "-5",
        "-0.01",
        "100.005",  # a third decimal
        "1.2.3",
        "1,500.00",  # a comma is the decimal separator, so this has two
        "$100",  # a currency sign only at the end
        "NaN",
        "Infinity",
        "1000000000000",  # more than Numeric(14, 2) holds
    ],
)
def test_an_unreadable_amount_is_refused(text: str) -> None:
    with pytest.raises(UnreadableAnswer) as raised:
        read_amount(AMOUNT, text)
    assert raised.value.field is AMOUNT


def test_the_largest_amount_is_what_the_column_holds() -> None:
    assert read_amount(AMOUNT, str(MAX_AMOUNT)) == MAX_AMOUNT
    with pytest.raises(UnreadableAnswer):
        read_amount(AMOUNT, str(MAX_AMOUNT + Decimal("0.01")))


def test_minus_zero_is_read_as_a_plain_zero() -> None:
    amount = read_amount(AMOUNT, "-0")
    assert not amount.is_signed()
    assert format_amount(amount) == "0"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "0"),
        ("0.50", "0.50"),
        ("999", "999"),
        ("999.00", "999"),
        ("1000", f"1{NNBSP}000"),
        ("150000", f"150{NNBSP}000"),
        ("150000.5", f"150{NNBSP}000.50"),
        ("1234567.89", f"1{NNBSP}234{NNBSP}567.89"),
        ("999999999999.99", f"999{NNBSP}999{NNBSP}999{NNBSP}999.99"),
    ],
)
def test_an_amount_is_shown_grouped_by_thousands_without_empty_cents(
    amount: str, shown: str
) -> None:
    assert format_amount(Decimal(amount)) == shown


# ----------------------------------------------------------------------------------------------
# shown_value


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        (PHONE_FIELD, PHONE, "+7 900 123-45-67"),
        (AMOUNT, Decimal("150000.00"), f"150{NNBSP}000"),
        (AMOUNT, "1500.5", f"1{NNBSP}500.50"),  # as it may come back from JSON
        (TEXT, "Кухня", "Кухня"),
        (EMAIL, "ivan@example.com", "ivan@example.com"),
    ],
    ids=["phone", "amount", "amount-as-text", "text", "email"],
)
def test_a_stored_value_is_shown_the_way_the_dialogue_reads_it(
    field: DealField, value: Any, shown: str
) -> None:
    assert shown_value(field, value) == shown


# ----------------------------------------------------------------------------------------------
# missing_fields and dialogue_fields, on leads that are never stored


def _lead(**columns: Any) -> Lead:
    return Lead(**{"name": None, "phone": None, "service": None, "extra": {}, **columns})


@pytest.fixture(name="fields")
def _default_fields(config: AppConfig) -> list[DealField]:
    return config.deal_fields


def test_every_empty_required_field_is_missing_in_config_order(fields: list[DealField]) -> None:
    assert _names(missing_fields(_lead(), fields, {})) == ["name", "phone", "service"]


def test_a_field_the_lead_holds_is_not_missing(fields: list[DealField]) -> None:
    lead = _lead(name="Иван", phone=PHONE)
    assert _names(missing_fields(lead, fields, {})) == ["service"]


def test_a_field_an_answer_fills_is_not_missing(fields: list[DealField]) -> None:
    lead = _lead(phone=PHONE)
    assert _names(missing_fields(lead, fields, {"name": "Иван", "service": "Кухня"})) == []


@pytest.mark.parametrize("where", ["lead", "answers"])
def test_an_empty_string_counts_as_missing(where: str, fields: list[DealField]) -> None:
    lead = _lead(name="Иван", phone=PHONE, service="" if where == "lead" else None)
    answers = {"service": ""} if where == "answers" else {}
    assert _names(missing_fields(lead, fields, answers)) == ["service"]


def test_an_optional_field_is_never_missing(fields: list[DealField]) -> None:
    lead = _lead(name="Иван", phone=PHONE, service="Кухня", amount=None)
    assert missing_fields(lead, fields, {}) == []


def test_a_field_that_is_not_a_column_is_looked_up_in_the_leads_extra() -> None:
    budget = _field("budget_source")
    assert missing_fields(_lead(extra={"budget_source": "ипотека"}), [budget], {}) == []
    assert missing_fields(_lead(extra={"other": "x"}), [budget], {}) == [budget]
    assert missing_fields(_lead(extra=None), [budget], {}) == [budget]
    assert missing_fields(_lead(), [budget], {"budget_source": "наличные"}) == []


def test_qualifying_walks_every_field_in_config_order(config: AppConfig) -> None:
    plan = dialogue_fields(_lead(phone=PHONE), config, converting=False)
    assert _names(plan.fields) == ["name", "phone", "service", "amount"]
    assert _names(plan.missing) == ["name", "service"]


@pytest.mark.parametrize(
    ("columns", "steps"),
    [
        ({}, ["name", "phone", "service", "amount"]),
        ({"phone": PHONE}, ["name", "service", "amount"]),
        ({"name": "Иван", "phone": PHONE}, ["service", "amount"]),
        ({"name": "Иван", "phone": PHONE, "service": "Кухня"}, ["amount"]),
        ({"name": "Иван", "phone": PHONE, "service": "Кухня", "amount": Decimal(5)}, ["amount"]),
    ],
)
def test_converting_asks_only_what_is_missing_plus_the_amount(
    columns: dict[str, Any], steps: list[str], config: AppConfig
) -> None:
    plan = dialogue_fields(_lead(**columns), config, converting=True)
    assert _names(plan.fields) == steps
    assert _names(plan.missing) == [step for step in steps if step != "amount"]


# ----------------------------------------------------------------------------------------------
# The deal fields in the configuration


def test_the_default_deal_fields_are_name_phone_service_and_an_optional_amount(
    config: AppConfig,
) -> None:
    assert [(f.field, f.kind, f.required) for f in config.deal_fields] == [
        ("name", FieldKind.TEXT, True),
        ("phone", FieldKind.PHONE, True),
        ("service", FieldKind.TEXT, True),
        ("amount", FieldKind.AMOUNT, False),
    ]


def _with_fields(*fields: dict[str, Any]) -> AppConfig:
    listed = [{"ru": "поле", "en": "field", **field} for field in fields]
    return load_app_config(overrides={"deal_fields": listed})


def test_custom_deal_fields_replace_the_default_list() -> None:
    config = _with_fields(
        {"field": "phone", "kind": "phone"},
        {"field": "budget_source", "required": False, "max_length": 50},
    )
    assert [(f.field, f.kind, f.required, f.max_length) for f in config.deal_fields] == [
        ("phone", FieldKind.PHONE, True, 200),
        ("budget_source", FieldKind.TEXT, False, 50),
    ]


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("phone", "text"),
        ("phone", None),  # the kind defaults to text
        ("phone", "email"),
        ("email", "text"),
        ("amount", "text"),
        ("amount", "phone"),
    ],
)
def test_a_column_field_with_the_wrong_kind_is_a_config_error(field: str, kind: str | None) -> None:
    listed = {"field": field, **({"kind": kind} if kind else {})}
    with pytest.raises(ConfigError, match=f"deal field '{field}' must have kind"):
        _with_fields(listed)


def test_a_field_listed_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        _with_fields({"field": "service"}, {"field": "name"}, {"field": "service"})


@pytest.mark.parametrize(
    "listed",
    [
        {"field": "Service"},
        {"field": "1st"},
        {"field": "service", "kind": "date"},
        {"field": "service", "max_length": 0},
        {"field": "service", "max_length": 1001},
    ],
    ids=["capitalised", "leading-digit", "unknown-kind", "zero-length", "too-long"],
)
def test_a_malformed_deal_field_is_a_config_error(listed: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        _with_fields(listed)
