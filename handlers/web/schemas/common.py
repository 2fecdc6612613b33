"""What every route shares: the refusal's shape, text answers, and the wording of a model's
validation error in that shape."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ErrorAnswer(BaseModel):
    """Every refusal: what is wrong and which field (null when it is not one field). Some
    routes add to it: `index` (which call event of a list), `error_description` (the
    Bitrix24-shaped hook, as Bitrix24 answers)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"error": "cannot read phone number", "field": "phone"}]},
    )

    error: str = Field(description="what is wrong, in words")
    field: str | None = Field(description="the field to fix; null when it is not one field")


class HealthAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str = Field(description='"ok", or "database unavailable" with 503')


_WHAT = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "missing": "is required",
    "extra_forbidden": "is not a parameter of this request",
    "timezone_aware": "needs a time zone (e.g. Z or +03:00)",
    "datetime_type": "must be an ISO 8601 time, such as 2026-01-05T09:00:00Z",
    "datetime_parsing": "must be an ISO 8601 time, such as 2026-01-05T09:00:00Z",
    "datetime_from_date_parsing": "must be an ISO 8601 time, such as 2026-01-05T09:00:00Z",
    "date_type": "is not a date: write YYYY-MM-DD",
    "date_parsing": "is not a date: write YYYY-MM-DD",
    "date_from_datetime_parsing": "is not a date: write YYYY-MM-DD",
}


def _reason(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _WHAT:
        return _WHAT[kind]
    if kind in ("literal_error", "enum"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of: {', '.join(allowed)}"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else "is too short"
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} items"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(error["msg"])[:1].lower() + str(error["msg"])[1:]  # a custom error's words


def refusal(exc: ValidationError) -> tuple[str, str | None]:
    """The first error of a model's validation as (message, field): "phone must be a string",
    "status must be one of: new, in_work", "limit must be at most 500"."""
    first = exc.errors(include_url=False)[0]
    loc = first.get("loc") or ()
    field = str(loc[0]) if loc and isinstance(loc[0], str) else None
    reason = _reason(first)
    return (f"{field} {reason}" if field else reason), field
