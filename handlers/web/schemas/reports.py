"""GET /api/v1/reports/summary: the period and filters asked for, and the report's numbers
(bot/reports/summary.py `summary_json`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from handlers.web.schemas.query import TelegramId

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
MAX_SOURCE = 64  # Lead.source's length: a longer one matches nothing anyway


def _day_text(value: Any) -> Any:
    # date alone also reads "20261201", week dates and unix seconds: one form only
    if isinstance(value, str) and not ISO_DATE.fullmatch(value):
        raise PydanticCustomError("day", "is not a date: write YYYY-MM-DD")
    return value


def _day_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:  # the UTC bounds of year 1 or 9999 do not exist
        raise PydanticCustomError("day_range", f"is out of range ({FIRST_DAY}..{LAST_DAY})")
    return day


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_day_range)]


class SummaryQuery(BaseModel):
    """Local dates in `timezone`, both included; `from` no later than `to`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: Day = Field(alias="from")
    to: Day
    source: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        None, max_length=MAX_SOURCE, description="one source's leads (empty: all)"
    )
    manager: Annotated[TelegramId | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="the leads this Telegram id took first or owns now (empty: all)"
    )


Seconds = float | None  # whole seconds come as integers


class Period(BaseModel):
    from_: date = Field(alias="from")
    to: date
    timezone: str


class FunnelOut(BaseModel):
    received: int
    taken: int
    contacted: int
    qualified: int
    converted: int
    refused: int
    junk: int
    open: int
    amount: str | None = Field(description='converted deals\' sum, "54700.50"')
    convert_p50_s: Seconds


class SourceOut(BaseModel):
    source: str
    received: int
    taken: int
    converted: int
    refused: int
    junk: int
    amount: str | None
    spend: str | None
    cost_per_lead: str | None
    cost_per_deal: str | None


class ManagerOut(BaseModel):
    telegram_id: int
    name: str
    taken: int
    converted: int
    refused: int
    junk: int
    amount: str | None
    take_p50_s: Seconds
    take_p90_s: Seconds
    take_work_p50_s: Seconds
    first_contact_p50_s: Seconds
    contacted: int
    first_contact_work_p50_s: Seconds
    reminders: int
    escalations: int
    missed_calls_not_returned: int
    overdue_now: int


class RepeatOut(BaseModel):
    new: int
    repeat: int


class MissedCallsOut(BaseModel):
    count: int
    called_back: int
    called_back_within_limit: int
    callback_p50_s: Seconds


class ArrivalsOut(BaseModel):
    by_hour: list[int] = Field(min_length=24, max_length=24, description="local hours 0-23")
    by_weekday: list[int] = Field(min_length=7, max_length=7, description="Monday first")


class ClientMessagesOut(BaseModel):
    count: int
    answered: int
    answered_within_limit: int
    answer_p50_s: Seconds


class AfterHoursOut(BaseModel):
    arrived: int
    taken: int
    take_p50_s: Seconds
    take_p90_s: Seconds


class CampaignOut(BaseModel):
    utm_source: str | None
    utm_campaign: str | None
    tag: str | None = Field(description="the bot's deep-link tag a client came by")
    received: int
    junk: int
    converted: int
    amount: str


class SummaryAnswer(BaseModel):
    """The report's numbers for the leads created in the period (README: Reading the numbers
    from another system)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": {
                        "from": "2026-12-01",
                        "to": "2026-12-07",
                        "timezone": "Europe/Moscow",
                    },
                    "funnel": {
                        "received": 3,
                        "taken": 2,
                        "contacted": 2,
                        "qualified": 1,
                        "converted": 1,
                        "refused": 0,
                        "junk": 1,
                        "open": 1,
                        "amount": "54700.50",
                        "convert_p50_s": 5400,
                    },
                    "by_source": [],
                    "by_manager": [],
                    "repeat": {"new": 3, "repeat": 0},
                    "junk_reasons": {"spam": 1},
                    "refusal_reasons": {},
                    "unmet_demand": {},
                    "missed_calls": {
                        "count": 0,
                        "called_back": 0,
                        "called_back_within_limit": 0,
                        "callback_p50_s": None,
                    },
                    "arrivals": {"by_hour": [0] * 10 + [3] + [0] * 13, "by_weekday": [3] + [0] * 6},
                    "client_messages": {
                        "count": 0,
                        "answered": 0,
                        "answered_within_limit": 0,
                        "answer_p50_s": None,
                    },
                    "after_hours": {
                        "arrived": 0,
                        "taken": 0,
                        "take_p50_s": None,
                        "take_p90_s": None,
                    },
                    "by_campaign": [],
                }
            ]
        }
    )

    period: Period
    funnel: FunnelOut
    by_source: list[SourceOut]
    by_manager: list[ManagerOut]
    repeat: RepeatOut
    junk_reasons: dict[str, int]
    refusal_reasons: dict[str, int]
    unmet_demand: dict[str, int]
    missed_calls: MissedCallsOut
    arrivals: ArrivalsOut
    client_messages: ClientMessagesOut
    after_hours: AfterHoursOut
    by_campaign: list[CampaignOut]
