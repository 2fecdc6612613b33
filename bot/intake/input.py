"""Intake requests: what a form, a call or a message must hold to become a lead.

Storing them is bot/intake/store.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.common.contacts import InvalidContactField, normalise_email, normalise_phone
from storage.models import LeadStatus

TEXT_FIELDS = ("name", "phone", "email", "message", "source", "service", "external_id")
DEFAULT_SOURCE = "web_form"
_MAX_SOURCE = 64
_MAX_EXTERNAL_ID = 128


class IntakeError(ValueError):
    """The request cannot become a lead; `field` names what to fix."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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
