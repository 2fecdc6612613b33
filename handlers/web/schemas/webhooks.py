"""What leadbot POSTs to a `[[webhooks]]` receiver: the event's envelope, as OpenAPI 3.1's
`webhooks` section of /api/v1/openapi.json describes it (a receiver can generate its types
from it). The bodies are built in bot/common/webhooks.py; the end-to-end test validates every
body a receiver got against `WebhookEnvelope`, so the two cannot drift (`extra="forbid"`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.common.hook_events import HookEvent
from storage.models import LeadStatus

_PERSON = {"telegram_id": 1001, "name": "Anna"}
_EXAMPLE = {
    "id": "5efaeaf3-1ca7-4859-9169-b42bdab1fe78",
    "event": "lead.taken",
    "occurred_at": "2026-01-05T09:03:00+00:00",
    "lead": {
        "id": 1,
        "status": "in_work",
        "source": "tilda",
        "external_id": None,
        "name": "Ivan Petrov",
        "phone": "+79001234567",
        "email": "ivan@example.com",
        "service": None,
        "message": "Need a quote",
        "amount": None,
        "currency": "₽",
        "owner": _PERSON,
        "contact_id": 1,
        "utm": {"utm_source": "yandex"},
        "is_repeat": False,
        "close_reason": None,
        "created_at": "2026-01-05T09:00:00+00:00",
        "updated_at": "2026-01-05T09:03:00+00:00",
        "closed_at": None,
        "version": 2,
    },
    "actor": _PERSON,
    "data": {},
}


# what each event means, for the document (README: the events' table, with their `data`)
EVENT_SUMMARIES = {
    HookEvent.LEAD_CREATED: "A lead came in (a form, a call, a client's first message, the API)",
    HookEvent.LEAD_TAKEN: "A manager took a new lead",
    HookEvent.LEAD_STATUS_CHANGED: "Any change of status; data: from, to",
    HookEvent.LEAD_REASSIGNED: "Another owner, or none (back to the pool); data: from_owner, "
    "to_owner",
    HookEvent.LEAD_CALL_BACK_SCHEDULED: "A call-back was set or moved; data: due_at",
    HookEvent.LEAD_QUALIFIED: "Deal fields were filled in; data: fields",
    HookEvent.LEAD_CONVERTED: "A deal; data: fields, amount",
    HookEvent.LEAD_CLOSED: "Closed without a deal (refused, junk, stale, merged); data: status, "
    "reason, comment",
    HookEvent.LEAD_REOPENED: "A supervisor brought a closed lead back; data: from",
    HookEvent.MESSAGE_RECEIVED: "The client wrote again while their lead is open",
    HookEvent.CALL_MISSED: "An incoming call nobody answered; data: the call",
}


class HookPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telegram_id: int
    name: str


class HookLead(BaseModel):
    """The lead as the change left it. Times are UTC (ISO 8601); `version` grows with every
    change, so a receiver keeps the highest it has seen."""

    model_config = ConfigDict(extra="forbid")

    id: int
    status: LeadStatus
    source: str
    external_id: str | None
    name: str | None
    phone: str | None = Field(description="E.164")
    email: str | None
    service: str | None
    message: str | None
    amount: str | None = Field(
        description='two places, as text: "15000.00"', pattern=r"^-?\d+\.\d\d$"
    )
    currency: str = Field(description="the currency sign of the config's `currency`")
    owner: HookPerson | None
    contact_id: int | None
    utm: dict[str, Any]
    is_repeat: bool = Field(description="the client had a lead before this one")
    close_reason: str | None = Field(description="junk or refusal reason code")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class WebhookEnvelope(BaseModel):
    """One event. Headers: `X-Leadbot-Event`, `X-Leadbot-Timestamp` (Unix seconds of this
    attempt), `X-Leadbot-Signature` (`sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>`
    with the webhook's secret), `Idempotency-Key` (`id`: the same on every retry)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    id: str = Field(description="the event's id (a UUID), also the Idempotency-Key")
    event: HookEvent
    occurred_at: datetime
    lead: HookLead | None = Field(description="null only for an event about no lead")
    actor: HookPerson | None = Field(
        description="who made the change; null: the system or the client"
    )
    data: dict[str, Any] = Field(description="what the event adds (README: the events' table)")
