"""GET /api/v1/leads and /api/v1/leads/{id}: the filters and the leads as answered."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from bot.common.money import amount_text
from bot.leads.cursor import MAX_CURSOR, Sort
from handlers.web.schemas.query import Moment, TelegramId, WholeNumber
from storage.models import LeadStatus

PAGE_DEFAULT, PAGE_MAX = 100, 500

Money = Annotated[
    Decimal,
    PlainSerializer(amount_text, return_type=str),
    Field(description='the deal\'s amount with two places, as text: "54700.50"'),
]

_LEAD = {
    "id": 7,
    "status": "in_work",
    "source": "web_form",
    "external_id": None,
    "name": "Ivan",
    "phone": "+79001234567",
    "email": None,
    "message": "Need a quote",
    "service": None,
    "amount": None,
    "utm": {"utm_source": "vk"},
    "extra": {},
    "is_repeat": False,
    "owner": {"telegram_id": 123456789, "name": "Anna"},
    "close_reason": None,
    "close_comment": None,
    "possible_duplicate_of": None,
    "merged_into": None,
    "created_at": "2026-01-05T09:00:00Z",
    "updated_at": "2026-01-05T09:04:12Z",
    "taken_at": "2026-01-05T09:04:12Z",
    "contacted_at": None,
    "closed_at": None,
    "version": 2,
    "score": 72,
    "score_factors": [
        {"factor": "source", "value": "tilda", "ratio": 1.8, "points": None},
        {"factor": "hour", "value": "evening", "ratio": 1.3, "points": None},
        {"factor": "email", "value": "no", "ratio": 0.6, "points": None},
    ],
}
_EVENTS = [
    {"id": 1, "kind": "created", "at": "2026-01-05T09:00:00Z", "actor": None, "data": {}},
    {
        "id": 2,
        "kind": "taken",
        "at": "2026-01-05T09:04:12Z",
        "actor": {"telegram_id": 123456789, "name": "Anna"},
        "data": {},
    },
]


class LeadsQuery(BaseModel):
    """Every filter given narrows the list (all at once). Pages are in `sort` order, oldest
    first; pass `next_cursor` back as `cursor` (with the same filters and sort) for the next
    page, while `has_more` is true."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    status: list[LeadStatus] | None = Field(
        None, description="one or more statuses (repeat the parameter)"
    )
    source: str | None = Field(None, min_length=1, max_length=64, description="as stored")
    owner: TelegramId | None = Field(None, description="the owner's Telegram id")
    created_since: Moment | None = Field(None, description="created at or after")
    updated_since: Moment | None = Field(None, description="last changed at or after")
    sort: Sort = Field(
        Sort.ID,
        description="`id`: the order leads arrived in (each lead once); `updated_at`: by last "
        "change, so a lead changed after its page was read comes again at the end",
    )
    limit: WholeNumber = Field(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="leads a page")
    cursor: str | None = Field(
        None, min_length=1, max_length=MAX_CURSOR, description="`next_cursor` of the last page"
    )


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    telegram_id: int
    name: str


class ScoreFactorOut(BaseModel):
    """One reason for the score: a factor's value and how much it moved it."""

    model_config = ConfigDict(from_attributes=True)

    factor: str = Field(
        description="source, utm_source, service, channel, hour, weekday, phone, email, "
        "repeat, length (the rule score: also keyword)"
    )
    value: str = Field(description='the lead\'s value of it, as counted: "tilda", "evening", "no"')
    ratio: float | None = Field(
        description="the model's likelihood ratio: above 1 raises the chance, below lowers it; "
        "null for the rule score"
    )
    points: int | None = Field(
        description="the rule score's points (before `[scoring] min_closed` leads are closed); "
        "null for the model"
    )


class LeadOut(BaseModel):
    """A lead as it is now. Times are UTC (RFC 3339); `version` grows with every change."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_LEAD]})

    id: int
    status: LeadStatus
    source: str
    external_id: str | None
    name: str | None
    phone: str | None = Field(description="E.164")
    email: str | None
    message: str | None
    service: str | None
    amount: Money | None
    utm: dict[str, Any] = Field(description="the campaign's tags as the form sent them")
    extra: dict[str, Any] = Field(description="the form's other fields")
    is_repeat: bool = Field(description="the client had a lead before this one")
    owner: PersonOut | None
    close_reason: str | None = Field(description="junk or refusal reason code")
    close_comment: str | None
    possible_duplicate_of: int | None
    merged_into: int | None
    created_at: datetime
    updated_at: datetime = Field(description="the last change a person or the system made")
    taken_at: datetime | None
    contacted_at: datetime | None = Field(description="when the client was first reached")
    closed_at: datetime | None
    version: int
    score: int | None = Field(
        description='how likely the lead is to buy, 0-100 % (README, "Lead score"); null for '
        "a closed lead"
    )
    score_factors: list[ScoreFactorOut] = Field(
        description="the (at most three) reasons that moved the score most, strongest first"
    )


class LeadPageAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"leads": [_LEAD], "has_more": True, "next_cursor": "eyJzIjoiaWQiLCJpIjo3fQ"}
            ]
        }
    )

    leads: list[LeadOut]
    has_more: bool = Field(description="more leads follow now: ask with `cursor=next_cursor`")
    next_cursor: str | None = Field(
        description="where this page ended; kept, it also reads what came later (null only for "
        "an empty first page)"
    )


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="created, taken, closed, note, call, reminded...")
    at: datetime
    actor: PersonOut | None = Field(description="the staff member; null for the system")
    data: dict[str, Any]


class LeadDetailAnswer(LeadOut):
    """The lead and its history, oldest first (the newest 1,000 events)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{**_LEAD, "events": _EVENTS, "events_omitted": 0}]},
    )

    events: list[EventOut]
    events_omitted: int = Field(description="older events left out of `events`")
