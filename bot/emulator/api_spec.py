"""The Bot API as data (api.json, shipped in the package): which methods exist, which
parameters each takes, which are required, and how to read their values."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# Telegram still accepts parameter names its docs no longer list.
LEGACY_PARAMETERS = {"disable_web_page_preview", "reply_to_message_id",
                     "allow_sending_without_reply"}  # fmt: skip


class SpecError(ValueError):
    """A request Telegram would refuse with 400; the text is Telegram-style."""


@cache
def spec() -> dict[str, Any]:
    return json.loads(resources.files("bot.emulator").joinpath("api.json").read_text("utf-8"))


def method_fields(method: str) -> dict[str, dict[str, Any]] | None:
    """The fields of a method, by name; None when no such method exists."""
    described = spec()["methods"].get(method)
    if described is None:
        return None
    return {field["name"]: field for field in described.get("fields", [])}


def _coerce(value: Any, types: list[str]) -> Any:
    if not isinstance(value, str):
        return value
    if "Integer" in types:
        try:
            return int(value)
        except ValueError:
            if "String" not in types:
                raise SpecError(f"invalid integer value {value!r}") from None
            return value
    if types == ["Float"] or "Float number" in types:
        return float(value)
    if types == ["Boolean"]:
        if value.lower() not in ("true", "false", "1", "0"):
            raise SpecError(f"invalid boolean value {value!r}")
        return value.lower() in ("true", "1")
    if types != ["String"] and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SpecError(f"can't parse JSON object: {value[:40]!r}") from None
    return value


def validate(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check params against the spec and return them with values decoded to their types."""
    fields = method_fields(method)
    if fields is None:
        raise KeyError(method)
    decoded: dict[str, Any] = {}
    for name, value in params.items():
        field = fields.get(name)
        if field is None:
            if name in LEGACY_PARAMETERS:
                decoded[name] = value
                continue
            raise SpecError(f'unknown parameter "{name}" for method {method}')
        decoded[name] = _coerce(value, field["types"])
    for name, field in fields.items():
        if field["required"] and decoded.get(name) in (None, ""):
            raise SpecError(f'parameter "{name}" is required')
    return decoded
