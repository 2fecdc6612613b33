"""Query parameters as typed values: the checks a parameter's text must pass before pydantic
reads it, so that what the document says (an integer, an RFC 3339 time) is what is taken —
pydantic alone would also read "1.0", "1_000" or unix seconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

TELEGRAM_ID_MAX = 2**63 - 1  # BIGINT: a larger number is no Telegram id
_WHOLE = re.compile(r"-?[0-9]{1,40}", re.ASCII)  # longer: beyond any range checked
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def _whole_number(value: Any) -> Any:
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise PydanticCustomError("whole_number", "must be a whole number")
    return value


def _moment_text(value: Any) -> Any:
    if isinstance(value, str) and not _MOMENT.fullmatch(value):
        raise PydanticCustomError(
            "moment", "must be an RFC 3339 time with a zone, such as 2026-01-05T09:00:00Z"
        )
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC time
        raise PydanticCustomError("moment_range", "is out of range") from None


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
TelegramId = Annotated[
    int, Ge(-TELEGRAM_ID_MAX), Le(TELEGRAM_ID_MAX), BeforeValidator(_whole_number)
]
Moment = Annotated[AwareDatetime, BeforeValidator(_moment_text), AfterValidator(_in_utc)]
