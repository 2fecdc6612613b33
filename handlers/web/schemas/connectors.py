"""The site builders' hooks: payloads as each builder sends them, and the answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from storage.models import LeadStatus


class BuilderForm(RootModel[dict[str, Any]]):
    """A builder's submission as it sends it (form fields or a JSON object): which fields are
    the name, phone, e-mail, message and service is set per builder in `[connectors.*]`;
    the rest is kept on the lead."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"Name": "Ivan", "Phone": "+7 900 123-45-67", "tranid": "123:456"}]
        }
    )


class ConnectorAnswer(BaseModel):
    """Always 200 on success (Elementor counts anything else as a failure)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": 7, "status": "new", "duplicate_of": None, "created": True}]
        }
    )

    id: int
    status: LeadStatus
    duplicate_of: int | None
    created: bool = Field(description="false when the request joined a lead or came again")


class VkCallback(BaseModel):
    """VK's Callback API event; `lead_forms_new` makes a lead, `confirmation` is answered with
    VK_CONFIRMATION_CODE, anything else with "ok"."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "lead_forms_new",
                    "group_id": 1,
                    "event_id": "e1",
                    "secret": "<VK_SECRET>",
                    "object": {
                        "lead_id": 1,
                        "answers": [{"key": "phone_number", "answer": "+79001234567"}],
                    },
                }
            ]
        },
    )

    type: Any = Field(None, description="the event's type")
    secret: Any = Field(None, description="VK_SECRET, the server's Secret key in VK")
    group_id: Any = None
    event_id: Any = Field(None, description="a repeated event id is stored once")
    object: Any = Field(None, description="the lead form's answers")


class BitrixLeadAdd(BaseModel):
    """Bitrix24's crm.lead.add: `fields` as JSON, or as form fields `fields[NAME]`,
    `fields[PHONE][0][VALUE]`..."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "fields": {
                        "NAME": "Ivan",
                        "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}],
                        "COMMENTS": "Need a quote",
                    }
                }
            ]
        },
    )

    fields: Any = Field(None, description="NAME, LAST_NAME, PHONE, EMAIL, COMMENTS, SOURCE_ID...")


class BitrixAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"result": 7}]})

    result: int = Field(description="the lead's id")


class BitrixPath(BaseModel):
    user_id: str = Field(description="ignored (Bitrix24's user id)")
    token: str = Field(description="INTAKE_TOKEN")
