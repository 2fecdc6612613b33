"""Contacts: one person behind many leads, recognised by phone, e-mail or Telegram id."""

from __future__ import annotations

import re

import phonenumbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidContactField(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form: `8 (900) 123-45-67` and `+7 900 123 4567` are the same person in RU."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContactField("phone", f"cannot read phone number {raw[:40]!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidContactField("phone", f"{raw[:40]!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidContactField("email", f"{raw[:40]!r} is not an e-mail address")
    return email


def display_phone(e164: str) -> str:
    """How a phone is shown to a manager: international format, easy to tap and dial."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
