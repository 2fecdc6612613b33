"""What identifies one person in stored text, and values with it taken out (pure).

A person leaves traces in free shapes: an event's data, an outbox payload's template context, a
PBX's raw payload, a site builder's form fields. Rather than know every shape, a value is
searched for the person's name, phone (in any format: "+79001234567", "8 (900) 123-45-67"),
e-mail and Telegram id; a value that holds one is removed, and so is every value under a key
that holds free text or contact details (`text`, `comment`, `phone`, ...), whatever it says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers

# keys whose values are a person's words or contact details, in any payload: dropped whatever
# they hold (a note may name a street, not the person)
PERSONAL_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "username",
        "phone",
        "email",
        "telegram_id",
        "message",
        "text",
        "html",
        "caption",
        "comment",
        "raw",
        "contact",
    }
)
REDACTED = "***"
MIN_DIGITS = 6  # a shorter number would match any date or amount
# "Ivan Petrov" is also found as "Petrov", as a whole word; initials and two-letter names
# are not searched (they would match too much)
MIN_NAME_PART = 3
_SEPARATORS = r"[\s\-().]*"  # how people write phone numbers: "8 (900) 123-45-67"


def national_digits(phone: str) -> str | None:
    """The digits that identify a phone whatever the prefix ("+7 900..." and "8 900..." both
    hold 9001234567); None for one too short to search for."""
    try:
        digits = str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", phone)
    return digits if len(digits) >= MIN_DIGITS else None


def written_forms(phone: str) -> set[str]:
    """How leadbot itself writes a stored (E.164) phone: as stored, and as shown to people."""
    forms = {phone}
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    for style in (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    ):
        forms.add(phonenumbers.format_number(number, style))
    return forms


@dataclass(frozen=True)
class Traces:
    """One person's identifiers, as searched for in stored values."""

    phones: frozenset[str]  # national digits
    phone_forms: frozenset[str]  # as leadbot writes them (for a database's LIKE)
    emails: frozenset[str]  # lower case
    names: frozenset[str]  # lower case: full names and their longer parts
    telegram_ids: frozenset[int]

    @classmethod
    def of(
        cls,
        phones: Iterable[str | None] = (),
        emails: Iterable[str | None] = (),
        names: Iterable[str | None] = (),
        telegram_ids: Iterable[int | None] = (),
    ) -> Traces:
        words: set[str] = set()
        for name in filter(None, names):
            folded = " ".join(name.lower().split())
            if len(folded) >= MIN_NAME_PART:
                words.add(folded)
                words.update(part for part in folded.split() if len(part) >= MIN_NAME_PART)
        given = [p for p in phones if p]
        return cls(
            phones=frozenset(d for p in given if (d := national_digits(p))),
            phone_forms=frozenset(form for p in given for form in written_forms(p)),
            emails=frozenset(e.strip().lower() for e in filter(None, emails) if e.strip()),
            names=frozenset(words),
            telegram_ids=frozenset(i for i in telegram_ids if i is not None),
        )

    def __post_init__(self) -> None:
        # with the country code or trunk prefix before the digits ("+7 900...", "8 900...")
        patterns = [
            rf"(?:\+?\d{{1,3}}{_SEPARATORS})?" + _SEPARATORS.join(digits) + r"(?!\d)"
            for digits in sorted(self.phones)
        ]
        patterns += [rf"(?<!\d){i}(?!\d)" for i in sorted(self.telegram_ids)]
        # longest first: "ivan petrov" is redacted whole, not as "ivan" and "petrov"
        words = sorted({*self.emails, *self.names}, key=len, reverse=True)
        patterns += [rf"(?<!\w){re.escape(word)}(?!\w)" for word in words]
        found = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
        object.__setattr__(self, "_pattern", found)

    def without_names(self) -> Traces:
        """Only what is this person's alone (phone, e-mail, Telegram id): safe to search for
        in other people's rows, where a name alone may be someone else's."""
        return Traces(self.phones, self.phone_forms, self.emails, frozenset(), self.telegram_ids)

    def found_in(self, text: str) -> bool:
        pattern: re.Pattern[str] | None = self._pattern  # type: ignore[attr-defined]
        return pattern is not None and pattern.search(text) is not None

    def holds(self, value: Any) -> bool:
        """Whether a scalar (text, number) is one of the person's traces."""
        if isinstance(value, bool) or value is None:
            return False
        if isinstance(value, int):
            return value in self.telegram_ids or self.found_in(str(value))
        return isinstance(value, str) and self.found_in(value)

    def scrub(self, value: Any) -> Any:
        """For the person's own rows: `value` (JSON: dicts, lists, scalars) with every trace
        removed: personal keys and keys that are traces dropped, values that hold a trace made
        null."""
        if isinstance(value, dict):
            return {
                key: self.scrub(item)
                for key, item in value.items()
                if str(key).lower() not in PERSONAL_KEYS and not self.found_in(str(key))
            }
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return None if self.holds(value) else value

    def redact(self, text: str) -> str:
        """For someone else's text that mentions the person: the traces replaced by ***."""
        pattern: re.Pattern[str] | None = self._pattern  # type: ignore[attr-defined]
        return text if pattern is None else pattern.sub(REDACTED, text)

    def redact_json(self, value: Any) -> Any:
        """`redact` through a JSON value (keys too); the person's Telegram id made null."""
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_json(item) for item in value]
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, int) and not isinstance(value, bool) and self.holds(value):
            return None
        return value

    def like_patterns(self) -> list[str]:
        """Substrings a database can look for (LIKE, case-insensitive) to find the rows worth
        checking; JSON is stored with non-ASCII letters escaped, so those forms are included."""
        found: set[str] = set(self.emails)
        found.update(self.phones)
        found.update(self.phone_forms)
        found.update(str(i) for i in self.telegram_ids)
        for name in self.names:
            for variant in {name, name.capitalize(), name.title(), name.upper()}:
                found.add(variant)
                found.add(json.dumps(variant)[1:-1])
        return sorted(found)
