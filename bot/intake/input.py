"""Intake requests: what a form, a call or a message must hold to become a lead.

Storing them is bot/intake/store.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.common.contacts import InvalidContactField, normalise_email, normalise_phone
from storage.models import LeadStatus

TEXT_FIELDS = ("name", "phone", "email", "message", "source", "service", "external_id")
DEFAULT_SOURCE = "web_form"
_MAX_SOURCE = 64
_MAX_EXTERNAL_ID = 128
MAX_DEPTH = 32  # objects and lists in a request inside one another; forms need 4 or 5
REPLACEMENT = "\ufffd"
# what no database column or Bot API request can carry: an unpaired UTF-16 surrogate (a JSON
# "\ud800" escape) and NUL; each is stored as U+FFFD instead
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class IntakeError(ValueError):
    """The request cannot become a lead; `field` names what to fix."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadError(ValueError):
    """A request body that cannot be read at all (malformed, nested too deep); the HTTP
    answer is 400."""


def storable_text(text: str) -> str:
    """`text` with every unpaired surrogate and NUL replaced by U+FFFD: kept, not refused."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any, depth: int = 0) -> Any:
    """A parsed payload (JSON values, a form's fields) made storable: strings and keys through
    `storable_text`; PayloadError when objects and lists nest deeper than MAX_DEPTH (a card,
    a JSON column or a log line must never recurse a thousand levels)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise PayloadError(f"JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            return [storable(item, depth + 1) for item in value]
        return {storable_text(str(k)): storable(v, depth + 1) for k, v in value.items()}
    return value


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise PayloadError(f"number {text[:20]} is out of range")
    return number


def _not_json(constant: str) -> Any:
    raise PayloadError(f"{constant} is not JSON")


def read_json(text: str) -> Any:
    """Parse JSON as a request carries it, made `storable`; PayloadError when it is malformed,
    nested deeper than MAX_DEPTH, or holds numbers JSON columns cannot (NaN, 1e400)."""
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_not_json)
    except RecursionError:
        raise PayloadError(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except PayloadError:
        raise
    except ValueError as exc:  # JSONDecodeError, an integer of more than 4300 digits
        raise PayloadError(f"malformed JSON: {exc}") from None
    return storable(value)


@dataclass(frozen=True)
class LeadInput:
    source: str
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None  # lower-case
    message: str | None = None
    service: str | None = None
    external_id: str | None = None
    telegram_id: int | None = None
    utm: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # a reply in a known thread (an e-mail's In-Reply-To): it joins this lead while the lead
    # is open, whoever's contact it is; a closed one is left and the request goes as any other
    thread_lead_id: int | None = None
    # the client can be answered from the bot (a Telegram chat, an e-mail address): the owner's
    # news of the request carries Reply
    answerable: bool = False


@dataclass(frozen=True)
class IntakeResult:
    lead_id: int
    status: LeadStatus
    duplicate_of: int | None
    created: bool


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeError(f"{key} must be a string", key)
    text = str(value).strip()
    return text or None


def parse_lead_input(raw: Mapping[str, Any], phone_region: str) -> LeadInput:
    """Check and normalise what a form or an API client sent."""
    values = {key: _text(raw, key) for key in TEXT_FIELDS}
    phone = email = None
    try:
        if values["phone"]:
            phone = normalise_phone(values["phone"], phone_region)
        if values["email"]:
            email = normalise_email(values["email"])
    except InvalidContactField as exc:
        raise IntakeError(str(exc), exc.field) from exc
    if not (phone or email or values["message"]):
        raise IntakeError("a lead needs a phone, an e-mail or a message", "phone")
    source = (values["source"] or DEFAULT_SOURCE).lower()
    if len(source) > _MAX_SOURCE:
        raise IntakeError(f"source is longer than {_MAX_SOURCE} characters", "source")
    external_id = values["external_id"]
    if external_id and len(external_id) > _MAX_EXTERNAL_ID:
        raise IntakeError(
            f"external_id is longer than {_MAX_EXTERNAL_ID} characters", "external_id"
        )
    utm = {key: value for key, value in raw.items() if key.startswith("utm_")}
    extra = {key: value for key, value in raw.items() if key not in TEXT_FIELDS and key not in utm}
    return LeadInput(
        source=source,
        name=values["name"],
        phone=phone,
        email=email,
        message=values["message"],
        service=values["service"],
        external_id=external_id,
        utm=utm,
        extra=extra,
    )
