"""Qualifying and converting a lead: the fields the configuration requires, read from what a
manager types, checked, and saved with the change in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.contacts import InvalidContactField, display_phone, normalise_email, normalise_phone
from bot.common.lifecycle import Action
from bot.config import LEAD_COLUMNS, SEQUENCE_CONVERTED, AppConfig, DealField, FieldKind
from bot.leads.actions import ActionResult, Refusal, apply_action, close_open_tasks, load_lead
from bot.sequences.enrol import enrol
from storage.models import Contact, Lead, Staff

MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
_AMOUNT_NOISE = re.compile(r"[\s\u00a0\u202f'_]|(?:руб\.?|р\.|₽|rub|\$|€)$", re.IGNORECASE)


class UnreadableAnswer(ValueError):
    """What was typed is not a value of the field's kind; the dialogue asks again."""

    def __init__(self, field: DealField) -> None:
        super().__init__(field.field)
        self.field = field


Answers = dict[str, Any]  # DealField.field -> value as stored (str, or Decimal for amounts)


def read_answer(field: DealField, text: str, phone_region: str) -> Any:
    """The value of `field` in what a manager typed, as it will be stored."""
    text = text.strip()
    if not text:
        raise UnreadableAnswer(field)
    try:
        if field.kind is FieldKind.PHONE:
            return normalise_phone(text, phone_region)
        if field.kind is FieldKind.EMAIL:
            return normalise_email(text)
    except InvalidContactField as exc:
        raise UnreadableAnswer(field) from exc
    if field.kind is FieldKind.AMOUNT:
        return read_amount(field, text)
    if len(text) > field.max_length:
        raise UnreadableAnswer(field)
    return text


def read_amount(field: DealField, text: str) -> Decimal:
    """`150 000`, `150000,50`, `1 500 ₽`: a non-negative amount with at most two decimals."""
    cleaned = _AMOUNT_NOISE.sub("", text).replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise UnreadableAnswer(field) from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise UnreadableAnswer(field)
    if amount != amount.quantize(Decimal("0.01")):
        raise UnreadableAnswer(field)
    return abs(amount).quantize(Decimal("0.01"))  # abs: "-0" is a plain zero


def current_value(lead: Lead, field: DealField) -> Any:
    if field.field in LEAD_COLUMNS:
        return getattr(lead, field.field)
    return (lead.extra or {}).get(field.field)


def shown_value(field: DealField, value: Any) -> str:
    """A stored value as the dialogue shows it back."""
    if field.kind is FieldKind.PHONE:
        return display_phone(str(value))
    if field.kind is FieldKind.AMOUNT:
        return format_amount(Decimal(value))
    return str(value)


def format_amount(amount: Decimal) -> str:
    """150 000 or 150 000.50: digits grouped the way both languages read them on a phone."""
    whole = f"{amount:,.2f}".replace(",", "\u202f")
    return whole.removesuffix(".00")


def missing_fields(lead: Lead, fields: list[DealField], answers: Answers) -> list[DealField]:
    """Required fields that neither the lead nor the answers fill."""
    return [
        field
        for field in fields
        if field.required
        and answers.get(field.field) in (None, "")
        and current_value(lead, field) in (None, "")
    ]


@dataclass(frozen=True)
class Plan:
    """The steps of one dialogue: which fields to ask, in order."""

    fields: list[DealField]
    missing: list[DealField]


def dialogue_fields(lead: Lead, config: AppConfig, converting: bool) -> Plan:
    """Qualify walks every field, each pre-filled; Convert asks only what conversion lacks,
    plus the amount (optional, so a deal can be recorded without one)."""
    missing = missing_fields(lead, config.deal_fields, {})
    if not converting:
        return Plan(list(config.deal_fields), missing)
    wanted = {field.field for field in missing}
    steps = [
        field
        for field in config.deal_fields
        if field.field in wanted or field.kind is FieldKind.AMOUNT
    ]
    return Plan(steps, missing)


def _lead_values(lead: Lead, answers: Answers) -> dict[str, Any]:
    """Answers as column values; fields that are not columns join the lead's extra."""
    values = {name: value for name, value in answers.items() if name in LEAD_COLUMNS}
    extra = {name: value for name, value in answers.items() if name not in LEAD_COLUMNS}
    if extra:
        values["extra"] = {**(lead.extra or {}), **extra}
    return values


def _event_data(answers: Answers) -> dict[str, Any]:
    return {"fields": {name: str(value) for name, value in answers.items()}}


async def _fill_contact(session: AsyncSession, lead: Lead, answers: Answers) -> None:
    """A contact learns what it lacked (never overwritten), so the client is recognised when
    they come back by that phone or e-mail."""
    if lead.contact_id is None:
        return
    for name in ("name", "phone", "email"):
        if answers.get(name):
            await session.execute(
                update(Contact)
                .where(Contact.id == lead.contact_id, getattr(Contact, name).is_(None))
                .values({name: answers[name]})
            )


async def qualify_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    answers: Answers,
    now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """Save what the manager filled in; the lead keeps its status."""
    lead = await load_lead(session, lead_id)
    values = _lead_values(lead, answers) if lead is not None else {}

    async def contact_learns(saved: Lead) -> None:
        await _fill_contact(session, saved, answers)

    return await apply_action(
        session,
        lead_id,
        actor,
        Action.QUALIFY,
        now,
        values=values,
        event=_event_data(answers),
        event_kind="qualified",
        then=contact_learns,
        config=config,
    )


async def convert_lead(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    answers: Answers,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    """A deal: refused, naming the fields, while a required one is empty."""
    lead = await load_lead(session, lead_id)
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    missing = missing_fields(lead, config.deal_fields, answers)
    if missing:
        await session.commit()
        return ActionResult(
            lead, Refusal.MISSING_FIELDS, missing=tuple(field.field for field in missing)
        )
    values = {**_lead_values(lead, answers), "closed_at": now}
    amount = answers.get("amount", lead.amount)
    event = {**_event_data(answers), **({"amount": str(amount)} if amount is not None else {})}

    async def deal_closes(saved: Lead) -> None:
        await _fill_contact(session, saved, answers)
        await close_open_tasks(session, saved.id, now)
        await enrol(session, saved, SEQUENCE_CONVERTED, now, config)  # follow-ups after a deal

    return await apply_action(
        session,
        lead_id,
        actor,
        Action.CONVERT,
        now,
        values=values,
        event=event,
        then=deal_closes,
        config=config,
    )
