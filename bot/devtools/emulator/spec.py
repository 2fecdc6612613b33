"""The official Bot API description (api.json) and request checking against it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bot.devtools.emulator.errors import bad_request

SCALAR_TYPES = frozenset({"String", "Integer", "Float", "Boolean", "InputFile"})

# Telegram still honours parameters the docs dropped when their replacements came in;
# aiogram and older code send them, so they are accepted wherever the replacement exists.
LEGACY_PARAMS: dict[str, dict[str, tuple[str, ...]]] = {
    "link_preview_options": {"disable_web_page_preview": ("Boolean",)},
    "reply_parameters": {
        "reply_to_message_id": ("Integer",),
        "allow_sending_without_reply": ("Boolean",),
    },
}

BUTTON_DECORATIONS = frozenset({"text", "icon_custom_emoji_id", "style"})
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})


@dataclass(frozen=True)
class Param:
    name: str
    types: tuple[str, ...]
    required: bool

    @property
    def is_structured(self) -> bool:
        """Objects and arrays travel as JSON text inside form fields."""
        return any(t not in SCALAR_TYPES for t in self.types)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: dict[str, Param]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class BotApiSpec:
    version: str
    methods: dict[str, MethodSpec]
    # lower-case name -> name: Telegram matches method names case-insensitively
    by_lower_name: dict[str, str]
    # InlineKeyboardButton fields that are its action ("exactly one ... must be used")
    button_actions: frozenset[str]

    def method(self, name: str) -> MethodSpec | None:
        canonical = self.by_lower_name.get(name.lower())
        return self.methods[canonical] if canonical else None


@cache
def load_spec() -> BotApiSpec:
    """Parsed once per process (900 KB of JSON); the result is immutable, so sharing it
    between emulators shares no state."""
    spec_file = resources.files("bot.devtools.emulator").joinpath("api.json")
    raw = json.loads(spec_file.read_text("utf-8"))
    methods: dict[str, MethodSpec] = {}
    for name, method in raw["methods"].items():
        params = {
            f["name"]: Param(f["name"], tuple(f["types"]), bool(f["required"]))
            for f in method.get("fields", [])
        }
        for replacement, legacy in LEGACY_PARAMS.items():
            if replacement in params:
                for old_name, types in legacy.items():
                    params.setdefault(old_name, Param(old_name, types, False))
        methods[name] = MethodSpec(name, params, tuple(method.get("returns", [])))
    button = raw["types"]["InlineKeyboardButton"]["fields"]
    actions = frozenset(f["name"] for f in button) - BUTTON_DECORATIONS
    return BotApiSpec(
        str(raw.get("version", "")), methods, {n.lower(): n for n in methods}, actions
    )


def check_params(method: MethodSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown and missing parameters; convert form strings to the types the spec says."""
    for name in raw:
        if name not in method.params:
            raise bad_request(f'unknown parameter "{name}" for method {method.name}')
    for param in method.params.values():
        if param.required and param.name not in raw:
            raise bad_request(f'parameter "{param.name}" is required')
    return {name: _convert(method.params[name], value) for name, value in raw.items()}


def _convert(param: Param, value: Any) -> Any:
    if param.is_structured and isinstance(value, str) and "String" not in param.types:
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request(f'can\'t parse "{param.name}" JSON object') from None
    if any(t.startswith("Array of") for t in param.types) and "String" not in param.types:
        if not isinstance(value, list):
            raise bad_request(f'parameter "{param.name}" must be a JSON array')
        return value
    if param.is_structured and "String" not in param.types:
        if not isinstance(value, dict):
            raise bad_request(f'parameter "{param.name}" must be a JSON object')
        return value
    if "Integer" in param.types:
        return _to_int(param, value)
    if param.types == ("Boolean",):
        return _to_bool(param, value)
    if param.types == ("Float",):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'parameter "{param.name}" must be a Float') from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # Telegram takes a JSON number where it documents a string
    return value


def _to_int(param: Param, value: Any) -> Any:
    if isinstance(value, bool):
        raise bad_request(f'parameter "{param.name}" must be an Integer')
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            if "String" in param.types:
                return value  # e.g. chat_id "@channelusername"
    raise bad_request(f'parameter "{param.name}" must be an Integer')


def _to_bool(param: Param, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise bad_request(f'parameter "{param.name}" must be a Boolean')
