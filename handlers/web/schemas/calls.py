"""POST /api/v1/calls and the PBX hooks: call events and what storing them did."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, Strict

from bot.telephony.calls import CallStatus, Direction

MAX_EVENTS = 100  # call events in one request

Text = Annotated[str, Strict()] | Annotated[int, Strict()]


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class CallEventRequest(BaseModel):
    """One call; bot/telephony/calls.py reads the phones, the time and the duration."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "call_id": "c-1",
                    "direction": "in",
                    "status": "missed",
                    "from": "8 900 123-45-67",
                    "to": "+7 495 000-00-00",
                    "started_at": "2026-01-05T12:02:00+03:00",
                    "duration": 0,
                    "staff": "101",
                }
            ]
        },
    )

    call_id: Text | None = Field(description="the PBX's id of the call, up to 128 characters")
    direction: Annotated[Direction, BeforeValidator(_stripped)]
    status: Annotated[CallStatus, BeforeValidator(_stripped)] = Field(
        description="an incoming missed, busy or no_answer call wants calling back"
    )
    from_: Text | None = Field(None, alias="from", description="a phone in any format")
    to: Text | None = Field(None, description="a phone, or our extension")
    started_at: Annotated[str, Strict()] | Annotated[int, Strict()] | float | None = Field(
        description="ISO 8601 with a time zone, or unix seconds"
    )
    duration: Annotated[int, Strict()] | float | Annotated[str, Strict()] | None = Field(
        None, description="seconds; 0 or left out when nobody answered"
    )
    staff: Text | None = Field(
        None, description="who took or made the call: an extension or a Telegram id"
    )


class CallEventsRequest(RootModel[CallEventRequest | list[CallEventRequest]]):
    """One call event, or a list of 1 to 100 (checked whole before any is stored)."""

    root: (
        CallEventRequest
        | Annotated[list[CallEventRequest], Field(min_length=1, max_length=MAX_EVENTS)]
    )


class CallAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "call_id": "c-1",
                    "status": "missed",
                    "recorded": True,
                    "duplicate": False,
                    "lead_id": 1,
                    "task_id": 1,
                    "lead_created": True,
                    "task_completed": False,
                }
            ]
        }
    )

    call_id: str
    status: CallStatus
    recorded: bool = Field(description="false when the same (call_id, status) came before")
    duplicate: bool
    lead_id: int | None
    task_id: int | None = Field(description="the call-back task the call opened or counts on")
    lead_created: bool
    task_completed: bool = Field(description="an answered call ended a call-back task")


class CallAnswers(RootModel[CallAnswer | list[CallAnswer]]):
    """A call event's answer, or a list of them in the order sent."""


class HookAnswer(BaseModel):
    """A PBX hook's answer: `recorded` false for a notification only acknowledged, else what
    storing the call did (the fields of a call answer)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"ok": True, "recorded": False}]}
    )

    ok: bool
    recorded: bool | None = None


class ZadarmaNotification(BaseModel):
    """Zadarma's PBX call notification (form fields), signed in the `Signature` header."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "event": "NOTIFY_END",
                    "call_start": "2026-01-05 12:02:00",
                    "pbx_call_id": "in_1",
                    "caller_id": "79001234567",
                    "called_did": "74950000000",
                    "disposition": "cancel",
                    "duration": "0",
                }
            ]
        },
    )

    event: str | None = None
    call_start: str | None = None
    pbx_call_id: str | None = None
    caller_id: str | None = None
    called_did: str | None = None
    internal: str | None = None
    destination: str | None = None
    disposition: str | None = None
    duration: str | None = None
    call_id_with_rec: str | None = Field(
        None, description="NOTIFY_RECORD: the recording's id (with pbx_call_id, the call's)"
    )
    zd_echo: str | None = Field(None, description="the URL check: echoed back as text")


class MangoNotification(BaseModel):
    """Mango Office's event (form fields): the event as JSON, signed with the key and salt."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"vpbx_api_key": "key", "sign": "<sha256 hex>", "json": "{}"}]
        },
    )

    vpbx_api_key: str | None = None
    sign: str | None = Field(None, description="sha256(vpbx_api_key + json + vpbx_api_salt)")
    json_: str | None = Field(None, alias="json", description="the event, a JSON object")


class MangoEventPath(BaseModel):
    kind: str = Field(description="the event Mango Office names in the address it posts to")
