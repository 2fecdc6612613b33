"""POST /api/v1/leads: what a web form or an API client sends, and the answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from storage.models import LeadStatus

# A form field as forms send it: text, or a number (a phone typed into a number field). Only
# the shape is checked here; bot/intake/input.py reads it (phone, e-mail, lengths, case)
FormValue = Annotated[str, Strict()] | Annotated[int, Strict()] | Annotated[float, Strict()]


class LeadRequest(BaseModel):
    """A lead needs a phone, an e-mail or a message. JSON, or the same fields as a form
    (urlencoded or multipart). Fields starting `utm_` are the campaign's tags; any other field
    is kept on the lead as an extra field."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ivan",
                    "phone": "8 900 123-45-67",
                    "message": "Need a quote",
                    "source": "landing_spring",
                    "utm_source": "vk",
                    "utm_campaign": "spring",
                }
            ]
        },
    )

    name: FormValue | None = None
    phone: FormValue | None = Field(None, description="any format; read in `phone_region`")
    email: FormValue | None = None
    message: FormValue | None = None
    source: FormValue | None = Field(
        None, description="the channel, up to 64 characters; `web_form` when left out"
    )
    service: FormValue | None = None
    external_id: FormValue | None = Field(
        None,
        description="the form's own request id (up to 128 characters): "
        "the same id from the same source is stored once",
    )
    token: FormValue | None = Field(
        None, description="the intake token, when a form builder echoes it: ignored"
    )


class LeadAccepted(BaseModel):
    """201: a new lead. 200: the same person's open lead took the request (`duplicate_of`), or
    the same `external_id` came again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "status": "new",
                    "duplicate_of": None,
                    "telegram_link": "https://t.me/leadbot?start=c-Qx8mZbK2pL0vR7nT4yW1sD5f",
                }
            ]
        }
    )

    id: int
    status: LeadStatus
    duplicate_of: int | None = Field(description="the open lead the request joined, if any")
    # follow-up sequences (issue 16): web-form clients reached in Telegram
    telegram_link: str | None = Field(
        None,
        description="a one-time https://t.me/<bot>?start=<token> for the form's thank-you "
        "page: the client who opens it is linked to this lead in Telegram; null when the bot "
        "can reach them there already, or does not know its username",
    )
