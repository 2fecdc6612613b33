"""The buttons of an escalation: Reassign (the card's picker), Take over, Snooze; and which
buttons a reminder or escalation message shows as its matter stands."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import labels
from bot.config import AlertKind, AppConfig
from bot.leads.cards import CardAction, CardView
from bot.sla.alerts import AlertSubject
from bot.sla.deadlines import Step
from handlers.keyboards.lead import LeadButton, card_keyboard


class EscalationChoice(enum.StrEnum):
    TAKE_OVER = "own"
    SNOOZE = "snz"


class EscalationButton(CallbackData, prefix="esc"):
    """`esc:snz:42:7:answer:2:15`: on lead 42 (at version 7), the `answer` limit escalated
    at level 2, about task 15 (0: the lead's own limit)."""

    choice: EscalationChoice
    lead_id: int
    version: int
    kind: AlertKind
    level: int
    task_id: int = 0


def escalation_keyboard(
    lead_id: int,
    version: int,
    subject: AlertSubject,
    config: AppConfig,
    locale: str,
    may_take_over: bool = True,
) -> InlineKeyboardMarkup:
    """Reassign / Take over / Snooze; without Take over for a reader who works no leads (an
    admin), whose press would only be refused."""
    names = labels(locale)["buttons"]
    minutes = int(config.sla.snooze.total_seconds() // 60)
    builder = InlineKeyboardBuilder()
    reassign = LeadButton(action=CardAction.REASSIGN, lead_id=lead_id)  # the usual picker
    builder.button(text=names["reassign"], callback_data=reassign)
    snooze_label = names["snooze"].replace("15", str(minutes))
    choices = [(EscalationChoice.TAKE_OVER, names["take_over"])] if may_take_over else []
    for choice, label in [*choices, (EscalationChoice.SNOOZE, snooze_label)]:
        builder.button(
            text=label,
            callback_data=EscalationButton(
                choice=choice,
                lead_id=lead_id,
                version=version,
                kind=subject.kind,
                level=subject.level,
                task_id=subject.task_id or 0,
            ),
        )
    builder.adjust(1)
    return builder.as_markup()


def alert_keyboard(
    subject: AlertSubject,
    pending: bool,
    view: CardView,
    version: int,
    config: AppConfig,
    locale: str,
    may_take_over: bool,
) -> InlineKeyboardMarkup | None:
    """The buttons of a reminder or escalation message: none once its matter is settled; an
    escalation's own while pending; a reminder's are the card's (its reader acts on the lead)."""
    if not pending:
        return None
    if subject.step is Step.ESCALATE:
        return escalation_keyboard(view.lead_id, version, subject, config, locale, may_take_over)
    return card_keyboard(view, locale)
