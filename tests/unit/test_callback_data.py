"""Every button's callback data fits Telegram's 64 bytes at its largest and reads back as it was
packed. The CallbackData classes are found by importing every module under handlers/, so a new
one is checked without a line here; each field's largest value comes from what bounds it:

- int: the largest id the database holds (the models' ids, versions and levels are Integer
  columns: 2**31 - 1); pages and steps are far smaller, and are held to the same bound,
  unless the field declares a smaller one (`Field(le=...)`: pydantic refuses a larger value
  when a press is unpacked, so a forged one never reaches a handler; checked below);
- an enum: its longest member;
- str: `ReasonButton.reason`, a reason code, which the config holds to REASON_CODE_MAX of
  a-z, 0-9 and _ when it loads (checked below); or a field that declares its own bound
  (`Field(max_length=..., pattern=...)` of ASCII characters: the report's keys). Any other
  str field fails here until its bound is decided and written into STR_BOUNDS.

The prefixes are part of every button already sent: they never change."""

from __future__ import annotations

import enum
import importlib
import pkgutil
import types
from collections.abc import Iterator
from typing import Any

import annotated_types
import pytest
from aiogram.filters.callback_data import CallbackData
from pydantic.fields import FieldInfo
from sqlalchemy import Integer

import handlers
from bot.config import REASON_CODE_MAX, ConfigError, load_app_config
from storage.models import Base

TELEGRAM_CALLBACK_DATA_LIMIT = 64  # bytes
LARGEST_ID = 2**31 - 1  # Integer columns (checked below)
INT_COLUMNS = ("version", "alert_level")  # besides ids: EscalationButton.version and .level
STR_BOUNDS = {("ReasonButton", "reason"): "z" * REASON_CODE_MAX}
PREFIXES = [
    "lead",
    "why",
    "card",
    "when",
    "hist",
    "give",
    "merge",
    "open",
    "list",
    "step",
    "esc",
    "staff",
    "staffrole",
    "duty",
    "rep",
    "rdate",
    "rv",
    "rd",
    "rdp",
    "imp",
    "fu",  # handlers/keyboards/sequences.py: a client's answer to a follow-up
    # client self-service (handlers/keyboards/self_service.py)
    "csm",
    "csv",
    "cst",
    "csl",
    "rec",  # handlers/keyboards/lead.py: a call recording on a lead's history
]


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _callback_data_classes() -> list[type[CallbackData]]:
    for module in pkgutil.walk_packages(handlers.__path__, f"{handlers.__name__}."):
        importlib.import_module(module.name)
    return sorted(
        (cls for cls in _subclasses(CallbackData) if cls.__module__.startswith("handlers.")),
        key=lambda cls: cls.__name__,
    )


CLASSES = _callback_data_classes()


def _declared(field: FieldInfo, kind: type) -> Any:
    """The bound a field declares: its `le` (int) or `max_length` (str), else None."""
    for rule in field.metadata:
        if kind is int and isinstance(rule, annotated_types.Le):
            return rule.le
        if kind is str and isinstance(rule, annotated_types.MaxLen):
            return rule.max_length
        if kind is str and getattr(rule, "max_length", None) is not None:
            return rule.max_length
    return None


def _largest(cls: type[CallbackData], name: str, annotation: Any) -> Any:
    field = cls.model_fields[name]
    if isinstance(annotation, types.UnionType):  # `int | None`: None packs as nothing
        annotation = next(part for part in annotation.__args__ if part is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return max(annotation, key=lambda member: len(str(member.value).encode()))
    if annotation is int:
        declared = _declared(field, int)
        return LARGEST_ID if declared is None else declared
    if annotation is str and (cls.__name__, name) in STR_BOUNDS:
        return STR_BOUNDS[cls.__name__, name]
    if annotation is str and (length := _declared(field, str)) is not None:
        return "z" * length
    pytest.fail(
        f"{cls.__name__}.{name}: {annotation!r} has no known bound; decide it from the "
        f"code and add it to this test"
    )


def test_every_prefix_is_the_one_buttons_already_carry() -> None:
    prefixes = [cls.__prefix__ for cls in CLASSES]  # type: ignore[attr-defined]
    assert len(prefixes) == len(set(prefixes)), "two classes share a prefix"
    assert sorted(prefixes) == sorted(PREFIXES)


def test_ids_are_integer_columns_so_the_largest_is_two_to_the_31_minus_one() -> None:
    """LARGEST_ID stands for every int a button carries (ids, a lead's version, an alert's
    level); a column grown to BigInteger would need a larger bound here."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            id_like = column.primary_key or column.foreign_keys or column.name in INT_COLUMNS
            if id_like and isinstance(column.type, Integer):  # BigInteger is an Integer too
                assert type(column.type) is Integer, f"{table.name}.{column.name}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_the_largest_values_fit_in_64_bytes_and_read_back(cls: type[CallbackData]) -> None:
    fields = cls.model_fields.items()
    values = {name: _largest(cls, name, field.annotation) for name, field in fields}
    data = cls(**values)
    packed = data.pack()
    assert len(packed.encode()) <= TELEGRAM_CALLBACK_DATA_LIMIT, packed
    assert cls.unpack(packed) == data


@pytest.mark.parametrize("outcome", ["junk_reasons", "refuse_reasons"])
def test_a_reason_code_longer_than_a_button_holds_is_refused_when_the_config_loads(
    outcome: str,
) -> None:
    fits = {"code": "a" * REASON_CODE_MAX, "ru": "Причина", "en": "Reason"}
    loaded = load_app_config(overrides={outcome: [fits]})
    assert [reason.code for reason in getattr(loaded, outcome)] == [fits["code"]]
    with pytest.raises(ConfigError) as refused:
        load_app_config(overrides={outcome: [fits | {"code": "a" * (REASON_CODE_MAX + 1)}]})
    message = str(refused.value)
    assert "\n" not in message and f"{outcome}.0.code" in message, message


@pytest.mark.parametrize("code", ["Spam", "no-answer", "спам", ""])
def test_a_reason_code_is_lower_case_latin_digits_and_underscores(code: str) -> None:
    with pytest.raises(ConfigError, match=r"junk_reasons\.0\.code"):
        load_app_config(overrides={"junk_reasons": [{"code": code, "ru": "x", "en": "x"}]})
