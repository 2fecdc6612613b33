"""Settings: secrets and addresses from the environment, business rules from a TOML file."""

from __future__ import annotations

import enum
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.common.durations import parse_duration
from bot.common.hook_events import ALL_EVENTS, HookEvent

Locale = Literal["ru", "en"]
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
# a reason code rides in a button's callback data (64 bytes in all, with the lead id)
REASON_CODE_MAX = 24
_REASON_CODE = re.compile(rf"[a-z0-9_]{{1,{REASON_CODE_MAX}}}")

log = logging.getLogger("leadbot.config")


def _read_duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str | int | float) else value


def _read_duration_or_off(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("", "off"):
        return None  # TOML has no null: "off" switches the setting off
    return _read_duration(value)


_NOT_POSITIVE = "must be a duration longer than zero, such as 15m"


def _read_positive_duration(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("", "off"):
        raise ValueError(_NOT_POSITIVE)  # such a setting cannot be switched off
    return _read_duration(value)


def _longer_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta():
        raise ValueError(_NOT_POSITIVE)
    return value


# A length of time as people write it in the config: 90s, 15m, 2h, 1d, 1h30m (a bare number
# is seconds).
Duration = Annotated[timedelta, BeforeValidator(_read_duration)]
# The same, or "off".
OptionalDuration = Annotated[timedelta | None, BeforeValidator(_read_duration_or_off)]
# A duration that cannot be switched off or be zero (a Snooze needs a time to come back at).
PositiveDuration = Annotated[
    timedelta, BeforeValidator(_read_positive_duration), AfterValidator(_longer_than_zero)
]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///./leadbot.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    intake_token: SecretStr | None = None
    # reads the reports API (GET /api/v1/reports/...): a secret apart from INTAKE_TOKEN, which
    # sits in web forms' pages for anyone to read
    api_token: SecretStr | None = None
    # reads GET /metrics when set (Authorization: Bearer); unset, /metrics is open to whoever
    # reaches the HTTP port
    metrics_token: SecretStr | None = None
    vk_secret: SecretStr | None = None  # VK Callback API's "secret" (/hooks/vk)
    vk_confirmation_code: str | None = None  # what /hooks/vk answers VK's `confirmation`
    zadarma_api_secret: SecretStr | None = None  # checks Zadarma's Signature (/hooks/zadarma)
    mango_api_key: SecretStr | None = None  # Mango Office VPBX key and salt (/hooks/mango/...)
    mango_api_salt: SecretStr | None = None
    # the office PBX's API, for click-to-call and call recordings (the stand-ins in tests
    # are local servers: hence configurable bases)
    zadarma_api_key: SecretStr | None = None
    zadarma_api_base: str = "https://api.zadarma.com"
    mango_api_base: str = "https://app.mango-office.ru/vpbx"
    # e-mail as a channel: intake is on when IMAP_HOST is set; replies go out by SMTP
    imap_host: str | None = None
    imap_port: int | None = None  # unset: 993 with IMAP_TLS, 143 without
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    imap_tls: bool = True
    smtp_host: str | None = None
    smtp_port: int | None = None  # unset: 465 for ssl, 587 for starttls, 25 for none
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_from: str | None = None  # the team address the replies come from
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    leads_chat_id: int | None = None
    # the bot's @username for the t.me links it hands out; unset: asked of Telegram (getMe)
    bot_username: str | None = None
    redis_url: str | None = None
    leadbot_config: Path | None = None
    log_level: str = "INFO"
    # "json": one JSON object per log line (time, level, logger, message, extra fields)
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _reading_secret_is_its_own(self) -> Settings:
        # the intake token is in every web form's page: were it the API's too, anyone who
        # reads the page could read the reports
        api, intake = self.api_token, self.intake_token
        if api is not None and intake is not None:
            if api.get_secret_value() == intake.get_secret_value():
                raise ValueError("API_TOKEN must differ from INTAKE_TOKEN (that one is public)")
        metrics = self.metrics_token
        if metrics is not None and intake is not None:
            if metrics.get_secret_value() == intake.get_secret_value():
                raise ValueError("METRICS_TOKEN must differ from INTAKE_TOKEN (that one is public)")
        return self

    def secret_values(self) -> list[str]:
        """Every secret the settings hold, for the logs to redact: the tokens and keys, and
        the passwords in DATABASE_URL and REDIS_URL."""
        values = [
            value.get_secret_value()
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretStr)
        ]
        for url in (self.database_url, self.redis_url):
            password = urlsplit(url).password if url else None
            if password:
                values += [password, unquote(password)]
        return values

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @field_validator("bot_token", mode="after")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN.match(value.get_secret_value()):
            raise ValueError("BOT_TOKEN is malformed: expected 123456789:AA... from BotFather")
        return value

    @field_validator(
        "leads_chat_id",
        "leadbot_config",
        "telegram_webhook_url",
        "redis_url",
        "vk_confirmation_code",
        "bot_username",
        "imap_host",
        "imap_port",
        "imap_user",
        "smtp_host",
        "smtp_port",
        "smtp_user",
        "smtp_from",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator(
        "intake_token",
        "api_token",
        "metrics_token",
        "telegram_webhook_secret",
        "bot_token",
        "vk_secret",
        "zadarma_api_secret",
        "mango_api_key",
        "mango_api_salt",
        "zadarma_api_key",
        "imap_password",
        "smtp_password",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def require_bot_token(self) -> str:
        if self.bot_token is None:
            raise ConfigError("BOT_TOKEN is not set: put the token from @BotFather in .env")
        return self.bot_token.get_secret_value()


class Reason(BaseModel):
    code: str
    ru: str
    en: str
    asks_text: bool = False

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.ru

    @field_validator("code")
    @classmethod
    def _fits_a_button(cls, value: str) -> str:
        if not _REASON_CODE.fullmatch(value):
            raise ValueError(
                f"a reason code is 1 to {REASON_CODE_MAX} of a-z, 0-9 and _ "
                f"(it travels in a button), not {value[:40]!r}"
            )
        return value


class FieldKind(enum.StrEnum):
    TEXT = "text"
    PHONE = "phone"
    EMAIL = "email"
    AMOUNT = "amount"


LEAD_COLUMNS = ("name", "phone", "email", "service", "amount")


class DealField(BaseModel):
    """A field the Qualify/Convert dialogue asks for. `field` is a lead column (name, phone,
    email, service, amount) or any other key, kept in the lead's `extra`."""

    field: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    max_length: int = Field(default=200, ge=1, le=1000)
    ru: str
    en: str

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.ru

    @model_validator(mode="after")
    def _column_kinds(self) -> DealField:
        fixed = {"phone": FieldKind.PHONE, "email": FieldKind.EMAIL, "amount": FieldKind.AMOUNT}
        if self.field in fixed and self.kind is not fixed[self.field]:
            raise ValueError(f"deal field {self.field!r} must have kind {fixed[self.field]!r}")
        return self


_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


class WorkingHours(BaseModel):
    """When the team works, in `timezone`: `days = ["mon", ..., "fri"]`, `opens`, `closes`."""

    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    opens: time = time(9)
    closes: time = time(19)

    @field_validator("days", mode="before")
    @classmethod
    def _day_names(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and all(isinstance(day, str) for day in value):
            try:
                return frozenset(_DAYS[day.lower()[:3]] for day in value)
            except KeyError as exc:
                raise ValueError(f"working_hours.days: unknown day {exc}") from exc
        return value

    @model_validator(mode="after")
    def _sensible(self) -> WorkingHours:
        if not self.days or self.opens >= self.closes:
            raise ValueError("working_hours: name at least one day, and open before closing")
        return self


class ClientChat(BaseModel):
    # more messages than this in a minute from one client are not passed on (flood)
    max_per_minute: int = Field(default=20, ge=1)


class TelegramLimits(BaseModel):
    global_per_second: float = 30
    per_chat_per_second: float = 1
    per_chat_burst: int = 3
    per_group_per_minute: float = 20
    retry_base: PositiveDuration = timedelta(seconds=1)
    retry_max: PositiveDuration = timedelta(minutes=5)
    claim_lease: PositiveDuration = timedelta(seconds=30)
    call_retry_within: PositiveDuration = timedelta(seconds=10)


Policy = Literal["claim", "round_robin", "least_loaded"]


class RoutingRule(BaseModel):
    """Leads matching every condition given go by this rule's policy, to managers with its
    skill. The first matching rule wins; a lead no rule matches goes by the default policy."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    source: str | None = None
    service: str | None = None  # compared case-insensitively
    field: str | None = None  # a lead field (extra fields too) that must equal `equals`
    equals: str | None = None
    min_amount: Decimal | None = None  # amount ≥ this
    min_score: int | None = Field(default=None, ge=0, le=100)  # lead score ≥ this (issue 16)
    policy: Policy | None = None
    skill: str | None = None

    @model_validator(mode="after")
    def _field_needs_value(self) -> RoutingRule:
        if (self.field is None) != (self.equals is None):
            raise ValueError(f"routing rule {self.name!r}: `field` and `equals` go together")
        return self


class Routing(BaseModel):
    policy: Policy = "claim"
    # a returning client goes to the manager who served them last, if on duty
    sticky: bool = True
    # an offer to one manager (round robin, least loaded, sticky) not taken in this time
    # passes to the next manager in turn
    offer_timeout: PositiveDuration = timedelta(minutes=10)
    rules: list[RoutingRule] = []


class IntakeLimits(BaseModel):
    max_body_bytes: int = 65536
    max_batch: int = 256


class FieldAliases(BaseModel):
    """Form field names (compared case-insensitively) read as each lead field; `name` and
    `last_name` are joined. A field no alias names is kept in the lead's extra fields."""

    name: list[str] = []
    last_name: list[str] = []
    phone: list[str] = []
    email: list[str] = []
    message: list[str] = []
    service: list[str] = []


class Connectors(BaseModel):
    """Site builders' own webhooks (/hooks/...): how their fields map onto a lead."""

    # the payload as sent is kept on the lead (extra["raw"]), cut to this many bytes
    raw_max_bytes: int = Field(default=8192, ge=0, le=65536)
    tilda: FieldAliases = FieldAliases()
    cf7: FieldAliases = FieldAliases()
    elementor: FieldAliases = FieldAliases()
    vk: FieldAliases = FieldAliases()


class Dialogues(BaseModel):
    abandon_after: PositiveDuration = timedelta(minutes=30)


class AlertSteps(BaseModel):
    """One kind of time limit: after `remind` the person who should act is reminded, after
    `escalate` the supervisors are; both counted from when the limit starts. None: no step."""

    remind: OptionalDuration = None
    escalate: OptionalDuration = None

    @model_validator(mode="after")
    def _in_order(self) -> AlertSteps:
        if self.remind is not None and self.escalate is not None and self.escalate < self.remind:
            raise ValueError("sla: `escalate` must not come before `remind`")
        return self


class AlertKind(enum.StrEnum):
    """What a time limit is about; Lead.alert_* carries the first two, Task.alert_* the rest
    (a task's kind names its limit)."""

    NOT_TAKEN = "not_taken"  # a new lead nobody took (starts when it arrives)
    NO_CONTACT = "no_contact"  # taken, but no contact made (starts when taken)
    CALL_BACK = "callback"  # a scheduled call-back (starts at its time)
    ANSWER = "answer"  # a client's message with no answer (starts when it arrives)
    MISSED_CALL = "missed_call"  # a missed call not returned (starts with the call)


class Sla(BaseModel):
    """Time limits, reminders and escalations (bot/sla/deadlines.py, the scheduler sweep)."""

    # count limits in working time only: a lead arriving at 23:00 is due after opening
    working_time_only: bool = True
    # send reminders at night (outside working hours) too
    ping_at_night: bool = False
    not_taken: AlertSteps = AlertSteps(remind=timedelta(minutes=10), escalate=timedelta(minutes=30))
    no_contact: AlertSteps = AlertSteps(remind=timedelta(hours=2))
    callback: AlertSteps = AlertSteps(remind=timedelta(0), escalate=timedelta(minutes=30))
    answer: AlertSteps = AlertSteps(remind=timedelta(minutes=10), escalate=timedelta(minutes=30))
    missed_call: AlertSteps = AlertSteps(remind=timedelta(minutes=15), escalate=timedelta(hours=1))
    snooze: PositiveDuration = timedelta(minutes=15)
    # leads left new or in call-back this long (since their last change) are closed as stale
    auto_close_after: OptionalDuration = timedelta(days=7)
    # when the daily digest reaches supervisors and stale leads are closed (local time)
    daily_at: time = time(9)

    def steps(self, kind: AlertKind | str) -> AlertSteps:
        return getattr(self, AlertKind(kind).value)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY_AT = re.compile(r"^([a-z]{3})\s+([01]?\d|2[0-3]):([0-5]\d)$")
_NOT_WEEKLY = 'must be a weekday (mon..sun) and a local time, such as "mon 09:00", or "off"'


@dataclass(frozen=True)
class WeeklyAt:
    """A moment of the week in `timezone`: `[reports] weekly_at = "mon 09:00"`."""

    weekday: int  # Monday 0 .. Sunday 6, as date.weekday()
    at: time

    def __str__(self) -> str:
        return f"{_WEEKDAYS[self.weekday]} {self.at:%H:%M}"


def _read_weekly_at(value: Any) -> WeeklyAt | None:
    if isinstance(value, WeeklyAt):
        return value
    if not isinstance(value, str):
        raise ValueError(_NOT_WEEKLY)
    text = value.strip().lower()
    if text == "off":
        return None  # TOML has no null: "off" switches the weekly report off
    found = _WEEKLY_AT.match(text)
    if found is None or found.group(1) not in _WEEKDAYS:
        raise ValueError(_NOT_WEEKLY)
    day, hour, minute = found.groups()
    return WeeklyAt(_WEEKDAYS.index(day), time(int(hour), int(minute)))


class Reports(BaseModel):
    """Reports sent on schedule (bot/reports/weekly.py); the daily digest is `[sla] daily_at`."""

    # when supervisors and admins get last week's report (local time); None: never
    weekly_at: Annotated[WeeklyAt | None, PlainValidator(_read_weekly_at)] = WeeklyAt(0, time(9))


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
BITRIX24_TARGET = "bitrix24"  # the delivery target of the Bitrix24 hand-off: no webhook's name
HAND_OFF_REQUESTS = 4  # a hand-off's requests at most: find and add a contact, then a deal


def _web_address(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// address, not {value[:60]!r}")
    return value


class Webhook(BaseModel):
    """One receiver of events (`[[webhooks]]`): a name (the CLI, the metrics and the admins'
    messages say it), where to POST, which events, and the name of the environment variable
    holding its signing secret. The secret itself never sits in the config file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    url: str
    events: list[str] = Field(min_length=1)
    secret_env: str = Field(pattern=_ENV_NAME)

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "secret" in data:
            raise ValueError(
                "a webhook's secret comes from the environment: write "
                'secret_env = "WEBHOOK_..._SECRET" and put the secret in that variable'
            )
        return data

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == BITRIX24_TARGET:
            raise ValueError(f"{BITRIX24_TARGET!r} is the Bitrix24 hand-off's name: pick another")
        return value

    @field_validator("url")
    @classmethod
    def _address(cls, value: str) -> str:
        return _web_address(value, "a webhook's url")

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        known = {event.value for event in HookEvent}
        for name in value:
            if name != ALL_EVENTS and name not in known:
                listed = ", ".join(sorted(known))
                raise ValueError(f'unknown event {name[:40]!r}: one of {listed}, or "*"')
        return list(dict.fromkeys(value))

    def wants(self, event: str) -> bool:
        return ALL_EVENTS in self.events or event in self.events


class WebhookDelivery(BaseModel):
    """How events are delivered (`[webhook_delivery]`), to every webhook and to Bitrix24: a
    failed attempt is tried again after `first_retry`, each wait half as long again as the one
    before, up to `max_retry`; after `give_up_after` from the event the row is failed and the
    admins are told."""

    first_retry: PositiveDuration = timedelta(seconds=2)
    max_retry: PositiveDuration = timedelta(minutes=10)
    give_up_after: PositiveDuration = timedelta(hours=24)
    timeout: PositiveDuration = timedelta(seconds=10)  # one request, connect to last byte
    claim_lease: PositiveDuration = timedelta(seconds=60)  # an instance holds a row this long
    keep_delivered: PositiveDuration = timedelta(days=7)  # delivered rows are deleted after

    @model_validator(mode="after")
    def _sensible(self) -> WebhookDelivery:
        if self.first_retry > self.max_retry:
            raise ValueError("webhook_delivery: first_retry must not exceed max_retry")
        if self.timeout * HAND_OFF_REQUESTS >= self.claim_lease:
            # a row still being sent when its lease ends could be sent by another instance too
            raise ValueError(
                f"webhook_delivery: claim_lease must be longer than {HAND_OFF_REQUESTS} "
                "timeouts (the Bitrix24 hand-off makes up to that many requests)"
            )
        return self


class Bitrix24(BaseModel):
    """The hand-off of converted leads to Bitrix24 (`[crm.bitrix24]`): on when the table is
    there. The inbound webhook's address holds its key, so it comes from the environment
    variable named here, never from this file."""

    webhook_url_env: str = Field(default="BITRIX24_WEBHOOK_URL", pattern=_ENV_NAME)
    currency_id: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")  # the deal's CURRENCY_ID
    # the deal's STAGE_ID (crm.status.list, ENTITY_ID "DEAL_STAGE"); None: the funnel's first
    stage_id: str | None = Field(default=None, max_length=50)
    # our source -> Bitrix24's SOURCE_ID (crm.status.list, ENTITY_ID "SOURCE"); a source not
    # listed leaves SOURCE_ID to the portal's default and is named in SOURCE_DESCRIPTION
    source_ids: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _no_url_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "webhook_url" in data:
            raise ValueError(
                "the Bitrix24 webhook address holds its key: put it in the environment "
                "(BITRIX24_WEBHOOK_URL, or the variable webhook_url_env names), not in the file"
            )
        return data


class Crm(BaseModel):
    bitrix24: Bitrix24 | None = None


class StaffRules(BaseModel):
    invite_ttl: PositiveDuration = timedelta(hours=48)


# --- follow-up sequences (issue 16: [[sequences]]) ------------------------------------------

SEQUENCE_CONVERTED = "converted"  # the trigger of a sequence after a deal
SEQUENCE_TASKS = ("call_again",)  # what a step may ask the owner to do (labels: sequence_tasks)
_SEQUENCE_NAME = re.compile(r"[a-z0-9_]{1,32}")
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,64}")


class SequenceStep(BaseModel):
    """One step: `after` the previous one (or the trigger), a message to the client (a template
    under templates/<locale>/, with the Yes / Not interested buttons when `buttons`), or a task
    for the lead's owner."""

    after: PositiveDuration
    message: str | None = None
    buttons: bool = False
    task: str | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> SequenceStep:
        if (self.message is None) == (self.task is None):
            raise ValueError("a sequence step is either a `message` or a `task`")
        if self.message is not None and not _TEMPLATE_NAME.fullmatch(self.message):
            raise ValueError(f"message: a template name (a-z, 0-9, _), not {self.message[:40]!r}")
        if self.task is not None and self.task not in SEQUENCE_TASKS:
            raise ValueError(f"task: one of {', '.join(SEQUENCE_TASKS)}, not {self.task[:40]!r}")
        return self


class Sequence(BaseModel):
    """Follow-ups after a lead closes: `trigger` is a refusal reason's code (`timing`,
    `no_answer`...) or `converted`."""

    name: str
    trigger: str
    steps: list[SequenceStep] = Field(min_length=1, max_length=50)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _SEQUENCE_NAME.fullmatch(value):
            raise ValueError(f"a sequence name is 1 to 32 of a-z, 0-9 and _, not {value[:40]!r}")
        return value


def _check_sequences(config: AppConfig) -> AppConfig:
    names = [sequence.name for sequence in config.sequences]
    if len(names) != len(set(names)):
        raise ValueError("sequences: two sequences have the same name")
    known = {reason.code for reason in config.refuse_reasons} | {SEQUENCE_CONVERTED}
    shipped = resources.files("templates")
    for sequence in config.sequences:
        for step in sequence.steps:
            for locale in ("ru", "en") if step.message else ():
                if not shipped.joinpath(locale, f"{step.message}.html.j2").is_file():
                    raise ValueError(
                        f"sequences: {sequence.name}: no template "
                        f"templates/{locale}/{step.message}.html.j2"
                    )
        if sequence.trigger not in known:
            raise ValueError(
                f"sequences: {sequence.name}: trigger {sequence.trigger[:40]!r} is neither "
                "a refuse reason's code nor converted"
            )
    return config


# --- end of follow-up sequences -------------------------------------------------------------
# --- lead score (issue 16) -----------------------------------------------------------------
class ScoringRules(BaseModel):
    """The rule score that stands in until enough leads are closed: `base` points, plus points
    per source, per field present, for a returning client and per keyword in the message."""

    base: int = 30
    sources: dict[str, int] = {}  # a Lead.source -> points (may be negative)
    phone: int = 15
    email: int = 10
    repeat: int = 20
    keywords: dict[str, int] = {}  # a word found in the message (any case) -> points


class Scoring(BaseModel):
    """The lead score ([scoring]; README "Lead score")."""

    # the model stands in for the rules once this many leads are closed (won or lost)
    min_closed: int = Field(default=100, ge=1)
    # a (factor, value) seen on fewer closed leads than this is ignored
    min_support: int = Field(default=10, ge=1)
    # pseudo-leads at the overall rate added to each value: small counts lean to the average
    smoothing: float = Field(default=10.0, gt=0)
    # the most recent closed leads kept out of the counts, to measure the model on (AUC)
    holdout: int = Field(default=500, ge=0)
    # the nightly full recount, in the team's time zone
    recompute_at: time = time(3, 0)
    # the "new leads" list: oldest band of this width first, the highest score first within
    # a band (off: oldest first only)
    list_band: OptionalDuration = timedelta(hours=1)
    rules: ScoringRules = ScoringRules()


# --- end of lead score ----------------------------------------------------------------------
# --- client self-service (issue 16): the services a client picks from, and the slots ---------
SERVICE_CODE_MAX = 24  # a service code rides in a button's callback data


class Service(BaseModel):
    """A service a client may pick when leaving a request in the bot (`[[services]]`)."""

    code: str = Field(pattern=rf"^[a-z0-9_]{{1,{SERVICE_CODE_MAX}}}$")
    ru: str = Field(min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=64)

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.ru


class SelfService(BaseModel):
    """`[self_service]`: the times a client may pick for a call, and how often they may nudge."""

    slot_length: PositiveDuration = timedelta(minutes=30)  # slots start on these boundaries
    notice: Duration = timedelta(minutes=30)  # the earliest slot is at least this far ahead
    days_ahead: int = Field(default=3, ge=1, le=14)  # working days offered (today counts)
    slots_shown: int = Field(default=12, ge=1, le=40)  # buttons in one picker
    nudge_every: PositiveDuration = timedelta(hours=4)  # "Still waiting?" at most this often


# --- end of client self-service ----------------------------------------------------------------


# --- e-mail intake (issue 17, mailin) ---------------------------------------------------------


class EmailIntake(BaseModel):
    """The mailbox watcher ([email]): how often it looks without IDLE, how it retries a
    mailbox that is down, and what of a letter's files reaches Telegram."""

    idle: bool = True  # IMAP IDLE where the server offers it; false: always poll
    poll_every: PositiveDuration = timedelta(seconds=30)  # without IDLE
    idle_renew: PositiveDuration = timedelta(minutes=10)  # RFC 2177: re-issue IDLE within 29m
    retry_first: PositiveDuration = timedelta(seconds=5)  # a mailbox down: first wait, doubling
    retry_max: PositiveDuration = timedelta(minutes=5)
    tell_admins_after: int = Field(default=3, ge=1)  # failed attempts in a row before told
    timeout: PositiveDuration = timedelta(seconds=60)  # one IMAP command
    # on the very first read of a mailbox, letters that arrived longer ago than this are set
    # aside (recorded, never leads); "off": every letter there becomes a lead
    first_start_back: OptionalDuration = timedelta(days=3)
    flag: str = Field(default="$Leadbot", pattern=r"^\\?[A-Za-z$][A-Za-z0-9$_.-]{0,40}$")
    # a letter larger than this is read in part: its headers and the first max_text_bytes
    max_letter_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_text_bytes: int = Field(default=1024 * 1024, ge=1024)
    # files passed on to Telegram as documents (a bot may send 50 MB): larger ones, and those
    # past the letter's total or count, are listed by name and size instead
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=0, le=50 * 1024 * 1024)
    max_files_bytes: int = Field(default=20 * 1024 * 1024, ge=0)
    max_files: int = Field(default=10, ge=0, le=50)


# --- end of e-mail intake --------------------------------------------------------------------
# --- e-mail replies (issue 17) ------------------------------------------------------------------


class EmailDelivery(BaseModel):
    """How a manager's answer by e-mail is sent (`[email_delivery]`): a letter the server did not
    take (no connection, 4xx) is tried again after `first_retry`, each wait twice the one
    before, up to `max_retry`; after `give_up_after` from when it was written it is failed and
    the manager told. A 5xx refusal is a bounce at once."""

    first_retry: PositiveDuration = timedelta(seconds=5)
    max_retry: PositiveDuration = timedelta(minutes=10)
    give_up_after: PositiveDuration = timedelta(hours=24)
    timeout: PositiveDuration = timedelta(seconds=30)  # one letter, connect to the last answer
    claim_lease: PositiveDuration = timedelta(seconds=120)  # an instance holds a letter this long

    @model_validator(mode="after")
    def _sensible(self) -> EmailDelivery:
        if self.first_retry > self.max_retry:
            raise ValueError("email_delivery: first_retry must not exceed max_retry")
        if self.timeout >= self.claim_lease:
            # a letter still being sent when its lease ends could be sent by another instance
            raise ValueError("email_delivery: claim_lease must be longer than timeout")
        return self


# --- end of e-mail replies ----------------------------------------------------------------------


# --- click-to-call (issue 17) -----------------------------------------------------------------
class Telephony(BaseModel):
    """`[telephony]`: the card's 📞 Call (README "Calling a client from the card"). The PBX's
    keys are secrets and come from the environment (ZADARMA_*, MANGO_*); this says which PBX
    rings and how long a press may take."""

    # off: no 📞 Call on the cards; zadarma / mango: that PBX's API; auto: the PBX whose keys
    # are set (Zadarma when both are), no button when neither's are
    click_to_call: Literal["off", "auto", "zadarma", "mango"] = "auto"
    # a second press is refused while a call is being set up: until the PBX reports the call,
    # at most this long (a lost report never blocks the button for good)
    hold: PositiveDuration = timedelta(seconds=60)
    # the PBX's answer is waited for this long; then the press says the PBX is unreachable
    request_timeout: PositiveDuration = timedelta(seconds=10)


# --- end of click-to-call ----------------------------------------------------------------------


class AppConfig(BaseModel):
    """Business rules read from bot/defaults.toml, overridden by LEADBOT_CONFIG."""

    locale: Locale = "ru"
    phone_region: str = "RU"
    timezone: str = "Europe/Moscow"
    currency: str = Field(default="₽", max_length=8)
    junk_reasons: list[Reason]
    refuse_reasons: list[Reason]
    deal_fields: list[DealField]
    routing: Routing = Routing()
    # `in_work`: a lead in work with no step for this long is overdue ("not taken" is
    # [sla.not_taken]: `new` here is read as that, with a warning)
    time_limits: dict[str, Duration] = {}
    telegram: TelegramLimits = TelegramLimits()
    intake: IntakeLimits = IntakeLimits()
    connectors: Connectors = Connectors()
    staff: StaffRules = StaffRules()
    dialogues: Dialogues = Dialogues()
    working_hours: WorkingHours = WorkingHours()
    client_chat: ClientChat = ClientChat()
    sla: Sla = Sla()
    reports: Reports = Reports()
    webhooks: list[Webhook] = []
    webhook_delivery: WebhookDelivery = WebhookDelivery()
    crm: Crm = Crm()
    # follow-up sequences (issue 16); checked against refuse_reasons by _sequences_known
    sequences: list[Sequence] = []
    scoring: Scoring = Scoring()  # lead score (issue 16)
    # client self-service (issue 16): services offered in the bot, slot settings
    services: list[Service] = []
    self_service: SelfService = SelfService()
    email: EmailIntake = EmailIntake()  # e-mail intake's watcher (issue 17)
    email_delivery: EmailDelivery = EmailDelivery()  # e-mail replies (issue 17)
    telephony: Telephony = Telephony()  # click-to-call (issue 17)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: write it like Europe/Moscow") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("deal_fields")
    @classmethod
    def _distinct_fields(cls, value: list[DealField]) -> list[DealField]:
        names = [field.field for field in value]
        if len(names) != len(set(names)):
            raise ValueError("deal_fields: a field is listed twice")
        return value

    @field_validator("webhooks")
    @classmethod
    def _distinct_webhooks(cls, value: list[Webhook]) -> list[Webhook]:
        names = [hook.name for hook in value]
        if len(names) != len(set(names)):
            raise ValueError("webhooks: two webhooks have the same name")
        return value

    @model_validator(mode="after")
    def _sequences_known(self) -> AppConfig:
        return _check_sequences(self)

    def sequences_for(self, trigger: str) -> list[Sequence]:
        """The sequences a lead enters when `trigger` happens (a refuse reason, converted)."""
        return [sequence for sequence in self.sequences if sequence.trigger == trigger]

    def sequence(self, name: str) -> Sequence | None:
        return next((sequence for sequence in self.sequences if sequence.name == name), None)

    @field_validator("services")
    @classmethod
    def _distinct_services(cls, value: list[Service]) -> list[Service]:
        codes = [service.code for service in value]
        if len(codes) != len(set(codes)):
            raise ValueError("services: a code is listed twice")
        return value

    def service(self, code: str) -> Service | None:
        return next((service for service in self.services if service.code == code), None)

    def junk_reason(self, code: str) -> Reason | None:
        return next((reason for reason in self.junk_reasons if reason.code == code), None)

    def reasons(self, outcome: str) -> list[Reason]:
        """The pick list for closing a lead: "junk" (not our client) or "refuse" (said no)."""
        return self.junk_reasons if outcome == "junk" else self.refuse_reasons

    def close_reason(self, outcome: str, code: str) -> Reason | None:
        return next((reason for reason in self.reasons(outcome) if reason.code == code), None)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Keys that were renamed: (old section, old key) -> (new section path, new key). The old key
# is still read, with a one-line warning naming the new one.
RENAMED = {
    ("time_limits", "new"): (("sla", "not_taken"), "remind"),
}


def _renamed_keys(data: dict[str, Any]) -> dict[str, Any]:
    """An operator's file (or overrides) with renamed keys moved to their new place; the new
    key wins when both are given."""
    moved = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    for (section, old), (path, new) in RENAMED.items():
        if not isinstance(moved.get(section), dict) or old not in moved[section]:
            continue
        value = moved[section].pop(old)
        where = ".".join(path)
        log.warning(
            "config: [%s] %s is now [%s] %s; it is read as that (write the new key)",
            section,
            old,
            where,
            new,
        )
        target = moved
        for part in path:
            target[part] = dict(target.get(part) or {})
            target = target[part]
        target.setdefault(new, value)
    return moved


def load_app_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> AppConfig:
    data = tomllib.loads(resources.files("bot").joinpath("defaults.toml").read_text("utf-8"))
    if path is not None:
        try:
            data = _merge(data, _renamed_keys(tomllib.loads(Path(path).read_text("utf-8"))))
        except FileNotFoundError as exc:
            raise ConfigError(f"LEADBOT_CONFIG file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"LEADBOT_CONFIG {path} is not valid TOML: {exc}") from exc
    if overrides:
        data = _merge(data, _renamed_keys(overrides))
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"config: {where}: {message}" if where else f"config: {message}") from exc
    except ValueError as exc:  # a zone that does not exist, ...
        raise ConfigError(f"config: {str(exc).splitlines()[0]}") from exc


@cache
def default_config() -> AppConfig:
    """The shipped defaults alone (for callers that were given no configuration)."""
    return load_app_config()


_BITRIX24_URL = re.compile(r"^https?://[^/\s]+/(?:[^\s]*/)?rest/\d+/[^/\s]+/?$")


@dataclass(frozen=True)
class OutboundSecrets:
    """The secrets of outbound delivery, read from the environment (or .env) at start: each
    webhook's signing secret by its name, and the Bitrix24 webhook address (it holds a key)."""

    webhooks: dict[str, SecretStr] = field(default_factory=dict)
    bitrix24_url: SecretStr | None = None

    def values(self) -> list[str]:
        """Every secret, for the logs to redact."""
        found = [secret.get_secret_value() for secret in self.webhooks.values()]
        if self.bitrix24_url is not None:
            found.append(self.bitrix24_url.get_secret_value())
        return found


def environment_value(
    name: str, environ: Mapping[str, str] | None = None, env_file: str | Path = ".env"
) -> str | None:
    """A variable from the environment, else from .env (as Settings reads its own); blank is
    not set."""
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None and Path(env_file).is_file():
        value = dotenv_values(env_file).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def outbound_secrets(
    config: AppConfig, environ: Mapping[str, str] | None = None, env_file: str | Path = ".env"
) -> OutboundSecrets:
    """Every secret the configured webhooks and the Bitrix24 hand-off need; a missing or
    malformed one stops the start with a one-line ConfigError naming the variable."""
    hooks: dict[str, SecretStr] = {}
    for hook in config.webhooks:
        secret = environment_value(hook.secret_env, environ, env_file)
        if secret is None:
            raise ConfigError(
                f"webhook {hook.name!r}: the environment variable {hook.secret_env} "
                "(its signing secret) is not set"
            )
        if len(secret) < 16:
            raise ConfigError(
                f"webhook {hook.name!r}: {hook.secret_env} is too short for a signing secret "
                "(16 characters at least; openssl rand -hex 32 makes a good one)"
            )
        hooks[hook.name] = SecretStr(secret)
    bitrix24 = config.crm.bitrix24
    url = None
    if bitrix24 is not None:
        name = bitrix24.webhook_url_env
        address = environment_value(name, environ, env_file)
        if address is None:
            raise ConfigError(f"[crm.bitrix24] is on but {name} (its webhook address) is not set")
        if not _BITRIX24_URL.match(address):
            raise ConfigError(
                f"{name} must look like https://<portal>/rest/<user id>/<key>/ "
                "(Bitrix24: Developer resources > Other > Inbound webhook)"
            )
        url = SecretStr(address.rstrip("/") + "/")
    return OutboundSecrets(hooks, url)
